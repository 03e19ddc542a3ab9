"""Query parser: user text → ``Query`` tree. Errors carry the character position.

Grammar (AND binds tighter than OR; juxtaposition uses the default operator)::

    query    := or_expr
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := clauses ("AND" clauses)*
    clauses  := clause+
    clause   := ("+" | "-" | "NOT ") clause | primary ["~" [n]] ["^" boost]
    primary  := "(" or_expr ")" | field ":" value | value
    value    := '"phrase"' | word | word* | range        (ranges only after a field)
    range    := "[" lo "TO" hi "]" | "{" lo "TO" hi "}" | (">=" | ">" | "<=" | "<") bound

``field:`` counts only for fields of the schema; otherwise the colon is ordinary text.
``^`` followed by a number (``bm25^2``, ``"倒排 索引"^0.5``, ``(a b)^3``) multiplies the clause's
score, as in Lucene; a ``^`` followed by anything else is ordinary text (``x^y``). ``~`` ending a
word makes it fuzzy (``lucene~``: the indexed words within Elasticsearch's AUTO edits — none up to
2 characters, 1 up to 5, 2 beyond; ``lucene~1``: one edit), ending a phrase allows that many
position moves (``"bm25 ranking"~3``); a ``~`` inside a word is ordinary text.
Clauses on keyword, date and number fields are filters: they restrict, they don't score;
words next to filters must still match (``bm25 tags:llm`` is bm25 among the llm notes).

A Chinese input method types the syntax full-width: ``“倒排 索引”`` (curly or full-width quotes)
is a phrase, ``（a OR b）`` a group, ``title：bm25`` a field, ``＋a －b`` required and excluded
words, exactly as their ASCII forms (``IME_SYNTAX``; positions in errors are unchanged).

Every query is answered or refused in bounded time: at most ``MAX_QUERY_CHARS`` characters,
parentheses nested at most ``MAX_DEPTH`` deep, at most ``MAX_CLAUSES`` clauses (Lucene's
default ``maxClauseCount``), each limit a ``QuerySyntaxError`` that says which.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from zhisou.errors import QuerySyntaxError
from zhisou.search.query import BooleanQuery, MatchAllQuery, PhraseQuery, Query, RangeQuery, TermQuery
from zhisou.values import date_span, parse_number

Occur = Literal["must", "should", "must_not", "filter"]
_STOP_CHARS = set('()"') | {" ", "\t", "\n", "\r", "\u3000"}
KEYWORDS = ("AND", "OR", "NOT")
MAX_QUERY_CHARS = 10_000
MAX_DEPTH = 32
MAX_CLAUSES = 1024
MAX_BOOST = 10_000.0
MAX_EDITS = 2  # fuzzy words: Lucene's limit
MAX_FUZZY_EXPANSIONS = 50  # indexed words a fuzzy word stands for, closest first (Lucene's default)
MAX_SLOP = 100
_BOOST_START = set("0123456789.")


@dataclass(frozen=True)
class FieldInfo:
    type: str  # text | keyword | date | number


# What a Chinese input method types for the syntax characters: one character for one, so every
# position stays where it was. Not ～ (a range in Chinese prose, 10～20) nor 「」 (quotation marks
# in prose, not a request to match words together).
IME_SYNTAX = str.maketrans({"“": '"', "”": '"', "＂": '"', "（": "(", "）": ")", "：": ":", "＋": "+", "－": "-"})
_IME_CHARS = re.compile("[" + re.escape("".join(map(chr, IME_SYNTAX))) + "]")


def _ascii_syntax(text: str) -> str:
    """``text`` with its input-method syntax as ASCII; looked for first (a search is ~0.1 µs, a
    translation ~0.9 µs of a 4 µs parse, and most queries hold none)."""
    return text.translate(IME_SYNTAX) if _IME_CHARS.search(text) else text


class _Parser:
    def __init__(
        self, text: str, fields: Mapping[str, FieldInfo], default_operator: str, strict_fields: bool = False
    ) -> None:
        self.typed = text  # shown in errors as the user wrote it
        self.text = _ascii_syntax(text)
        self.strict_fields = strict_fields
        self.pos = 0
        self.fields = fields
        self.default_and = default_operator == "and"
        self.depth = 0
        self.clauses = 0

    # -- helpers -------------------------------------------------------------------------------
    def error(self, message: str, position: int | None = None) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.typed, self.pos if position is None else position)

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def peek_keyword(self) -> str | None:
        self.skip_ws()
        for keyword in KEYWORDS:
            end = self.pos + len(keyword)
            if self.text.startswith(keyword, self.pos) and (
                end >= len(self.text) or self.text[end].isspace() or self.text[end] in '("'
            ):
                return keyword
        return None

    # -- grammar -------------------------------------------------------------------------------
    def parse(self) -> Query:
        if self.at_end():
            return MatchAllQuery()
        query = self.parse_or(None)
        if not self.at_end():
            raise self.error(f"unexpected {self.text[self.pos]!r}; remove it or balance the parentheses")
        return query

    def parse_or(self, field: str | None) -> Query:
        items = [self.parse_and(field)]
        while self.peek_keyword() == "OR":
            self.pos += 2
            self.expect_operand("OR")
            items.append(self.parse_and(field))
        return items[0] if len(items) == 1 else BooleanQuery(should=tuple(items))

    def parse_and(self, field: str | None) -> Query:
        items = [self.parse_clauses(field)]
        while self.peek_keyword() == "AND":
            self.pos += 3
            self.expect_operand("AND")
            items.append(self.parse_clauses(field))
        if len(items) == 1:
            return items[0]
        return BooleanQuery(must=tuple(items))

    def expect_operand(self, operator: str) -> None:
        if self.at_end() or self.text[self.pos] == ")" or self.peek_keyword() in ("AND", "OR"):
            raise self.error(f"{operator} needs a search term after it")

    def parse_clauses(self, field: str | None) -> Query:
        clauses: list[tuple[Occur, Query]] = []
        while not self.at_end() and self.text[self.pos] != ")" and self.peek_keyword() not in ("AND", "OR"):
            clauses.append(self.parse_clause(field))
        if not clauses:
            if self.at_end():
                raise self.error("expected a search term")
            keyword = self.peek_keyword()
            if keyword is not None:
                raise self.error(f"{keyword} needs a search term before it")
            raise self.error(f"expected a search term before {self.text[self.pos]!r}")
        if len(clauses) == 1 and clauses[0][0] != "must_not":
            return clauses[0][1]
        groups: dict[Occur, list[Query]] = {"must": [], "should": [], "must_not": [], "filter": []}
        for occur, query in clauses:
            groups[occur].append(query)
        # Free text next to filters still has to match: "bm25 tags:llm" means bm25 within llm.
        required = 1 if groups["should"] and groups["filter"] and not groups["must"] else 0
        return BooleanQuery(
            must=tuple(groups["must"]),
            should=tuple(groups["should"]),
            must_not=tuple(groups["must_not"]),
            filter=tuple(groups["filter"]),
            minimum_should_match=required,
        )

    def parse_clause(self, field: str | None) -> tuple[Occur, Query]:
        start = self.pos
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise self.error(f"more than {MAX_CLAUSES} clauses; shorten the query")
        occur: Occur | None = None
        char = self.text[self.pos]
        if char in "+-":
            self.pos += 1
            if self.pos >= len(self.text) or self.text[self.pos].isspace():
                raise self.error(f"{char!r} must be followed directly by a term", start)
            occur = "must" if char == "+" else "must_not"
        elif self.peek_keyword() == "NOT":
            self.pos += 3
            if self.at_end():
                raise self.error("NOT needs a search term after it")
            occur = "must_not"
        query = self.parse_boost(self.parse_tilde(self.parse_primary(field), start), start)
        if occur is None:
            occur = "filter" if self.is_filter(query) else ("must" if self.default_and else "should")
        elif occur == "must" and self.is_filter(query):
            occur = "filter"
        return occur, query

    def tilde_follows(self, at: int | None = None) -> bool:
        """Whether a fuzzy or proximity mark starts here: a ``~`` ending a word or phrase, or
        followed by digits."""
        at = self.pos if at is None else at
        if at >= len(self.text) or self.text[at] != "~":
            return False
        following = self.text[at + 1 : at + 2]
        return not following or following in _STOP_CHARS or following in "^0123456789"

    def parse_tilde(self, query: Query, start: int) -> Query:
        if not self.tilde_follows():
            return query
        tilde = self.pos
        self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos] in "0123456789":
            self.pos += 1
        if self.pos < len(self.text) and self.text[self.pos] not in _STOP_CHARS and not self.boost_follows():
            raise self.error("'~' takes a whole number, like lucene~1 or \"a b\"~3", tilde)
        digits = self.text[tilde + 1 : self.pos]
        # A number past what either limit allows is compared by its length: Python refuses to
        # convert more than 4,300 digits, and a query may hold 10,000 characters.
        number = (int(digits) if len(digits.lstrip("0")) <= 6 else MAX_SLOP + 1) if digits else 0
        if isinstance(query, PhraseQuery):
            if not digits:
                raise self.error("a phrase's '~' needs a number of positions, like \"a b\"~3", tilde)
            if number > MAX_SLOP:
                raise self.error(f"a phrase's slop is at most {MAX_SLOP} positions", tilde)
            return dataclasses.replace(query, slop=number)
        if not isinstance(query, TermQuery) or query.prefix or self.is_filter(query):
            raise self.error("'~' follows a word (fuzzy) or a \"phrase\" (proximity), not this clause", tilde)
        edits = number if digits else auto_edits(query.text)
        if edits > MAX_EDITS:
            raise self.error(f"a fuzzy word allows at most {MAX_EDITS} edits, like lucene~2", tilde)
        # A fuzzy word searches up to MAX_FUZZY_EXPANSIONS words: it counts as that many clauses
        # (Lucene counts a rewritten query's clauses against the same limit).
        self.clauses += MAX_FUZZY_EXPANSIONS - 1 if edits else 0
        if self.clauses > MAX_CLAUSES:
            raise self.error(
                f"more than {MAX_CLAUSES} clauses (a fuzzy word counts as {MAX_FUZZY_EXPANSIONS}); shorten the query",
                tilde,
            )
        return dataclasses.replace(query, fuzzy=edits)

    def boost_follows(self, at: int | None = None) -> bool:
        """Whether a boost starts here (or at ``at``): a ``^`` with a digit or a point right after it."""
        at = self.pos if at is None else at
        return at + 1 < len(self.text) and self.text[at] == "^" and self.text[at + 1] in _BOOST_START

    def parse_boost(self, query: Query, start: int) -> Query:
        if not self.boost_follows():
            return query
        caret = self.pos
        self.pos += 1
        while self.pos < len(self.text) and self.text[self.pos] in _BOOST_START:
            self.pos += 1
        if self.pos < len(self.text) and self.text[self.pos] not in _STOP_CHARS:
            raise self.error("a boost is a number after '^', like bm25^2 or bm25^0.5", caret)
        try:
            value = float(self.text[caret + 1 : self.pos])
        except ValueError:
            raise self.error("a boost is a number after '^', like bm25^2 or bm25^0.5", caret) from None
        if not 0.0 < value <= MAX_BOOST:
            raise self.error(f"a boost must be above 0 and at most {MAX_BOOST:g}", caret)
        if isinstance(query, RangeQuery | MatchAllQuery) or self.is_filter(query):
            raise self.error("this clause is a filter (it does not score): a boost has no effect on it", start)
        assert isinstance(query, TermQuery | PhraseQuery | BooleanQuery)
        return dataclasses.replace(query, boost=query.boost * value)

    def is_filter(self, query: Query) -> bool:
        if isinstance(query, RangeQuery):
            return True
        if isinstance(query, TermQuery | PhraseQuery) and query.field is not None:
            return self.fields[query.field].type != "text"
        return False

    def parse_primary(self, field: str | None) -> Query:
        self.skip_ws()
        start = self.pos
        char = self.text[self.pos]
        if char == "(":
            self.pos += 1
            if self.at_end() or self.text[self.pos] == ")":
                raise self.error("empty parentheses; put a search term inside", start)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"parentheses nested more than {MAX_DEPTH} deep; simplify the query", start)
            query = self.parse_or(field)
            self.depth -= 1
            if self.at_end() or self.text[self.pos] != ")":
                raise self.error("missing ')' for the '(' opened here", start)
            self.pos += 1
            return query
        if char == ")":
            raise self.error("unexpected ')'; no '(' is open")
        if char == '"':
            return self.parse_phrase(field)
        name_end = self.pos
        while name_end < len(self.text) and (self.text[name_end].isalnum() or self.text[name_end] in "_-"):
            name_end += 1
        name = self.text[self.pos : name_end]
        if field is None and name_end < len(self.text) and self.text[name_end] == ":":
            if name in self.fields:
                self.pos = name_end + 1
                return self.parse_field_value(name, start)
            if self.strict_fields and name:  # scanned as a field name is (letters, digits, _ -)
                known = ", ".join(self.fields) or "none"
                raise self.error(f"unknown filter field {name!r}; fields: {known}", start)
        return self.parse_word(field)

    def parse_field_value(self, field: str, start: int) -> Query:
        if self.pos >= len(self.text) or self.text[self.pos].isspace():
            raise self.error(f"{field}: needs a value right after the colon", start)
        char = self.text[self.pos]
        info = self.fields[field]
        if char in "[{":
            return self.parse_bracket_range(field, info)
        if char in "<>":
            return self.parse_comparison(field, info)
        if char == "(":
            return self.parse_primary(field)
        if char == '"':
            return self.parse_phrase(field)
        return self.parse_word(field)

    def parse_phrase(self, field: str | None) -> Query:
        start = self.pos
        self.pos += 1
        chars: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] != '"':
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1
            chars.append(self.text[self.pos])
            self.pos += 1
        if self.pos >= len(self.text):
            raise self.error("unterminated phrase: add the closing '\"'", start)
        self.pos += 1
        phrase = "".join(chars).strip()
        if not phrase:
            raise self.error("empty phrase", start)
        if field is not None and self.fields[field].type == "keyword":
            return TermQuery(phrase, field)
        if field is not None and self.fields[field].type in ("date", "number"):
            return self.exact_range(field, phrase, start)
        return PhraseQuery(phrase, field)

    def read_word(self) -> tuple[str, bool]:
        """A run of non-space text (backslash escapes); returns (text, ends with unescaped '*')."""
        chars: list[str] = []
        prefix = False
        while self.pos < len(self.text) and self.text[self.pos] not in _STOP_CHARS:
            char = self.text[self.pos]
            if char in "^~" and (chars or prefix) and (self.boost_follows() or self.tilde_follows()):
                break  # a boost or fuzzy mark ends the word
            if char == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1
                chars.append(self.text[self.pos])
            elif char == "*" and (
                self.pos + 1 >= len(self.text)
                or self.text[self.pos + 1] in _STOP_CHARS
                or self.boost_follows(self.pos + 1)
                or self.tilde_follows(self.pos + 1)
            ):
                prefix = True
            else:
                chars.append(char)
            self.pos += 1
        return "".join(chars), prefix

    def parse_word(self, field: str | None) -> Query:
        start = self.pos
        word, prefix = self.read_word()
        if not word and prefix and field is None:
            return MatchAllQuery()  # a bare * matches every document, as in Lucene's query syntax
        if not word:
            raise self.error("'*' needs a prefix before it, like index*" if prefix else "expected a search term", start)
        if field is not None and self.fields[field].type in ("date", "number"):
            if prefix:
                raise self.error(f"{field} is a {self.fields[field].type} field; prefixes work on text", start)
            return self.exact_range(field, word, start)
        return TermQuery(word, field, prefix)

    def check_bound(self, field: str, info: FieldInfo, value: str, position: int) -> None:
        try:
            if info.type == "date":
                date_span(value)
            else:
                parse_number(value)
        except ValueError as exc:
            raise self.error(f"{field}: {exc}", position) from None

    def exact_range(self, field: str, value: str, position: int) -> RangeQuery:
        self.check_bound(field, self.fields[field], value, position)
        return RangeQuery(field, value, value, True, True)

    def parse_comparison(self, field: str, info: FieldInfo) -> RangeQuery:
        start = self.pos
        if info.type not in ("date", "number"):
            raise self.error(f"{field} is a {info.type} field; comparisons need a date or number field", start)
        operator = self.text[self.pos]
        self.pos += 1
        inclusive = self.pos < len(self.text) and self.text[self.pos] == "="
        if inclusive:
            self.pos += 1
        value_start = self.pos
        value, _ = self.read_word()
        if not value:
            raise self.error(f"{field}:{operator}{'=' if inclusive else ''} needs a value", value_start)
        self.check_bound(field, info, value, value_start)
        if operator == ">":
            return RangeQuery(field, value, None, inclusive, True)
        return RangeQuery(field, None, value, True, inclusive)

    def parse_bracket_range(self, field: str, info: FieldInfo) -> RangeQuery:
        start = self.pos
        if info.type not in ("date", "number"):
            raise self.error(f"{field} is a {info.type} field; ranges need a date or number field", start)
        include_lower = self.text[self.pos] == "["
        self.pos += 1
        bounds: list[str | None] = []
        for expected_end in ("TO", "]}"):
            self.skip_ws()
            value_start = self.pos
            chars = []
            while self.pos < len(self.text) and not self.text[self.pos].isspace() and self.text[self.pos] not in "]}":
                chars.append(self.text[self.pos])
                self.pos += 1
            value = "".join(chars)
            if not value:
                raise self.error(f"range on {field} needs two bounds: [low TO high]", value_start)
            if value != "*":
                self.check_bound(field, info, value, value_start)
            bounds.append(None if value == "*" else value)
            self.skip_ws()
            if expected_end == "TO":
                if not self.text.startswith("TO", self.pos):
                    raise self.error("expected TO between the range bounds", self.pos)
                self.pos += 2
            else:
                if self.pos >= len(self.text) or self.text[self.pos] not in "]}":
                    raise self.error("range is not closed: add ']' or '}'", start)
                include_upper = self.text[self.pos] == "]"
                self.pos += 1
        return RangeQuery(field, bounds[0], bounds[1], include_lower, include_upper)


def parse_query(
    text: str,
    fields: Mapping[str, FieldInfo] | None = None,
    *,
    default_operator: Literal["or", "and"] = "or",
) -> Query:
    """Parse ``text``; raises ``QuerySyntaxError`` (with ``position``) when it is malformed."""
    check_operator(default_operator)
    check_length(text)
    if _plain_words(_ascii_syntax(text)) is not None:
        return plain_query(text, default_operator=default_operator)
    return _Parser(text, fields or {}, default_operator).parse()


def parse_filter(text: str, fields: Mapping[str, FieldInfo]) -> Query:
    """A filter expression (``tags:llm``, ``date:>=2024 -tags:draft``): the query syntax, except
    that ``name:`` naming no field of the schema is an error, not text — a filter on a misspelt
    field would otherwise look for the words and quietly match nothing."""
    check_length(text)
    return _Parser(text, fields, "or", strict_fields=True).parse()


def parse_field_value(field: str, value: str, fields: Mapping[str, FieldInfo]) -> Query:
    """``value`` as the value of ``field:`` — for a date or number field one exact value or a
    range (``>=2024``, ``[1 TO 5]``); a syntax error points into ``value``."""
    check_length(value)
    parser = _Parser(value, fields, "or")
    info = fields[field]
    if value[:1] in "<>[{" and info.type in ("date", "number"):
        query: Query = parser.parse_field_value(field, 0)
        parser.skip_ws()
        if not parser.at_end():
            raise parser.error(f"unexpected text after the {field} range", parser.pos)
        return query
    if info.type in ("date", "number"):
        return parser.exact_range(field, value, 0)
    return TermQuery(value, field) if info.type == "keyword" else PhraseQuery(value, field)


def check_operator(default_operator: str) -> None:
    if default_operator not in ("or", "and"):
        raise QuerySyntaxError(f"default operator must be 'or' or 'and', got {default_operator!r}", "", 0)


def check_length(text: str) -> None:
    """Refuse a query that is too long, or that UTF-8 cannot encode (a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise QuerySyntaxError("the query holds a lone surrogate, which is not text", "", exc.start) from None
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            f"the query is {len(text):,} characters; the limit is {MAX_QUERY_CHARS:,}", text[:80], MAX_QUERY_CHARS
        )


