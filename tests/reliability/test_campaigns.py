"""Short, seeded runs of the reliability campaigns (the long runs are in docs/RELIABILITY.md)."""

from __future__ import annotations

from pathlib import Path

from tests.reliability import concurrency, corruption, crash


def test_crash_campaign_loses_no_commit(tmp_path: Path) -> None:
    report = crash.campaign(kills=8, seed=7, work=tmp_path, max_delay=1.0)
    assert report["failures"] == []
    assert report["outcomes"] == {"survived": 8}
    assert report["writer_proceeds"]


def test_every_damaged_file_is_detected_and_named(tmp_path: Path) -> None:
    """Every referenced file × truncate / flip / zero / swap: open or search raise
    CorruptIndexError naming the file, and check names it too."""
    report = corruption.campaign(count=None, seed=11, quick=False, work=tmp_path)
    assert report["failures"] == []
    assert report["outcomes"] == {"detected": report["cases"]}
    assert report["check_named_file"] == report["cases"] >= 150


def test_without_checksums_on_open_damage_never_crashes(tmp_path: Path) -> None:
    """Large segments skip the whole-file checksum on open: the structural checks and the
    kernels' bound checks must still keep every search from crashing."""
    report = corruption.campaign(count=80, seed=5, quick=True, work=tmp_path)
    assert "crash" not in report["outcomes"]
    assert report["check_named_file"] == report["cases"]


def test_readers_always_see_a_whole_commit_while_a_writer_runs(tmp_path: Path) -> None:
    report = concurrency.campaign(seconds=8, threads=2, processes=1, seed=3, work=tmp_path)
    assert report["errors"] == []
    assert report["writer_commits"] > 20
    assert report["generations_seen"] > 5
    assert report["verified_searches"] > 50
