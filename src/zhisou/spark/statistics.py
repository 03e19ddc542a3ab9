"""Collection statistics of an index computed on Spark, the Hive way: ``explode`` + ``groupBy``.

Each executor reads one segment (of any shard) and emits its term list — per text-field term the
number of live documents holding it — and per text field its documents and summed length; Spark
explodes the lists and groups by term (and by field): document frequency per term, document
count and total length per field, over the whole collection.

    stats = collection_statistics(spark, "my-index")      # DataFrames: stats.terms, stats.fields
    stats.check()                                         # equal to what the index scores with?
    stats.write("my-index-statistics")                    # Parquet, for analysis or another scorer

A zhisou reader computes the same numbers from the shards' dictionaries when it opens (that is
what searches score with, exact under later deletes too); ``check`` compares the two, and
``zhisou spark build --statistics`` runs both after a build and refuses to report success if they
disagree. The tables are what a scorer that holds one shard alone needs (``SuppliedStatistics``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zhisou.errors import ZhisouError
from zhisou.index.reader import IndexReader
from zhisou.index.segment import SegmentMeta
from zhisou.index.segment_reader import SegmentReader
from zhisou.index.sharded import open_reader
from zhisou.index.termdict import term_key
from zhisou.search.stats import ReaderStats, locate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SAMPLED_TERMS = 2_000  # terms whose frequencies ``check`` compares (all field counts are compared)


def segment_terms(directory: str, meta_json: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    """On an executor: one segment's term list and field counts, as one row."""
    segment = SegmentReader(Path(directory), SegmentMeta.from_dict(json.loads(meta_json)))
    wanted = {name.encode() + b"\x1f" for name in fields}
    counts = segment.live_doc_freqs()
    keys, dfs = [], []
    view = segment.terms.key_view
    for ordinal in np.flatnonzero(counts > 0).tolist():
        key = view[ordinal]
        if key[: key.index(b"\x1f") + 1] in wanted:
            keys.append(key.decode("utf-8", "surrogatepass"))
            dfs.append(int(counts[ordinal]))
    live = segment.live_mask()
    docs, totals = [], []
    for name in fields:
        lengths = segment.lengths[name][live]
        docs.append(int(np.count_nonzero(lengths)))
        totals.append(int(lengths.sum(dtype=np.int64)))
    yield {"keys": keys, "dfs": dfs, "fields": fields, "docs": docs, "lengths": totals}


@dataclass
class CollectionStatistics:
    terms: DataFrame  # field, term, df
    fields: DataFrame  # field, docs, total_length
    reader: IndexReader  # the snapshot they were counted from

    def unpersist(self) -> None:
        """Let Spark drop the cached tables."""
        self.terms.unpersist()
        self.fields.unpersist()

    def write(self, folder: str | Path) -> None:
        self.terms.write.mode("overwrite").parquet(str(Path(folder) / "terms"))
        self.fields.write.mode("overwrite").parquet(str(Path(folder) / "fields"))

    def check(self) -> None:
        """Raise ``ZhisouError`` unless these statistics are those the index scores with (the
        snapshot they were counted from): every field's counts, and the document frequency of a
        sample of terms."""
        reader = self.reader
        stats = ReaderStats(reader)
        for row in self.fields.collect():
            expected = stats.field(row["field"])
            if (expected.doc_count, expected.total_length) != (row["docs"], row["total_length"]):
                raise ZhisouError(
                    f"statistics of field {row['field']!r}: Spark counted {row['docs']} documents and "
                    f"{row['total_length']} tokens, the index {expected.doc_count} and {expected.total_length}"
                )
        total = self.terms.count()
        fraction = min(1.0, 2 * SAMPLED_TERMS / max(total, 1))
        sample = self.terms.sample(fraction=fraction, seed=random.randrange(2**31)).limit(SAMPLED_TERMS).collect()
        keys = [term_key(row["field"], row["term"]) for row in sample]
        counted = locate(reader, keys)[1].tolist() if keys else []
        for row, expected in zip(sample, counted):
            if row["df"] != expected:
                raise ZhisouError(
                    f"document frequency of {row['field']}:{row['term']!r}: Spark counted {row['df']}, "
                    f"the index {expected}"
                )


def collection_statistics(spark: SparkSession, index: str | Path) -> CollectionStatistics:
    """The statistics of the index at ``index`` (a path every executor sees), on Spark."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

    reader = open_reader(Path(index))
    fields = [spec.name for spec in reader.schema.text_fields]
    work = [(str(segment.directory.resolve()), json.dumps(segment.meta.to_dict())) for segment in reader.segments]
    row_type = StructType(
        [
            StructField("keys", ArrayType(StringType())),
            StructField("dfs", ArrayType(LongType())),
            StructField("fields", ArrayType(StringType())),
            StructField("docs", ArrayType(LongType())),
            StructField("lengths", ArrayType(LongType())),
        ]
    )
    if not work:
        return CollectionStatistics(
            spark.createDataFrame([], "field string, term string, df long"),
            spark.createDataFrame([(name, 0, 0) for name in fields], "field string, docs long, total_length long"),
            reader,
        )
    rows = spark.sparkContext.parallelize(work, len(work)).flatMap(lambda item: segment_terms(item[0], item[1], fields))
    lists = spark.createDataFrame(rows, row_type)
    postings = lists.select(F.explode(F.arrays_zip("keys", "dfs")).alias("t")).select(
        F.split(F.col("t.keys"), "\x1f", 2).alias("key"), F.col("t.dfs").alias("df")
    )
    terms = (
        postings.select(F.col("key")[0].alias("field"), F.col("key")[1].alias("term"), "df")
        .groupBy("field", "term")
        .agg(F.sum("df").alias("df"))
    )
    counts = lists.select(F.explode(F.arrays_zip("fields", "docs", "lengths")).alias("f")).select(
        F.col("f.fields").alias("field"), F.col("f.docs").alias("docs"), F.col("f.lengths").alias("length")
    )
    by_field = counts.groupBy("field").agg(F.sum("docs").alias("docs"), F.sum("length").alias("total_length"))
    # Kept once computed: counting, checking and writing them must not read the segments again.
    return CollectionStatistics(terms.persist(), by_field.persist(), reader)
