"""Benchmark how long ``kedro`` commands take to start in this project.

Every ``kedro`` command in the project first imports Kedro's CLI, the project's
settings (hence its hooks) and every ``kedro.project_commands`` entry point
(kedro-mlflow, kedro-hera, reelops), and most commands then build the pipeline
registry (hence import every node module). This script measures, as whole
processes started from the project directory:

1. wall time of ``kedro registry list`` (the bar: median under 3 s), ``kedro --help``
   and ``kedro argo compile`` (every env and pipeline, into a scratch directory,
   not ``argo/``; the bar: median at most 5 s);
2. the floor they are compared with: ``python -c "import kedro.framework.cli"``
   (Kedro's CLI and nothing of the project) and ``kedro --version`` outside any
   project (Kedro's CLI with no project, hooks or project plugins);
3. a counterfactual: ``kedro registry list`` with kedro-mlflow's entry points
   hidden from Kedro (the only change; for diagnosis, not a way to run Kedro).
   kedro-mlflow 2.0.3's CLI module imports MLflow (~2 s); ``reelops.startup`` (a
   ``kedro.init`` entry point) loads it only when ``kedro mlflow ...`` runs, so
   what the counterfactual still saves is the rest of the plugin's cost.

Each command runs once to warm the page cache and bytecode, then ``--runs`` times,
the commands interleaved round by round so that a busy moment hits all of them;
figures are medians. Then, each in a fresh interpreter, the time to import the
modules involved (median of ``--import-runs``; they share dependencies, so their
times do not add up), and one ``python -X importtime -m kedro registry list``
whose self times are summed by top-level package: what the command spends
importing, and where (again with kedro-mlflow's entry points hidden).

Usage::

    .venv/bin/python bench/startup.py --out reports/bench/startup.json
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import QUIET, format_table, machine_info, write_json

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
GOAL_SECONDS = 3.0
#: Issue #15: `kedro argo compile` (every env, every pipeline) as a whole process.
COMPILE_GOAL_SECONDS = 5.0

# `kedro` with every entry point of kedro-mlflow filtered out of Kedro's discovery.
WITHOUT_KEDRO_MLFLOW = """
import importlib.metadata as md
import sys

_entry_points = md.entry_points


class _Hidden:
    def __init__(self, eps):
        self._eps = eps

    def select(self, **params):
        return md.EntryPoints(
            e for e in self._eps.select(**params)
            if not e.value.startswith("kedro_mlflow.")
        )


def _filtered(**params):
    found = _Hidden(_entry_points())
    return found.select(**params) if params else found


md.entry_points = _filtered
from kedro.framework.cli import main

