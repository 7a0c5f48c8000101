"""MovieLens 100K for the out-of-sample accuracy check, fetched from PyPI at bench time.

GroupLens is out of reach here, but RecBole's wheel (``recbole==1.2.1`` on PyPI)
ships the whole ml-100k release as ``recbole/dataset_example/ml-100k/ml-100k.inter``
(100,000 ratings of 943 users on 1,682 movies, integer stars, Unix timestamps).
The wheel is installed with uv, with no dependency, into a git-ignored directory,
and the file is checked against its pinned sha256 before it is read; nothing of
it is committed.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pandas as pd

__all__ = ["DATASETS", "ML_100K_SHA256", "fetch_ml_100k", "load_ml_100k"]

#: The PyPI distribution whose wheel bundles ml-100k.
DISTRIBUTION = "recbole==1.2.1"
#: sha256 of ``ml-100k.inter`` in that wheel.
ML_100K_SHA256 = (
    "4edb74e2a81178c2ba9ff381495f754f"  # pragma: allowlist secret
    "996c4aea351b1272ca36b43da0935eff"  # pragma: allowlist secret
)
INTER = Path("recbole/dataset_example/ml-100k/ml-100k.inter")
REPO = Path(__file__).resolve().parents[1]
#: Where the wheel is unpacked (git-ignored: build/).
CACHE = REPO / "build/bench-data/recbole"
UV = REPO / ".tools/bin/uv"


class DatasetError(RuntimeError):
    """The ml-100k file could not be fetched or is not the pinned one."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_ml_100k(cache: Path = CACHE) -> Path:
    """Path of the verified ``ml-100k.inter``, fetched from PyPI once."""
    path = cache / INTER
    if not path.exists():
        command = [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--target",
            str(cache),
            DISTRIBUTION,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            msg = f"cannot fetch {DISTRIBUTION} from PyPI for ml-100k: {last}"
            raise DatasetError(msg)
    digest = _sha256(path)
    if digest != ML_100K_SHA256:
        msg = f"{path}: expected sha256 {ML_100K_SHA256}, got {digest}"
        raise DatasetError(msg)
    return path


def load_ml_100k(cache: Path = CACHE) -> pd.DataFrame:
    """ml-100k ratings with the library's columns (user_id, movie_id, ...)."""
    frame = pd.read_csv(fetch_ml_100k(cache), sep="\t")
    frame.columns = [c.split(":")[0] for c in frame.columns]
    return (
        frame.rename(columns={"item_id": "movie_id"})
        .astype({"user_id": "int64", "movie_id": "int64", "rating": "float64"})
        .assign(timestamp=lambda f: f["timestamp"].astype("int64"))
    )


def _load_ml_latest_small() -> pd.DataFrame:
    from _common import load_ratings, ml_small_dir

    return load_ratings(ml_small_dir())


#: Data sets by name (what a report calls each, its loader): the one the goals are
#: on, then the out-of-sample check.
DATASETS = {
    "ml-latest-small": ("ml-latest-small ratings.csv", _load_ml_latest_small),
    "ml-100k": (
        "MovieLens 100K (ml-100k.inter of the recbole 1.2.1 wheel, PyPI)",
        load_ml_100k,
    ),
}
