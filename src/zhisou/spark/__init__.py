"""Apache Spark: index builds on a cluster (``build.py``). PySpark is an optional extra
(``pip install 'zhisou[spark]'``), imported only when a Spark function runs."""

from zhisou.spark.build import BuildReport, build_index, session

__all__ = ["BuildReport", "build_index", "session"]