sys.argv = ["kedro", *sys.argv[1:]]
main()
"""

# Modules timed one by one, each in a fresh interpreter: what the commands import.
IMPORTS = {
    "kedro.framework.cli": "Kedro's CLI (the floor)",
    "kedro_mlflow.framework.cli.cli": "kedro-mlflow's kedro.project_commands entry",
    "mlflow": "what kedro-mlflow's entry point imports first",
    "kedro_hera.cli": "kedro-hera's entry point",
    "reelops.promotion.cli": "reelops' entry point (kedro promote)",
    "reelops.settings": "project settings, hooks included",
    "pandas": "imported by the node modules",
    "recsys": "no longer imported at start-up (nodes import it when they run)",
    "matplotlib.figure": "no longer imported at start-up (plot nodes)",
    "pandera.pandas": "no longer imported at start-up (validation nodes)",
}
REGISTRY = (
    "from reelops.pipeline_registry import register_pipelines\nregister_pipelines()"
)
#: Libraries whose presence in the profile is reported either way.
HEAVY = [
    "bentoml",
    "hera",
    "matplotlib",
    "mlflow",
    "numba",
    "pandas",
    "pandera",
    "pyarrow",
    "recsys",
    "scipy",
    "sklearn",
    "whylogs",
]


def _env() -> dict[str, str]:
    return {**os.environ, **QUIET}


def _wall(argv: list[str], cwd: Path) -> float:
    """Seconds from start to exit of one process (its output discarded)."""
    start = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {tail}")
    return seconds


def commands(scratch: Path) -> dict[str, tuple[list[str], Path]]:
    """Name -> (argv, working directory) of every process measured."""
    kedro = str(BIN / "kedro")
    python = str(BIN / "python")
    outside = scratch / "not-a-project"
    outside.mkdir(exist_ok=True)
    return {
        "kedro registry list": ([kedro, "registry", "list"], REPO),
        "kedro --help": ([kedro, "--help"], REPO),
        "kedro argo compile": (
            [kedro, "argo", "compile", "--output-dir", str(scratch / "argo")],
            REPO,
        ),
        "floor: import kedro.framework.cli": (
            [python, "-c", "import kedro.framework.cli"],
            REPO,
        ),
        "floor: kedro --version outside a project": ([kedro, "--version"], outside),
        "kedro registry list without kedro-mlflow's entry points": (
            [python, "-c", WITHOUT_KEDRO_MLFLOW, "registry", "list"],
            REPO,
        ),
    }


def measure_commands(
    todo: dict[str, tuple[list[str], Path]], runs: int
) -> dict[str, dict[str, Any]]:
    """One warm-up each, then ``runs`` rounds with every command once per round."""
    for argv, cwd in todo.values():
        _wall(argv, cwd)
    times: dict[str, list[float]] = {name: [] for name in todo}
    for round_ in range(runs):
        for name, (argv, cwd) in todo.items():
            times[name].append(_wall(argv, cwd))
        print(f"round {round_ + 1}/{runs} done", flush=True)
    return {
        name: {
            "median_s": round(statistics.median(t), 3),
            "min_s": round(min(t), 3),
            "max_s": round(max(t), 3),
            "runs_s": [round(x, 3) for x in t],
        }
        for name, t in times.items()
    }


def _child_seconds(code: str) -> float:
    """Seconds ``code`` takes in a fresh interpreter, timed inside it."""
    timed = (
        "import time\n_t = time.perf_counter()\n"
        + code
        + "\nprint(time.perf_counter() - _t)"
    )
    done = subprocess.run(
        [str(BIN / "python"), "-c", timed],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def measure_imports(runs: int) -> dict[str, dict[str, Any]]:
    """Median seconds to import each module (or build the registry), fresh each time."""
    snippets = {name: f"import {name}" for name in IMPORTS}
    snippets["register_pipelines()"] = REGISTRY
    notes = {**IMPORTS, "register_pipelines()": "imports every node module"}
    return {
        name: {
            "median_s": round(
                statistics.median(_child_seconds(code) for _ in range(runs)), 3
            ),
            "what": notes[name],
        }
        for name, code in snippets.items()
    }


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_profile(launcher: list[str], top: int = 15) -> dict[str, Any]:
    """Import self time of ``kedro registry list`` summed by top-level package."""
    done = subprocess.run(
        [str(BIN / "python"), "-X", "importtime", *launcher, "registry", "list"],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    by_package: dict[str, int] = {}
    for line in done.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            root = match.group(4).split(".")[0]
            by_package[root] = by_package.get(root, 0) + int(match.group(1))
    total = sum(by_package.values())
    ranked = sorted(by_package.items(), key=lambda kv: -kv[1])
    return {
        "total_import_s": round(total / 1e6, 3),
        "by_package_s": {name: round(us / 1e6, 3) for name, us in ranked[:top]},
        "heavy_imported": sorted(set(HEAVY) & set(by_package)),
        "heavy_not_imported": sorted(set(HEAVY) - set(by_package)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "reports/bench/startup.json", help="report"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per command")
    parser.add_argument("--import-runs", type=int, default=3, help="per module")
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    scratch = Path(tempfile.mkdtemp(prefix="reelops-startup-"))
    try:
        figures = measure_commands(commands(scratch), args.runs)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    imports = measure_imports(args.import_runs)
    profile = import_profile(["-m", "kedro"])
    profile_hidden = import_profile(["-c", WITHOUT_KEDRO_MLFLOW])

    registry = figures["kedro registry list"]["median_s"]
    floor = figures["floor: import kedro.framework.cli"]["median_s"]
    outside = figures["floor: kedro --version outside a project"]["median_s"]
    hidden = figures["kedro registry list without kedro-mlflow's entry points"]
    compile_s = figures["kedro argo compile"]["median_s"]
    summary = {
        "registry_list_median_s": registry,
        "help_median_s": figures["kedro --help"]["median_s"],
        "argo_compile_median_s": compile_s,
        "floor_import_kedro_cli_median_s": floor,
        "registry_list_vs_floor_ratio": round(registry / floor, 2),
        "registry_list_vs_kedro_version_outside_ratio": round(registry / outside, 2),
        "kedro_mlflow_entry_points_cost_s": round(registry - hidden["median_s"], 3),
        "goals": {
            "registry_list_median_s_below": GOAL_SECONDS,
            "argo_compile_median_s_at_most": COMPILE_GOAL_SECONDS,
        },
        "goals_met": {
            "registry_list_under_3s": registry < GOAL_SECONDS,
            "argo_compile_at_most_5s": compile_s <= COMPILE_GOAL_SECONDS,
        },
    }
    print(
        format_table(
            [
                [name, f["median_s"], f["min_s"], f["max_s"]]
                for name, f in figures.items()
            ],
            ["command", "median s", "min s", "max s"],
        )
    )
    print(
        format_table(
            [[name, f["median_s"]] for name, f in imports.items()],
            ["import (fresh interpreter)", "median s"],
        )
    )
    print(
        f"registry list {registry:.2f} s vs floor {floor:.2f} s "
        f"({registry / floor:.2f}x); goal < {GOAL_SECONDS} s: "
        f"{'met' if registry < GOAL_SECONDS else 'missed'}; argo compile "
        f"{compile_s:.2f} s, goal <= {COMPILE_GOAL_SECONDS} s: "
        f"{'met' if compile_s <= COMPILE_GOAL_SECONDS else 'missed'}"
    )
    write_json(
        args.out,
        {
            "benchmark": "kedro command start-up in the reelops project",
            "protocol": __doc__,
            "command": ".venv/bin/python bench/startup.py "
            "--out reports/bench/startup.json",
            "method": {
                "runs_per_command": args.runs,
                "warm_up_runs": 1,
                "import_runs": args.import_runs,
                "environment": QUIET,
                "load_average_1_5_15_before": load_before,
            },
            "machine": machine_info(),
            "summary": summary,
            "commands": figures,
            "imports_fresh_interpreter": imports,
            "registry_list_import_profile": profile,
            "registry_list_without_kedro_mlflow_import_profile": profile_hidden,
        },
    )


if __name__ == "__main__":
    main()
