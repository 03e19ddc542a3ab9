"""Query parsing, BM25 scoring, top-k selection and highlighting."""

from zhisou.search.parser import parse_query
from zhisou.search.results import Hit, SearchResult
from zhisou.search.searcher import Searcher
from zhisou.search.similarity import BM25

__all__ = ["BM25", "Hit", "SearchResult", "Searcher", "parse_query"]
