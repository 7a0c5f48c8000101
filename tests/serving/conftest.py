"""Fixtures of the serving tests: a small real model packaged into a temp BentoML home.

The model is an EASE fitted on the ratings of the first 60 MovieLens users, with
the real catalog and user features built by the project's own node functions, and
packaged by the packaging node and ``BentoModelDataset`` exactly as the pipeline
does. A second bundle (``BiasBaseline``, which has no item similarity) exercises the
fallbacks. Everything lives in a temporary ``BENTOML_HOME`` set before BentoML
creates its stores.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# BentoML picks its home, and prometheus_client its multiprocess mode, once per
# process: both are set before either is used.
_SCRATCH = Path(tempfile.mkdtemp(prefix="reelops-serving-tests-"))
os.environ.setdefault("BENTOML_HOME", str(_SCRATCH / "bentoml"))
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_SCRATCH / "prometheus"))
Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

import pandas as pd  # noqa: E402
import yaml  # noqa: E402

from tests.conftest import QUIET_ENV, REPO, free_port, movielens_dir  # noqa: E402

MODEL = "reelops-recommender"
EASE_TAG = f"{MODEL}:v1-00000000"
BIAS_TAG = f"{MODEL}:v2-11111111"
BLEND_TAG = f"{MODEL}:v3-22222222"
N_USERS = 60
VENV_BIN = Path(sys.executable).parent


def validation_rules() -> dict[str, Any]:
    """The ``validation`` parameters of the project (parameters_data_processing.yml)."""
    params = REPO / "conf" / "base" / "parameters_data_processing.yml"
    return yaml.safe_load(params.read_text())["validation"]


@pytest.fixture(scope="session", autouse=True)
def _scratch() -> Iterator[Path]:
    yield _SCRATCH
    shutil.rmtree(_SCRATCH, ignore_errors=True)


@pytest.fixture(scope="session")
def tables() -> dict[str, pd.DataFrame]:
    """Valid movies and the ratings of the first users, features included."""
    from reelops.datasets.raw_csv import RawCSVDataset
    from reelops.nodes.features import build_movie_features, build_user_features
    from reelops.nodes.ingest import validate_movies
    from reelops.rating_validation import validate_ratings

    source = movielens_dir()
    rules = validation_rules()
    raw_movies = RawCSVDataset(
        filepath=str(source / "movies.csv"), columns=["movieId", "title", "genres"]
    ).load()
    movies, _ = validate_movies(raw_movies, rules)
    raw_ratings = RawCSVDataset(
        filepath=str(source / "ratings.csv"),
        columns=["userId", "movieId", "rating", "timestamp"],
    ).load()
    raw_ratings = raw_ratings[raw_ratings["userId"].str.strip().astype(int) <= N_USERS]
    ratings, _ = validate_ratings(raw_ratings, movies, rules)
    return {
        "movies": movies,
        "ratings": ratings,
        "movie_features": build_movie_features(movies, ratings),
        "user_features": build_user_features(ratings),
    }


def make_bundle(
    tables: dict[str, pd.DataFrame], estimator: Any, *, version: str, run_id: str
) -> Any:
    """A bundle made by the packaging node, as the pipeline makes it."""
    from reelops.nodes.packaging import assemble_serving_bundle

    ratings = tables["ratings"]
    estimator.fit(
        ratings[["user_id", "movie_id", "timestamp"]], ratings["rating"].to_numpy()
    )
    bundle, summary = assemble_serving_bundle(
        champion_decision={
            "champion": type(estimator).__name__.lower(),
            "register": True,
            "reasons": [],
        },
        challenger_model=estimator,
        challenger_version={
            "model_name": MODEL,
            "alias": "challenger",
            "version": version,
            "run_id": run_id,
            "registered_in_active_run": True,
            "tags": {},
            "run_tags": {
                "git.sha": "0" * 40,
                "git.dirty": "false",
                "data.sha256": "a" * 64,
            },
            "metrics": {"ndcg_at_10": 0.25, "rmse": 0.9},
        },
        movie_features=tables["movie_features"],
        user_features=tables["user_features"],
        validation=validation_rules(),
        packaging={"model_name": MODEL},
    )
    assert summary["packaged"], summary
    return bundle


@pytest.fixture(scope="session")
def bundles(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The EASE bundle and the BiasBaseline bundle."""
    from recsys import EASE, BiasBaseline

    return {
        "ease": make_bundle(
            tables, EASE(min_item_count=3), version="1", run_id="00000000ffff"
        ),
        "bias": make_bundle(tables, BiasBaseline(), version="2", run_id="11111111ffff"),
    }


