"""Helpers shared by the benchmark scripts (data loading, timing, reporting)."""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_ML_SMALL = Path("/work/shared/data/movielens/ml-latest-small")
ML_SMALL_ENV = "RECSYS_ML_LATEST_SMALL"

# The model bench's protocol (models.py and its modules).
#: Seed of the 80/20 split of ml-latest-small and of every estimator.
SEED = 42
#: Seed of the validation split carved from the train part (peer tuning).
VALIDATION_SEED = 0
#: Cut-off of the ranking metrics.
K = 10


#: Users who arrived before it calibrate the monitoring thresholds; the others
#: evaluate them (bench/monitoring.py, bench/monitoring_traffic.py).
COHORT_SPLIT = pd.Timestamp("2008-01-01")


def seconds(moment: pd.Timestamp) -> int:
    """Epoch seconds of ``moment``."""
    return int(moment.value // 10**9)


def cohort(ratings: pd.DataFrame, *, early: bool) -> pd.DataFrame:
    """Ratings of the users who arrived before (``early``) or from the split on."""
    first = ratings.groupby("user_id")["timestamp"].transform("min")
    return ratings[(first < seconds(COHORT_SPLIT)) == early]


def ml_small_dir() -> Path:
    """Directory of ml-latest-small (``$RECSYS_ML_LATEST_SMALL`` overrides)."""
    return Path(os.environ.get(ML_SMALL_ENV, DEFAULT_ML_SMALL))


def load_ratings(directory: Path) -> pd.DataFrame:
    """Read ``ratings.csv`` with the library's column names (CRLF-safe)."""
    frame = pd.read_csv(directory / "ratings.csv")
    return frame.rename(columns={"userId": "user_id", "movieId": "movie_id"})


def load_ratings_and_movies(directory: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``ratings.csv`` and ``movies.csv`` with the library's column names."""
    movies = pd.read_csv(directory / "movies.csv").rename(
        columns={"movieId": "movie_id"}
    )
    return load_ratings(directory), movies


def relevant_items(test: pd.DataFrame) -> dict[Any, set[Any]]:
    """Every held-out movie of each user (the ranking protocol's relevant set)."""
    return test.groupby("user_id")["movie_id"].apply(set).to_dict()


def report_key(name: str) -> str:
    """A recsys vocabulary name as models.json writes it (``ndcg@10``: ``ndcg_at_10``).

    The report's keys predate the vocabulary; they stay so that reports compare
    across runs.
    """
    return name.replace("@", "_at_")


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[Any, list[float]]:
    """Run ``fn`` ``repeats`` times; return the last result and every duration (s)."""
    times = []
    result = None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, times


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far.

    Linux's ``VmHWM`` starts afresh at ``exec``, unlike ``ru_maxrss``, which a
    child started by a big parent inherits; ``ru_maxrss`` is the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def latency_summary(seconds: list[float]) -> dict[str, float]:
    """Median / p90 / p99 / max of per-call durations, in milliseconds."""
    ms = np.asarray(seconds) * 1e3
    return {
        "median_ms": float(np.median(ms)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "n_calls": len(ms),
    }


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average_1_5_15": [round(x, 2) for x in load],
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """The one function that writes the report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")


def format_table(rows: list[list[Any]], header: list[str]) -> str:
    """A plain fixed-width text table."""
    cells = [header, *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "PASS" if value else "FAIL"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


#: Environment of every process a bench starts: no telemetry or usage reports from
#: Kedro, BentoML or whylogs, no plot windows, no warning noise in parsed output.
QUIET = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "BENTOML_DO_NOT_TRACK": "true",
    "WHYLOGS_NO_ANALYTICS": "True",
    "MPLBACKEND": "Agg",
    "PYTHONWARNINGS": "ignore",
}

#: The repository the benches measure.
REPO = Path(__file__).resolve().parents[1]


def scratch_project(target: Path) -> Path:
    """A scratch git repo holding the Kedro project: its conf/ (without local/),
    pipelines/ and pyproject.toml; the package is the venv's (linked for Kedro)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("conf", "pipelines"):
        shutil.copytree(
            REPO / name, target / name, ignore=shutil.ignore_patterns("local")
        )
    (target / "conf" / "local").mkdir(exist_ok=True)
    for name in ("pyproject.toml", ".telemetry", ".gitignore"):
        shutil.copy2(REPO / name, target / name)
    src = target / "packages" / "reelops" / "src"
    src.mkdir(parents=True)
    (src / "reelops").symlink_to(REPO / "packages" / "reelops" / "src" / "reelops")
    git = ["git", "-C", str(target), "-c", "user.name=b", "-c", "user.email=b@b"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "bench project"], check=True)
    return target
