"""Apache Spark: index builds on a cluster (``build.py``) and batch search (``search.py``).
PySpark is an optional extra (``pip install 'zhisou[spark]'``), imported only when a Spark
function runs."""

from zhisou.spark.build import BuildReport, build_index, session
from zhisou.spark.search import batch_search, write_run

__all__ = ["BuildReport", "batch_search", "build_index", "session", "write_run"]
