"""The README's performance table is what the committed bench reports say."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_table_matches_the_committed_reports(
    load_bench: Callable[[str], ModuleType],
) -> None:
    summary = load_bench("summary")
    # GIVEN the table the committed reports/bench/*.json render
    rendered = summary.render()
    # THEN the README holds exactly that table
    assert summary.readme_block((REPO / "README.md").read_text()) == rendered, (
        "README.md's performance table is stale: run `.venv/bin/python "
        "bench/summary.py --write`"
    )


def test_a_pass_in_a_report_is_a_yes_in_the_table_and_a_miss_is_a_no(
    load_bench: Callable[[str], ModuleType],
) -> None:
    summary = load_bench("summary")
    assert summary._met(True) == "yes"
    assert summary._met(False) == "**no**"
    assert summary._met(None) == "not measured"
