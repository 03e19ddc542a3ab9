"""One module renders a hit for the CLI, the API and the pages: roles come from the schema."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from zhisou import Index, Schema
from zhisou.cli import app
from zhisou.schema import FieldSpec
from zhisou.search.hits import CardFields, card, snippet
from zhisou.search.results import Hit

CUSTOM = Schema((FieldSpec("headline", "text", boost=2.0), FieldSpec("content", "text"), FieldSpec("when", "date")))


def test_roles_come_from_the_schema() -> None:
    assert CardFields.of(Schema.default()) == CardFields(title="title", body="body", date="date", tags="tags")
    assert CardFields.of(CUSTOM) == CardFields(title="headline", body="content", date="when", tags=None)
    one_field = Schema((FieldSpec("text", "text"),))
    assert CardFields.of(one_field) == CardFields(title=None, body="text", date=None, tags=None)


def test_card_and_snippet() -> None:
    fields = CardFields.of(Schema.default())
    hit = Hit(
        "n1", 1.23456, 1, {"title": "倒排索引", "body": "正文 " * 200, "tags": ["ir"]}, {"title": "<mark>倒排</mark>"}
    )
    shown = card(hit, fields)
    assert shown["title"] == "倒排索引" and shown["tags"] == ["ir"] and shown["score"] == 1.2346
    assert len(shown["excerpt"]) <= 160
    assert snippet(hit, fields).startswith("正文")  # the title's highlight is not a snippet
    hit.highlights["body"] = "a <mark>body</mark> match"
    assert snippet(hit, fields) == "a <mark>body</mark> match"
    assert fields.title_of(Hit("x", 0, 1, {})) == "x"


def test_the_cli_shows_a_custom_schemas_fields(tmp_path: Path) -> None:
    index = Index.create(tmp_path / "ix", CUSTOM)
    index.add({"id": "c1", "headline": "Custom headline", "content": "the zebracorn lives in custom content"})
    index.commit()
    index.close()
    for query in ("zebracorn", "headline"):  # a match in the body field, then only in the headline
        result = CliRunner().invoke(app, ["search", query, "-i", str(tmp_path / "ix")])
        assert result.exit_code == 0
        assert "1. Custom headline" in result.stdout, query
        assert "zebracorn lives in custom content" in result.stdout, query