@pytest.fixture(scope="session")
def model_store(bundles: dict[str, Any]) -> Path:
    """Both bundles saved to the session's BentoML store, as the pipeline saves them."""
    from reelops.datasets.bento_model import BentoModelDataset

    dataset = BentoModelDataset(model_name=MODEL)
    for bundle in bundles.values():
        dataset.save(bundle)
    return Path(os.environ["BENTOML_HOME"])


@pytest.fixture(scope="session")
def blend_model(model_store: Path, tables: dict[str, pd.DataFrame]) -> Any:
    """A time-aware blend (same-day user offsets), packaged as BLEND_TAG."""
    from recsys import BiasBaseline, BlendRecommender
    from reelops.datasets.bento_model import BentoModelDataset

    estimator = BlendRecommender([("bias", BiasBaseline())], random_state=0)
    bundle = make_bundle(tables, estimator, version="3", run_id="22222222ffff")
    BentoModelDataset(model_name=MODEL).save(bundle)
    return estimator


@pytest.fixture
def serving_env(
    model_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment of a local service on the EASE model (no token, tmp storage)."""
    # in-process profiling: no child process per test client (test_server.py
    # serves with the default, offloaded profiling)
    config = tmp_path / "serving.yaml"
    config.write_text("profiling: {offload: false}\n")
    env = {
        "REELOPS_SERVING_CONFIG": str(config),
        "REELOPS_ENV": "local",
        "REELOPS_MODEL_TAG": EASE_TAG,
        "REELOPS_FEEDBACK_DB_URL": f"sqlite:///{tmp_path / 'feedback.db'}",
        "REELOPS_PROFILE_PATH": str(tmp_path / "profiles"),
    }
    for name in ("REELOPS_API_TOKENS", "REELOPS_API_TOKENS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def make_client(
    serving_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """``make_client(**env)``: a TestClient of ``Recommender.to_asgi()`` (started)."""
    from starlette.testclient import TestClient

    from reelops_serving.service import Recommender

    clients: list[Any] = []

    def make(**env: str) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _forget_bentoml_metrics()
        client = TestClient(Recommender.to_asgi())
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _forget_bentoml_metrics() -> None:
    """Unregister BentoML's HTTP metrics so that another app can register them.

    BentoML's traffic-metrics middleware registers its collectors on the first
    request of each app: a second ``to_asgi()`` app in one process would raise
    DuplicateTimeseries (one app per process is what BentoML serves).
    """
    from prometheus_client import REGISTRY

    for collector in list(REGISTRY._collector_to_names):
        names = REGISTRY._collector_to_names[collector]
        if any(name.startswith("bentoml_service_") for name in names):
            REGISTRY.unregister(collector)


@pytest.fixture
def client(make_client: Any) -> Any:
    """A started TestClient of the service, no token configured."""
    return make_client()


def start_server(
    env: dict[str, str],
    log: Path,
    *,
    target: str = "reelops_serving.service:Recommender",
) -> tuple[subprocess.Popen[bytes], str]:
    """``bentoml serve <target>`` on 127.0.0.1 and a free port (not waited for)."""
    port = free_port()
    handle = log.open("wb")
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "bentoml"),
            "serve",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=log.parent,
        env={**os.environ, **QUIET_ENV, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """SIGTERM (graceful shutdown), then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=10)
    return proc.returncode
