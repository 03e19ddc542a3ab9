"""Text analysis: folding, Chinese/English tokenization, filters and named analyzers."""

from zhisou.analysis.analyzers import ANALYZER_NAMES, AnalysisResources, Analyzer, AnalyzerRegistry
from zhisou.analysis.tokenizers import Token

__all__ = ["ANALYZER_NAMES", "AnalysisResources", "Analyzer", "AnalyzerRegistry", "Token"]
