"""Text analysis: folding, Chinese/English tokenization, filters and named analyzers."""

from zhisou.analysis.analyzers import ANALYZER_NAMES, AnalysisResources, Analyzer, AnalyzerRegistry
from zhisou.analysis.tokenizers import Token

# Bumped whenever the terms a text gives change (an index made before finds less until rebuilt):
# 2 — Taiwan phrases to mainland words; straddling sub-words indexed apart (2026-12-02).
# 3 — a sub-word that begins or ends its word is a part, not straddling (长沙 in 长沙市).
# 4 — text without a traditional character is not converted (打坏 stays, was 打坯) (2026-12-03).
ANALYSIS_VERSION = 4

__all__ = ["ANALYSIS_VERSION", "ANALYZER_NAMES", "AnalysisResources", "Analyzer", "AnalyzerRegistry", "Token"]
