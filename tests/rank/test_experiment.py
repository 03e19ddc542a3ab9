"""Learning to rank on a BEIR-format dataset, through the commands people run: train on one
split, evaluate on another, see and switch the stored models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.rank.test_training import TOPICS, corpus
from zhisou.cli import app
from zhisou.errors import ZhisouError
from zhisou.eval import run_evaluation
from zhisou.rank.experiment import train_on_dataset

pytest.importorskip("lightgbm")


def write_dataset(root: Path) -> Path:
    """The recency corpus as a BEIR dataset: title and text per note, queries split in two."""
    docs, qrels = corpus()
    root.mkdir()
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for doc in docs:
            # BEIR has no date field: recency is written into the text as a year word.
            text = f"{doc['body']} y{doc['date'][:4]}"
            handle.write(json.dumps({"_id": doc["id"], "title": doc["title"], "text": text}) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as handle:
        for number, topic in enumerate(TOPICS):
            handle.write(json.dumps({"_id": f"q{number}", "text": f"{topic} y2019 y2020"}) + "\n")
    (root / "qrels").mkdir()
    for split, numbers in (("train", range(0, 30)), ("test", range(30, 40))):
        lines = ["query-id\tcorpus-id\tscore"]
        lines += [f"q{n}\t{doc}\t{grade}" for n in numbers for doc, grade in qrels[f"q{n}"].items()]
        (root / "qrels" / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_train_on_one_split_and_evaluate_on_another(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "notes")
    cache = tmp_path / "cache"
    report = train_on_dataset(dataset, base="bm25", cache_dir=cache, n_folds=3)
    assert report.version == 1 and report.activated
    assert report.dev["nDCG@10"] >= report.dev["first_stage_nDCG@10"]
    assert len(report.folds) == 3 and set(report.cross_validated) == {"nDCG@10", "first_stage_nDCG@10"}
    keyword = run_evaluation(dataset, mode="bm25", cache_dir=cache)
    reranked = run_evaluation(dataset, mode="ltr", base="bm25", cache_dir=cache)
    assert reranked.metrics["nDCG@10"] >= keyword.metrics["nDCG@10"]
    assert reranked.settings["ranker"] == "model-1 (lightgbm lambdarank)"
    # Evaluating a model on the queries it was trained on is refused.
    with pytest.raises(ZhisouError, match="trained on the train split of notes"):
        run_evaluation(dataset, split="train", mode="ltr", base="bm25", cache_dir=cache)
    # …but cross-validated it can be: each query reranked by a model trained on the other folds.
    crossed = run_evaluation(dataset, split="train", mode="ltr", base="bm25", cache_dir=cache, folds=3)
    plain = run_evaluation(dataset, split="train", mode="bm25", cache_dir=cache)
    assert crossed.settings["ranker"] == "3-fold lightgbm lambdarank"
    assert crossed.metrics["nDCG@10"] > plain.metrics["nDCG@10"]
    assert crossed.metrics["Recall@1000"] == plain.metrics["Recall@1000"]  # the same hits, reordered
    with pytest.raises(ZhisouError, match="--folds cross-validates a ranking model"):
        run_evaluation(dataset, mode="bm25", cache_dir=cache, folds=3)


def test_ltr_commands(tmp_path: Path) -> None:
    dataset = write_dataset(tmp_path / "notes")
    runner = CliRunner()
    common = ["--dataset", str(dataset), "--base", "bm25", "--cache", str(tmp_path / "cache")]
    trained = runner.invoke(app, ["ltr", "train", *common, "--backend", "xgboost", "--objective", "pairwise"])
    assert trained.exit_code == 0, trained.output
    assert "model-1 (xgboost rank:pairwise" in trained.output and "guard:" in trained.output
    again = runner.invoke(app, ["ltr", "train", *common, "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["version"] == 2
    status = json.loads(runner.invoke(app, ["ltr", "status", *common, "--json"]).output)
    assert [m["version"] for m in status["models"]] == [1, 2]
    assert runner.invoke(app, ["ltr", "activate", "2", *common]).exit_code == 0
    assert runner.invoke(app, ["ltr", "activate", "1", *common]).exit_code == 0
    rolled = runner.invoke(app, ["ltr", "rollback", *common])
    assert rolled.exit_code == 0 and "model-2 is active" in rolled.output
    bad = runner.invoke(app, ["ltr", "activate", "9", *common])
    assert bad.exit_code == 2 and "no ranking model 9" in bad.output
    assert "Traceback" not in bad.output
    exported = tmp_path / "train.svm"
    features = runner.invoke(app, ["ltr", "features", *common, "--out", str(exported)])
    assert features.exit_code == 0, features.output
    first = exported.read_text(encoding="utf-8").splitlines()[1]
    assert first.split()[1] == "qid:1" and "#" in first
    wrong = runner.invoke(app, ["ltr", "train", *common, "--backend", "lightgbm", "--objective", "pairwise"])
    assert wrong.exit_code == 2 and "lightgbm has no pairwise objective" in wrong.output
