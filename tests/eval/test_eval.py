"""``zhisou eval`` on a tiny BEIR-format fixture whose metrics are computed by hand."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zhisou import ZhisouError
from zhisou.cli import app
from zhisou.eval import BeirDataset, evaluate, run_evaluation

CORPUS = [
    {"_id": "d1", "title": "BM25", "text": "bm25 ranking function"},
    {"_id": "d2", "title": "Zebra", "text": "zebra stripes"},
    {"_id": "d3", "title": "Ranking", "text": "learning to rank with trees"},
    {"_id": "d4", "title": "倒排索引", "text": "倒排索引是核心"},
]
QUERIES = [
    {"_id": "q1", "text": "zebra"},  # only d2 matches; relevant d2 → perfect
    {"_id": "q2", "text": "ranking"},  # d1 and d3 match; relevant: d3 only
    {"_id": "q3", "text": "倒排索引"},  # relevant d4 and d1 (d1 never retrieved)
    {"_id": "q4", "text": "unjudged"},  # no qrels: not evaluated
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td2\t1\nq2\td3\t1\nq3\td4\t2\nq3\td1\t1\n"


def write_dataset(root: Path, gz: bool = False) -> Path:
    root.mkdir(parents=True)
    lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in CORPUS)
    if gz:
        with gzip.open(root / "corpus.jsonl.gz", "wt", encoding="utf-8") as handle:
            handle.write(lines)
    else:
        (root / "corpus.jsonl").write_text(lines, encoding="utf-8")
    (root / "queries.jsonl").write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUERIES), encoding="utf-8"
    )
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text(QRELS, encoding="utf-8")
    return root


def expected_ndcg_q2(first: str) -> float:
    # Relevant d3 at rank 1 or 2 (d1 and d3 both contain "rank").
    return 1.0 if first == "d3" else 1 / math.log2(3)


def test_metrics_by_hand(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "tiny")
    report = run_evaluation(dataset, cache_dir=tmp_path / "cache", run_file=tmp_path / "run.trec")
    lines = (tmp_path / "run.trec").read_text().splitlines()
    q2 = [line.split() for line in lines if line.startswith("q2 ")]
    first_q2 = q2[0][2]
    # q3: d4 (gain 2) at rank 1, d1 (gain 1) never retrieved.
    ndcg_q3 = (2 / math.log2(2)) / (2 / math.log2(2) + 1 / math.log2(3))
    expected = (1.0 + expected_ndcg_q2(first_q2) + ndcg_q3) / 3
    assert report.queries == 3 and report.documents == 4
    assert report.metrics["nDCG@10"] == pytest.approx(expected, abs=1e-4)
    assert report.metrics["Recall@100"] == pytest.approx((1 + 1 + 0.5) / 3, abs=1e-6)
    assert report.metrics["MRR@10"] == pytest.approx((1 + (1 if first_q2 == "d3" else 0.5) + 1) / 3, abs=1e-6)
    assert lines[0].split()[1] == "Q0" and lines[0].split()[3] == "1"
    # The second run reuses the cached index.
    again = run_evaluation(dataset, cache_dir=tmp_path / "cache")
    assert again.index_seconds is None and again.metrics == report.metrics


def test_files_saved_with_a_byte_order_mark_read_as_without(tmp_path: Path) -> None:
    plain = BeirDataset.load(write_dataset(tmp_path / "plain"))
    marked = write_dataset(tmp_path / "marked")
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        (marked / name).write_text("\ufeff" + (marked / name).read_text(encoding="utf-8"), encoding="utf-8")
    loaded = BeirDataset.load(marked)
    assert (loaded.queries, loaded.qrels) == (plain.queries, plain.qrels)
    assert list(loaded.documents()) == list(plain.documents())


def test_gzipped_corpus_and_bad_inputs(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "gz", gz=True)
    assert BeirDataset.load(dataset).corpus_path.name == "corpus.jsonl.gz"
    with pytest.raises(ZhisouError, match="splits here: test"):
        BeirDataset.load(dataset, "dev")
    with pytest.raises(ZhisouError, match=r"no corpus\.jsonl"):
        BeirDataset.load(tmp_path)
    with pytest.raises(ZhisouError, match="no active ranking model for gz; train one with zhisou ltr train"):
        run_evaluation(dataset, mode="ltr", base="bm25", cache_dir=tmp_path / "cache")
    with pytest.raises(ZhisouError, match="unknown mode"):
        run_evaluation(dataset, mode="telepathy", cache_dir=tmp_path / "cache")


def test_evaluate_counts_empty_results_as_zero() -> None:
    qrels = {"a": {"x": 1}, "b": {"y": 1}}
    scores = evaluate(qrels, {"a": {"x": 1.0}})
    assert scores["nDCG@10"] == pytest.approx(0.5) and scores["MAP"] == pytest.approx(0.5)


def test_cli_json(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "tiny")
    result = CliRunner().invoke(app, ["eval", "--dataset", str(dataset), "--cache", str(tmp_path / "c"), "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["queries"] == 3 and set(data["metrics"]) == {"nDCG@10", "Recall@100", "Recall@1000", "MRR@10", "MAP"}
    missing = CliRunner().invoke(app, ["eval", "--dataset", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "no corpus.jsonl" in missing.stderr


def test_semantic_and_hybrid_evaluations_run_on_an_embedded_index(tmp_path: Path, tiny_model: Path) -> None:
    """The tiny model stands in for the real one: the run is scored, its index cached per model."""
    from zhisou.eval.metrics import evaluate as score

    dataset = write_dataset(tmp_path / "tiny")
    semantic = run_evaluation(dataset, mode="dense", model=str(tiny_model), cache_dir=tmp_path / "cache")
    assert semantic.mode == "dense" and semantic.settings["model"] == str(tiny_model)
    assert semantic.index_seconds is not None and 0 <= semantic.metrics["nDCG@10"] <= 1
    keyword = run_evaluation(dataset, cache_dir=tmp_path / "cache")
    assert keyword.index_path != semantic.index_path  # one cached index per schema
    hybrid = run_evaluation(
        dataset, mode="hybrid", model=str(tiny_model), cache_dir=tmp_path / "cache", run_file=tmp_path / "h.trec"
    )
    assert hybrid.index_seconds is None  # the semantic index, reused
    run: dict[str, dict[str, float]] = {}
    for line in (tmp_path / "h.trec").read_text().splitlines():
        query, _, doc, _, value, _ = line.split()
        run.setdefault(query, {})[doc] = float(value)
    assert score(BeirDataset.load(dataset).qrels, run) == pytest.approx(hybrid.metrics)


def test_new_embedding_code_rebuilds_only_the_embedded_indexes(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Vectors from older embedding code would be measured as if from the new: not reused."""
    from zhisou.eval import runner

    dataset = write_dataset(tmp_path / "tiny")
    semantic = run_evaluation(dataset, mode="dense", model=str(tiny_model), cache_dir=tmp_path / "cache")
    keyword = run_evaluation(dataset, cache_dir=tmp_path / "cache")
    monkeypatch.setattr(runner, "EMBEDDING_VERSION", runner.EMBEDDING_VERSION + 1)
    again = run_evaluation(dataset, mode="dense", model=str(tiny_model), cache_dir=tmp_path / "cache")
    assert again.index_path != semantic.index_path and again.index_seconds is not None
    assert run_evaluation(dataset, cache_dir=tmp_path / "cache").index_path == keyword.index_path
