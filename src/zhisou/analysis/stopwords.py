"""Stopword lists.

English: the 33 words of Lucene's ``EnglishAnalyzer`` default set, so scores are comparable
with Lucene/Pyserini runs. Chinese: high-frequency function words that carry no topic.
"""

from __future__ import annotations

ENGLISH_STOPWORDS: frozenset[str] = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with".split()
)

CHINESE_STOPWORDS: frozenset[str] = frozenset(
    "的 了 和 是 在 也 就 都 而 及 与 着 或 之 其 以 为 于 把 被 让 给 对 等 啊 吗 呢 吧 呀 "
    "这 那 这个 那个 这些 那些 一个 一种 我们 你们 他们 它们 我 你 他 她 它 个 并 又 很 "
    "会 能 要 可以 如果 因为 所以 但是 而且 以及 或者 还是 就是 通过 进行 使用".split()
)
