"""Named analyzers: a tokenizer followed by filters, chosen per field by the schema.

========  ==============================================================================
name      what it does
========  ==============================================================================
zh        Chinese word segmentation (search mode) + English words stemmed inside it;
          full-width/traditional folding; Chinese and English stopwords.  The default.
en        Unicode word split, folding, English stopwords, Snowball stemming.
keyword   the whole value, folded to lower case: tags, categories.
exact     the whole value as given: ids, urls.
========  ==============================================================================

The same analyzer object serves indexing, querying and highlighting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from zhisou.analysis.filters import StemFilter, StopFilter, SynonymFilter, TokenFilter
from zhisou.analysis.stopwords import CHINESE_STOPWORDS, ENGLISH_STOPWORDS
from zhisou.analysis.tokenizers import (
    SUB_WORD,
    ChineseSegmenter,
    KeywordTokenizer,
    MixedTokenizer,
    Token,
    Tokenizer,
    TokenStream,
    parse_user_dictionary,
)
from zhisou.errors import SchemaError

ANALYZER_NAMES: dict[str, str] = {
    "zh": "Chinese segmentation (search mode) with English words stemmed inside it",
    "en": "English: word split, stopwords, Snowball stemming",
    "keyword": "whole value, lower-cased (tags, categories)",
    "exact": "whole value as given (ids, urls)",
}

PARTS_MEMO = 100_000  # query words whose parts are remembered (cleared when full)
USER_DICTIONARY_FILE = "userdict.txt"
SYNONYMS_FILE = "synonyms.txt"


@dataclass
class Analyzer:
    """Tokenizer + filters. ``analyze`` gives tokens with positions and original offsets."""

    name: str
    tokenizer: Tokenizer
    filters: list[TokenFilter] = field(default_factory=list)
    query_filters: list[TokenFilter] = field(default_factory=list)
    _parts: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def stream(self, text: str, *, offsets: bool = False, for_query: bool = False) -> TokenStream:
        """Terms and positions (and offsets if asked): the indexing path; ``for_query``: the
        query's words, Chinese cut the precise way (no sub-words) and query filters applied."""
        if for_query and isinstance(self.tokenizer, MixedTokenizer):
            stream = self.tokenizer.stream(text, offsets=offsets, precise=True)
        else:
            stream = self.tokenizer.stream(text, offsets=offsets)
        for token_filter in self.filters:
            stream = token_filter(stream)
        if for_query:
            for token_filter in self.query_filters:
                stream = token_filter(stream)
        return stream

    def analyze(self, text: str, *, for_query: bool = False) -> list[Token]:
        """Tokens with original offsets: the query and highlighting path."""
        return self.stream(text, offsets=True, for_query=for_query).tokens()

    def terms(self, text: str) -> list[str]:
        return self.stream(text).terms

    def parts(self, word: str) -> tuple[str, ...]:
        """The words and sub-words the indexing cut finds inside one Chinese ``word`` (not the
        word itself, without the sub-word mark): a query word's parts. Remembered per word."""
        found = self._parts.get(word)
        if found is None:
            pieces = (piece.removeprefix(SUB_WORD) for piece in self.stream(word).terms)
            found = tuple(piece for piece in dict.fromkeys(pieces) if piece != word)
            if len(self._parts) >= PARTS_MEMO:
                self._parts.clear()
            self._parts[word] = found
        return found

    def word_spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) in ``text`` of each Chinese word as the precise cut finds it (no
        sub-words, stopwords kept): the units a highlight marks whole."""
        if not isinstance(self.tokenizer, MixedTokenizer):
            return []
        stream = self.tokenizer.stream(text, offsets=True, precise=True)
        assert stream.starts is not None and stream.ends is not None
        return [(start, end) for start, end, cjk in zip(stream.starts, stream.ends, stream.cjk) if cjk]


@dataclass(frozen=True)
class AnalysisResources:
    """Per-index resources: jieba-format user dictionary and synonym groups."""

    user_words: tuple[tuple[str, int | None, str | None], ...] = ()
    synonym_lines: tuple[str, ...] = ()

    @classmethod
    def load(cls, directory: Path) -> AnalysisResources:
        """Read ``userdict.txt`` and ``synonyms.txt`` from an index directory, if present."""
        user_words: tuple[tuple[str, int | None, str | None], ...] = ()
        synonym_lines: tuple[str, ...] = ()
        dictionary = directory / USER_DICTIONARY_FILE
        if dictionary.exists():
            user_words = tuple(parse_user_dictionary(_read_text(dictionary), str(dictionary)))
        synonyms = directory / SYNONYMS_FILE
        if synonyms.exists():
            synonym_lines = tuple(
                line.strip()
                for line in _read_text(synonyms).splitlines()
                if line.strip() and not line.strip().startswith("#")
            )
        return cls(user_words, synonym_lines)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a byte-order mark is not part of the first word
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{path}: not valid UTF-8 (byte {exc.start}); save it as UTF-8") from exc


class AnalyzerRegistry:
    """Builds each named analyzer once per index, sharing one segmenter."""

    def __init__(self, resources: AnalysisResources | None = None) -> None:
        self.resources = resources or AnalysisResources()
        self._segmenter: ChineseSegmenter | None = None
        self._cache: dict[str, Analyzer] = {}

    def get(self, name: str) -> Analyzer:
        if name not in self._cache:
            self._cache[name] = self._build(name)
        return self._cache[name]

    def _segmenter_instance(self) -> ChineseSegmenter:
        if self._segmenter is None:
            self._segmenter = ChineseSegmenter(list(self.resources.user_words))
        return self._segmenter

    def _build(self, name: str) -> Analyzer:
        if name == "zh":
            analyzer = Analyzer(
                name,
                MixedTokenizer(self._segmenter_instance()),
                [StopFilter(ENGLISH_STOPWORDS | CHINESE_STOPWORDS), StemFilter("english")],
            )
        elif name == "en":
            analyzer = Analyzer(name, MixedTokenizer(None), [StopFilter(ENGLISH_STOPWORDS), StemFilter("english")])
        elif name == "keyword":
            return Analyzer(name, KeywordTokenizer(lowercase=True))
        elif name == "exact":
            return Analyzer(name, KeywordTokenizer(lowercase=False))
        else:
            choices = ", ".join(ANALYZER_NAMES)
            raise SchemaError(f"unknown analyzer {name!r}; choose one of: {choices}")
        if self.resources.synonym_lines:
            analyzer.query_filters.append(SynonymFilter(self._synonym_map(analyzer)))
        return analyzer

    def _synonym_map(self, analyzer: Analyzer) -> dict[str, tuple[str, ...]]:
        """Each line is a group of equivalent terms, comma separated (Solr's format)."""
        mapping: dict[str, set[str]] = {}
        for line in self.resources.synonym_lines:
            group = {term for entry in line.split(",") for term in analyzer.terms(entry.strip())}
            for term in group:
                mapping.setdefault(term, set()).update(group)
        return {term: tuple(sorted(group)) for term, group in mapping.items()}
