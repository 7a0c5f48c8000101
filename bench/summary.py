"""The README's performance table, rendered from reports/bench/*.json.

Every row is read from a bench's JSON (figures, peers measured in the same run,
pass/miss computed by that bench); nothing here measures or decides. ``--write``
puts the table between the README's markers; tests/ci/test_bench_summary.py fails
when the README's table differs from what the committed JSON renders, so the
README cannot claim a figure the reports do not hold.

Usage::

    .venv/bin/python bench/summary.py            # print the table
    .venv/bin/python bench/summary.py --write    # update README.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "reports" / "bench"
README = REPO / "README.md"
START = "<!-- bench-summary:start (bench/summary.py --write; do not edit) -->"
END = "<!-- bench-summary:end -->"

Row = tuple[str, str, str, str]


def _load(name: str) -> dict[str, Any] | None:
    path = REPORTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _met(value: bool | None) -> str:
    return "not measured" if value is None else ("yes" if value else "**no**")


def accuracy_rows(report: dict[str, Any], out_of_sample: dict[str, Any]) -> list[Row]:
    small = report["datasets"]["ml-latest-small"]
    s, goals = small["summary"], small["goals"]
    ours, knn = s["ours_blend"], s["surprise_knn_baseline_item_pearson_baseline"]
    bare = s["ours_blend_without_test_timestamps"]
    n = len(small["per_seed"])
    peers = (
        f"KNNBaseline {knn['mean']:.4f}, "
        f"SVD++ {s['surprise_svdpp_default']['mean']:.4f}"
        f", SVD tuned {s['surprise_svd_tuned']['mean']:.4f}"
    )
    margin = goals["2_every_seed_vs_knn_baseline"]["figure_smallest_margin"]
    rows: list[Row] = [
        (
            f"1. RMSE, mean of {n} random 80/20 splits of ml-latest-small <= 0.835",
            f"blend {ours['mean']:.4f} (std {ours['std']:.4f}, "
            f"{ours['min']:.4f}-{ours['max']:.4f})",
            peers,
            _met(goals["1_mean_rmse"]["pass"]),
        ),
        (
            "1. on every split, RMSE <= KNNBaseline - 0.020",
            f"smallest margin {margin:.4f}",
            "KNNBaseline on the same splits",
            _met(goals["2_every_seed_vs_knn_baseline"]["pass"]),
        ),
        (
            "1. (report) the same blend without the rating's timestamp, "
            "as `/predict` answers",
            f"{bare['mean']:.4f} (std {bare['std']:.4f})",
            f"KNNBaseline {knn['mean']:.4f}",
            f"report: 0.835 would be missed by {max(0.0, bare['mean'] - 0.835):.4f}",
        ),
    ]
    big = out_of_sample["datasets"]["ml-100k"]
    o, ok = (
        big["summary"]["ours_blend"],
        big["summary"]["surprise_knn_baseline_item_pearson_baseline"],
    )
    rows.append(
        (
            "1. the same configuration on MovieLens 100K (never tuned on)",
            f"blend {o['mean']:.4f} (std {o['std']:.4f})",
            f"KNNBaseline {ok['mean']:.4f} (margin >= 0.02 on every split)",
            _met(
                big["out_of_sample"]["pass_beats_every_surprise_model"]
                and big["out_of_sample"]["pass_knn_margin"]
            ),
        )
    )
    return rows


def ranking_rows(
    report: dict[str, Any], ml100k: dict[str, Any] | None = None
) -> list[Row]:
    rows = [
        _ranking_row(
            report,
            f"2. NDCG@10 >= 1.02x a tuned EASE (mean of "
            f"{len(report['goal']['seeds'])} splits)",
        )
    ]
    if ml100k is not None:
        rows.append(
            _ranking_row(
                ml100k, "2. the same configuration on MovieLens 100K (never tuned on)"
            )
        )
    return rows


def _ranking_row(report: dict[str, Any], goal: str) -> Row:
    g = report["goal"]
    per_seed = ", ".join(f"{r:.3f}" for r in g["ndcg_ratio_per_seed"])
    return (
        goal,
        f"RatedEASE {g['ours_ndcg_at_10_mean']:.4f}, "
        f"{g['ndcg_ratio_of_means']:.4f}x (per split {per_seed}); Recall@20 "
        f"{g['ours_recall_at_20_mean']:.4f}",
        f"EASE, lambda chosen on validation: {g['reference_ndcg_at_10_mean']:.4f}"
        f"; Recall@20 {g['reference_recall_at_20_mean']:.4f}",
        _met(g["pass"]),
    )


def scale_rows(report: dict[str, Any], pipeline: dict[str, Any] | None) -> list[Row]:
    bar = report["bar"]
    goals, today = bar["goals"], bar["today"]
    peer = bar["peer"]
    peer_text = f"{peer['name']} {peer['fit_25m_s']:.0f} s" + (
        "" if peer["measured"] else " (quoted, not measured here)"
    )
    rows: list[Row] = [
        (
            "3. MF fit on 25M ratings, 2 cores <= 30 s",
            f"{goals['fit_25m_s']['figure']:.0f} s",
            f"{peer_text}; previous kernel {today['fit_s']:.0f} s in the same run",
            _met(goals["fit_25m_s"]["pass"]),
        ),
        (
            "3. its peak RSS <= 1.0 GiB",
            f"{goals['peak_rss_25m_gib']['figure']:.3f} GiB "
            f"({bar['bytes_per_rating'][-1]:.0f} B/rating)",
            f"previous kernel {today['peak_rss_gib']:.2f} GiB",
            _met(goals["peak_rss_25m_gib"]["pass"]),
        ),
        (
            "3. its held-out RMSE within 0.005 of the previous fit",
            f"{goals['held_out_rmse_delta_vs_today']['new_rmse']:.5f}",
            f"previous {goals['held_out_rmse_delta_vs_today']['today_rmse']:.5f}",
            _met(goals["held_out_rmse_delta_vs_today"]["pass"]),
        ),
    ]
    if pipeline is None:
        rows.append(
            ("3. default pipeline on 25M ratings <= 12 GiB", "-", "-", _met(None))
        )
    else:
        goal = pipeline["goal"]
        n = pipeline["data"]["n_ratings"]
        last = pipeline["stages"][-1]
        commit = pipeline["commit"][:7]
        ending = (
            f" (commit {commit})"
            if goal["all_stages_finished"]
            else f", stopped in stage {last['stage']} ({last.get('error')}; "
            f"commit {commit})"
        )
        rows.append(
            (
                "3. default pipeline on 25M ratings <= 12 GiB",
                f"at {n:,} ratings: peak {goal['peak_rss_gib']:.2f} GiB, "
                f"{goal['total_wall_s']:.0f} s" + ending,
                "-",
                _met(goal["pass"]),
            )
        )
    return rows


def serving_rows(report: dict[str, Any]) -> list[Row]:
    s = report["summary"]
    rows: list[Row] = []
    for workers, figures in s["by_workers"].items():
        latency = figures["latency"]
        ours, bare = list(latency)
        at = {c: latency[ours][c] for c in ("1", "16", "64")}
        curve = "; ".join(
            f"{c}: {v['p50_ms']:.1f}/{v['p99_ms']:.1f} ms" for c, v in at.items()
        )
        rows.append(
            (
                f"4. `/recommend` at 16 connections, {workers.replace('_', ' ')}: "
                "p99 <= 20 ms, >= 0.7x bare Starlette, 0 errors",
                f"p99 {figures['bentoml_p99_ms_at_16']:.1f} ms, "
                f"{at['16']['rps']:,.0f} req/s, "
                f"{figures['bentoml_vs_bare_rps_ratio_at_16']:.2f}x, "
                f"{figures['errors']} errors (p50/p99 at 1, 16, 64 connections: "
                f"{curve})",
                f"bare Starlette {latency[bare]['16']['rps']:,.0f} req/s, p99 "
                f"{latency[bare]['16']['p99_ms']:.1f} ms",
                _met(all(figures["goals_met"].values())),
            )
        )
    return rows


def startup_rows(
    kedro_run: dict[str, Any] | None, startup: dict[str, Any]
) -> list[Row]:
    rows: list[Row] = []
    if kedro_run is None:
        rows.append(("5. default `kedro run` <= 60 s wall", "-", "-", _met(None)))
    else:
        k = kedro_run["summary"]
        rows.append(
            (
                "5. default `kedro run` <= 60 s wall",
                f"{k['wall_median_s']:.1f} s (tasks {k['pipeline_median_s']:.1f} s)",
                "-",
                _met(k["goal_met"]),
            )
        )
    s = startup["summary"]
    rows.append(
        (
            "5. `kedro argo compile` <= 5 s as a whole process",
            f"{s['argo_compile_median_s']:.2f} s",
            "floor `import kedro.framework.cli` "
            f"{s['floor_import_kedro_cli_median_s']:.2f} s",
            _met(s["goals_met"].get("argo_compile_at_most_5s")),
        )
    )
    return rows


def render() -> str:
    """The markdown table of issue #15's goals from the committed reports."""
    rows: list[Row] = []
    rows += accuracy_rows(_need("accuracy.json"), _need("accuracy_ml100k.json"))
    rows += ranking_rows(_need("ranking.json"), _load("ranking_ml100k.json"))
    rows += scale_rows(
        _need("scale.json"),
        _load("pipeline_scale.json")
        or _load("pipeline_scale_5m.json")
        or _load("pipeline_scale_1m.json"),
    )
    rows += serving_rows(_need("serving.json"))
    rows += startup_rows(_load("kedro_run.json"), _need("startup.json"))
    lines = ["| goal | figure | peer, same run | met |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    return "\n".join(lines) + "\n"


def _need(name: str) -> dict[str, Any]:
    report = _load(name)
    if report is None:
        msg = f"reports/bench/{name} is missing: run `make bench` first"
        raise SystemExit(msg)
    return report


def readme_block(text: str) -> str:
    """The README's current table (between the markers)."""
    try:
        start = text.index(START) + len(START) + 1
        end = text.index(END)
    except ValueError:
        msg = f"README.md has no '{START}' ... '{END}' block"
        raise SystemExit(msg) from None
    return text[start:end]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md")
    args = parser.parse_args(argv)
    table = render()
    if not args.write:
        sys.stdout.write(table)
        return 0
    text = README.read_text()
    old = readme_block(text)
    README.write_text(text.replace(f"{START}\n{old}{END}", f"{START}\n{table}{END}"))
    print(
        "README.md: performance table " + ("unchanged" if old == table else "updated")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
