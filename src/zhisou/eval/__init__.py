"""Evaluation: BEIR-format datasets, standard IR metrics (pytrec_eval), ``zhisou eval``."""

from zhisou.eval.beir import BeirDataset
from zhisou.eval.metrics import METRICS, evaluate
from zhisou.eval.runner import EvalReport, run_evaluation

__all__ = ["METRICS", "BeirDataset", "EvalReport", "evaluate", "run_evaluation"]
