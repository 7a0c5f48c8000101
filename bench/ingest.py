"""Benchmark ingesting a big ``ratings.csv`` in bounded memory, vs pandas.read_csv.

For each scenario a synthetic ``ratings.csv`` is written to a scratch directory next
to ml-latest-small's movies, tags and links (ratings of those movies, users
``1..rows/100``, half-star ratings, 1996-2018 timestamps: about 0.5 % of the pairs
repeat), plus the issue's worst case, 5 million copies of one row (all but one
quarantined). Then, each in its own process so that its peak RSS is its own:

1. ``kedro run --pipeline data_processing`` in a scratch copy of the project
   (``MOVIELENS_DIR`` pointing at the files): what the Argo ingest task runs, under
   its 2 GiB limit (``conf/base/argo.yml``): reading, validation of every table,
   the typed parquet tables, the quarantine and the ingest report, MLflow
   included;
2. the peers, which read the file whole: ``pandas.read_csv(path)`` (typed, no
   validation: the floor) and ``pandas.read_csv(path, dtype=str)`` (the strings a
   row-level validation starts from), each followed by ``to_parquet``.

Peak RSS is the ``ru_maxrss`` of the process (``os.wait4``); the bench's own
process imports neither pandas nor pyarrow, so the children inherit no peak from
it. Figures are one run each (a 25 M-row run takes minutes); ``rows_per_s``
counts every row of the file over the whole process, start-up included.

Usage::

    .venv/bin/python bench/ingest.py --out reports/bench/ingest.json
    .venv/bin/python bench/ingest.py --sizes 1000000 --no-duplicates  # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    QUIET,
    format_table,
    machine_info,
    ml_small_dir,
    scratch_project,
    write_json,
)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LIMIT_BYTES = 2 << 30

# Writes ratings.csv: argv = path, rows, "uniform" | "duplicates", movies.csv path.
GENERATE = """
import sys
import numpy as np
import pyarrow as pa
import pyarrow.csv as pv

