"""The README's performance table is what the committed bench reports say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _summary_module():
    spec = importlib.util.spec_from_file_location(
        "bench_summary", REPO / "bench" / "summary.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_matches_the_committed_reports() -> None:
    summary = _summary_module()
    # GIVEN the table the committed reports/bench/*.json render
    rendered = summary.render()
    # THEN the README holds exactly that table
    assert summary.readme_block((REPO / "README.md").read_text()) == rendered, (
        "README.md's performance table is stale: run `.venv/bin/python "
        "bench/summary.py --write`"
    )


def test_a_pass_in_a_report_is_a_yes_in_the_table_and_a_miss_is_a_no() -> None:
    summary = _summary_module()
    assert summary._met(True) == "yes"
    assert summary._met(False) == "**no**"
    assert summary._met(None) == "not measured"
