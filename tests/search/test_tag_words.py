"""Tags are searchable words (issue: Chinese-first quality, item 4): the notes schema copies
``tags`` into ``tag_words`` (a text field, not stored, boost 0.5)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zhisou import Index, Schema
from zhisou.errors import SchemaError
from zhisou.schema import FieldSpec

NOTES = [
    {"id": "tagged", "title": "慢查询日志", "body": "打开 slow_query_log。", "tags": ["排障", "mysql"]},
    {"id": "titled", "title": "排障手册", "body": "先看监控，再看日志。", "tags": ["运维"]},
    {"id": "other", "title": "缓存", "body": "缓存命中率。", "tags": ["性能"]},
]


def test_a_tag_finds_its_notes_below_title_and_body_matches(make_index: Callable[..., Index]) -> None:
    index = make_index(NOTES, Schema.default())
    found = index.search("排障")
    assert found.ids == ["titled", "tagged"]
    assert index.search("mysql").ids == ["tagged"]
    assert index.get("tagged")["tags"] == ["排障", "mysql"] and "tag_words" not in index.get("tagged")
    assert index.search("", filters={"tags": ["排障"]}).ids == ["tagged"]  # still a keyword filter


def test_a_boosted_copy_can_rank_tags_first(make_index: Callable[..., Index]) -> None:
    fields = [
        f if f.name != "tag_words" else FieldSpec("tag_words", "text", boost=8.0, stored=False, copy_from="tags")
        for f in Schema.default().fields
    ]
    index = make_index(NOTES, Schema(tuple(fields)))
    assert index.search("排障").ids[0] == "tagged"


def test_copy_from_is_checked() -> None:
    with pytest.raises(SchemaError, match="stored"):
        FieldSpec("w", "text", copy_from="tags")
    with pytest.raises(SchemaError, match="not a text or keyword field"):
        Schema((FieldSpec("body", "text"), FieldSpec("w", "text", stored=False, copy_from="nope")))
    assert Schema.from_dict(Schema.default().to_dict()) == Schema.default()