path, rows, kind, movies = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ids = pv.read_csv(movies).column("movieId").to_numpy()
grid = np.array([f"{v / 2:.1f}" for v in range(1, 11)], dtype=object)
rng = np.random.default_rng(0)
options = pv.WriteOptions(include_header=False, quoting_style="none")
with open(path, "wb") as out:
    out.write(b"userId,movieId,rating,timestamp\\n")
    for start in range(0, rows, 1_000_000):
        n = min(1_000_000, rows - start)
        if kind == "duplicates":
            cols = [np.ones(n, "int64"), np.ones(n, "int64"), np.full(n, "4.0", object),
                    np.full(n, 964982703, "int64")]
        else:
            cols = [rng.integers(1, max(rows // 100, 2), n), rng.choice(ids, n),
                    grid[rng.integers(0, 10, n)],
                    rng.integers(820_454_400, 1_514_764_800, n)]
        table = pa.table(dict(zip(["userId", "movieId", "rating", "timestamp"], cols)))
        pv.write_csv(table, out, write_options=options)
"""

# The peers: argv = path, out, "typed" | "strings".
PEER = """
import sys
import pandas as pd

path, out, kind = sys.argv[1:4]
frame = pd.read_csv(path, dtype=str) if kind == "strings" else pd.read_csv(path)
frame.to_parquet(out)
print(len(frame))
"""


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **QUIET, **extra}


def _measure(argv: list[str], *, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Wall time, peak RSS and output of one process."""
    log = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    log.seek(0)
    output = log.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        tail = "\n".join(output.splitlines()[-20:])
        raise SystemExit(f"{' '.join(argv[:3])} failed:\n{tail}")
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "output": output,
    }


def _scenario(name: str, rows: int, kind: str, scratch: Path) -> dict[str, Any]:
    raw = scratch / name / "raw"
    raw.mkdir(parents=True)
    for other in ("movies.csv", "tags.csv", "links.csv"):
        shutil.copy2(ml_small_dir() / other, raw / other)
    ratings = raw / "ratings.csv"
    python = str(BIN / "python")
    subprocess.run(
        [
            python,
            "-c",
            GENERATE,
            str(ratings),
            str(rows),
            kind,
            str(raw / "movies.csv"),
        ],
        check=True,
        env=_env(),
    )
    size = ratings.stat().st_size
    project = scratch_project(scratch / name / "project")
    run = _measure(
        [str(BIN / "kedro"), "run", "--pipeline", "data_processing"],
        cwd=project,
        env=_env(
            MOVIELENS_DIR=str(raw),
            MLFLOW_TRACKING_URI=f"sqlite:///{project / 'mlflow.db'}",
            REELOPS_PROJECT_ROOT=str(project),
        ),
    )
    report = json.loads((project / "data/08_reporting/ingest_report.json").read_text())
    counts = report["sources"]["ratings"]
    result: dict[str, Any] = {
        "rows": rows,
        "file_mib": round(size / 2**20, 1),
        "kind": kind,
        "reelops": {
            "command": "kedro run --pipeline data_processing",
            "seconds": run["seconds"],
            "rows_per_s": round(rows / run["seconds"]),
            "peak_rss_mib": run["peak_rss_mib"],
            "valid_rows": counts["valid_rows"],
            "quarantined_rows": counts["quarantined_rows"],
            "balanced": report["balanced"],
            "top_reasons": counts["top_reasons"],
        },
    }
    for peer in ("typed", "strings"):
        out = scratch / name / f"peer-{peer}.parquet"
        measured = _measure(
            [python, "-c", PEER, str(ratings), str(out), peer], cwd=scratch, env=_env()
        )
        result[f"pandas_read_csv_{peer}"] = {
            "command": "pandas.read_csv(path"
            + (", dtype=str" if peer == "strings" else "")
            + ").to_parquet(...)",
            "seconds": measured["seconds"],
            "rows_per_s": round(rows / measured["seconds"]),
            "peak_rss_mib": measured["peak_rss_mib"],
        }
    reelops = result["reelops"]
    result["under_2gib_limit"] = reelops["peak_rss_mib"] * 2**20 <= LIMIT_BYTES
    result["peak_vs_pandas_strings"] = round(
        reelops["peak_rss_mib"] / result["pandas_read_csv_strings"]["peak_rss_mib"], 3
    )
    result["time_vs_pandas_typed"] = round(
        reelops["seconds"] / result["pandas_read_csv_typed"]["seconds"], 2
    )
    shutil.rmtree(scratch / name)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=REPO / "reports/bench/ingest.json", help="report"
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000_000, 5_000_000, 25_000_000],
        help="rows of the uniform scenarios",
    )
    parser.add_argument(
        "--no-duplicates",
        action="store_true",
        help="skip the 5 M duplicate rows scenario",
    )
    args = parser.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    scenarios = [(f"uniform-{n}", n, "uniform") for n in args.sizes]
    if not args.no_duplicates:
        scenarios.append(("duplicates-5000000", 5_000_000, "duplicates"))
    scratch = Path(tempfile.mkdtemp(prefix="reelops-ingest-"))
    results: dict[str, Any] = {}
    try:
        for name, rows, kind in scenarios:
            results[name] = _scenario(name, rows, kind, scratch)
            print(f"{name}: {json.dumps(results[name]['reelops'])}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    largest = max(results.values(), key=lambda r: r["rows"])
    payload = {
        "benchmark": "ingest",
        "protocol": __doc__,
        "machine": {**machine_info(), "load_before_1_5_15": load_before},
        "limit_mib": LIMIT_BYTES / 2**20,
        "scenarios": results,
        "goal": "ingest 25 M ratings in <= 2 GiB peak RSS (the Argo ingest task limit)",
        "goals_met": {
            "largest_under_2gib": largest["under_2gib_limit"],
            "every_scenario_under_2gib": all(
                r["under_2gib_limit"] for r in results.values()
            ),
            "every_scenario_balanced": all(
                r["reelops"]["balanced"] for r in results.values()
            ),
        },
    }
    print(
        format_table(
            [
                [
                    name,
                    r["reelops"]["seconds"],
                    r["reelops"]["peak_rss_mib"],
                    r["pandas_read_csv_typed"]["seconds"],
                    r["pandas_read_csv_typed"]["peak_rss_mib"],
                    r["pandas_read_csv_strings"]["seconds"],
                    r["pandas_read_csv_strings"]["peak_rss_mib"],
                    r["under_2gib_limit"],
                ]
                for name, r in results.items()
            ],
            [
                "scenario",
                "reelops s",
                "MiB",
                "read_csv s",
                "MiB",
                "read_csv(str) s",
                "MiB",
                "<= 2 GiB",
            ],
        )
    )
    write_json(args.out, payload)


if __name__ == "__main__":
    main()
