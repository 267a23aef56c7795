"""`--out` checks: nothing is created or deleted before the report exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.outdir import OutDirError, check


def test_a_missing_directory_is_fine_and_not_created_yet(tmp_path: Path) -> None:
    target = check(tmp_path / "a" / "b", force=False)
    assert target.path == tmp_path / "a" / "b" and target.replaced == []
    assert not (tmp_path / "a").exists()


def test_force_lists_the_earlier_reports_files_only(tmp_path: Path) -> None:
    names = ("report.json", "report.html", "drift_summary.png", "feature_01_age.png", "a.csv")
    for name in (*names, "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "sub.png").mkdir()
    target = check(tmp_path, force=True)
    assert sorted(p.name for p in target.replaced) == [
        "drift_summary.png",
        "feature_01_age.png",
        "report.html",
        "report.json",
    ]
    assert (tmp_path / "report.json").exists()  # deleted by clear(), after the computation
    target.clear()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "notes.txt", "sub.png"]


def test_an_existing_directory_without_a_report_is_written_into(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x")
    assert check(tmp_path, force=False).replaced == []


def test_a_directory_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutDirError, match=r"--out /proc/\S+: cannot write there \(/proc\)"):
        check(Path("/proc/mlops-bot-report"), force=False)