def plain_query(text: str, *, default_operator: Literal["or", "and"] = "or") -> Query:
    """Every whitespace-separated word as a term, whatever characters it holds (no syntax)."""
    check_operator(default_operator)
    check_length(text)
    words = text.split()
    if len(words) > MAX_CLAUSES:
        raise QuerySyntaxError(f"more than {MAX_CLAUSES} words; shorten the query", text[:80], 0)
    if not words:
        return MatchAllQuery()
    if len(words) == 1:
        return TermQuery(words[0])
    terms = tuple(TermQuery(word) for word in words)
    return BooleanQuery(must=terms) if default_operator == "and" else BooleanQuery(should=terms)


# Syntax characters, a boost, or a fuzzy/proximity mark.
_OPERATOR_CHARS = re.compile(r'[\\()"+\-*:\[\]{}<>=]|\^[0-9.]|~(?:$|[\s)^0-9])')


def auto_edits(word: str) -> int:
    """Elasticsearch's AUTO fuzziness: exact up to 2 characters, 1 edit up to 5, then 2."""
    return 0 if len(word) <= 2 else 1 if len(word) <= 5 else 2


def _plain_words(text: str) -> list[str] | None:
    """The words of a query without any syntax (the common case), or None if it needs the parser."""
    if _OPERATOR_CHARS.search(text):
        return None
    words = text.split()
    if any(word in KEYWORDS for word in words):
        return None
    return words
