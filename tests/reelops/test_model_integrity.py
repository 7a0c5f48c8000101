"""A model file whose bytes changed after it was saved is never unpickled.

Each store records a sha256 when it saves a model and checks it before unpickling:
the MLflow registry (a model version tag per pickle), the BentoML model store (the
model's metadata) and the candidate pickles on the data root (a ``.sha256`` file).
Each test saves a real model, tampers with the saved file as an attacker with
write access to the artifact store would, and expects the one-line refusal. Files
saved before digests were recorded load with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io.core import DatasetError

import reelops_contracts
from recsys import BiasBaseline, PopularityRecommender
from reelops.challenger import ChallengerPackage
from reelops.datasets.bento_model import BentoModelDataset
from reelops.datasets.registered_model import (
    SHA256_TAG_PREFIX,
    RegisteredModelDataset,
    load_estimator,
    pip_requirements,
)
from reelops.datasets.verified_pickle import VerifiedPickle, VerifiedPickleDataset
from reelops.errors import ArtifactIntegrityError
from reelops_contracts import (
    MOVIE_COLUMNS,
    SHA256_METADATA_KEY,
    USER_COLUMNS,
    ServingBundle,
)
from reelops_serving.bundle import load_bundle
from tests.conftest import tracking_at

MODEL = "reelops-recommender"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tamper(path: Path) -> None:
    """Replace a pickle with another valid one, as a malicious upload would."""
    path.write_bytes(pickle.dumps(PopularityRecommender(), protocol=5))


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    rng = np.random.default_rng(13)
    return pd.DataFrame(
        {
            "user_id": rng.integers(1, 30, 400),
            "movie_id": rng.integers(1, 60, 400),
            "rating": rng.integers(1, 6, 400).astype(float),
        }
    )


@pytest.fixture(scope="module")
def estimator(ratings: pd.DataFrame) -> BiasBaseline:
    return BiasBaseline().fit(
        ratings[["user_id", "movie_id"]], ratings["rating"].to_numpy()
    )


# ------------------------------------------------------------ the MLflow registry
@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> mlflow.MlflowClient:
    monkeypatch.chdir(tmp_path)  # the default artifact root, ./mlruns
    with tracking_at(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        yield mlflow.MlflowClient()


def register(
    ratings: pd.DataFrame,
    estimator: BiasBaseline,
    evaluation: BiasBaseline | VerifiedPickle | None = None,
) -> None:
    with mlflow.start_run(experiment_id="0"):  # the new store's default experiment
        RegisteredModelDataset(model_name=MODEL, alias="challenger").save(
            ChallengerPackage(
                candidate="bias",
                estimator=estimator,
                metrics={},
                input_example=ratings[["user_id", "movie_id"]].head(3),
                evaluation_estimator=estimator if evaluation is None else evaluation,
            )
        )


def test_registration_records_the_sha256_of_every_pickle(
    registry: mlflow.MlflowClient, ratings: pd.DataFrame, estimator: BiasBaseline
) -> None:
    # GIVEN a registered challenger
    register(ratings, estimator)
    mv = registry.get_model_version_by_alias(MODEL, "challenger")
    stored = Path(registry.get_model_version_download_uri(MODEL, mv.version))
    # THEN each pickle the artifact store holds has its digest as a version tag
    assert {k: v for k, v in mv.tags.items() if k.startswith(SHA256_TAG_PREFIX)} == {
        f"{SHA256_TAG_PREFIX}{p.stem}": sha256(p) for p in stored.rglob("*.pkl")
    }
    assert {p.stem for p in stored.rglob("*.pkl")} == {
        "estimator",
        "evaluation_estimator",
        "python_model",
    }
    # AND the untouched version loads
    loaded = RegisteredModelDataset(model_name=MODEL, alias="challenger").load()
    assert loaded.predict(ratings[["user_id", "movie_id"]].head(5)) == pytest.approx(
        estimator.predict(ratings[["user_id", "movie_id"]].head(5))
    )


def test_the_unfitted_view_loads_the_registered_configuration_only(
    registry: mlflow.MlflowClient, ratings: pd.DataFrame, estimator: BiasBaseline
) -> None:
    # GIVEN a registered challenger
    register(ratings, estimator)
    # WHEN it is loaded as challenger_model@unfitted (the holdout refit's input)
    unfitted = RegisteredModelDataset(
        model_name=MODEL, alias="challenger", estimator="unfitted"
    ).load()
    # THEN it is the served estimator's configuration, with none of its fit
    assert type(unfitted) is BiasBaseline
    assert unfitted.get_params() == estimator.get_params()
    assert not hasattr(unfitted, "global_mean_")
    assert hasattr(estimator, "global_mean_")


def test_the_split_fit_is_registered_from_its_pickle_byte_for_byte(
    registry: mlflow.MlflowClient,
    ratings: pd.DataFrame,
    estimator: BiasBaseline,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the split's fit as package_challenger hands it over: its lazy pickle
    split_fit = BiasBaseline(reg_user=3.0).fit(
        ratings[["user_id", "movie_id"]].head(300), ratings["rating"].head(300)
    )
    path = tmp_path / "06_models" / "bias" / "model.pkl"
    VerifiedPickleDataset(filepath=str(path)).save(split_fit)
    pickled = VerifiedPickleDataset(filepath=str(path), lazy=True).load()
    # WHEN it is registered, with unpickling it made impossible
    monkeypatch.setattr(VerifiedPickle, "__call__", lambda self: pytest.fail("loaded"))
    register(ratings, estimator, pickled)
    monkeypatch.undo()
    # THEN the registry holds the candidate file's very bytes, under their digest
    mv = registry.get_model_version_by_alias(MODEL, "challenger")
    stored = Path(registry.get_model_version_download_uri(MODEL, mv.version))
    copied = next(stored.rglob("evaluation_estimator.pkl"))
    assert copied.read_bytes() == path.read_bytes()
    assert mv.tags[f"{SHA256_TAG_PREFIX}evaluation_estimator"] == sha256(path)
    # AND it loads as the evaluation estimator, the served one beside it
    evaluation = load_estimator(f"models:/{MODEL}@challenger", which="evaluation")
    head = ratings[["user_id", "movie_id"]].head(5)
    assert evaluation.predict(head) == pytest.approx(split_fit.predict(head))
    assert evaluation.predict(head) != pytest.approx(estimator.predict(head))


def test_a_tampered_split_fit_is_refused_before_anything_is_registered(
    registry: mlflow.MlflowClient,
    ratings: pd.DataFrame,
    estimator: BiasBaseline,
    tmp_path: Path,
) -> None:
    # GIVEN the split's lazy pickle, replaced after package_challenger took it
    path = tmp_path / "model.pkl"
    VerifiedPickleDataset(filepath=str(path)).save(estimator)
    pickled = VerifiedPickleDataset(filepath=str(path), lazy=True).load()
    tamper(path)
    # WHEN it is registered THEN the copy is refused in one line
    with pytest.raises(ArtifactIntegrityError) as info:
        register(ratings, estimator, pickled)
    assert str(info.value).startswith(f"{path}: sha256 mismatch")
    assert "\n" not in str(info.value)
    # AND no version was created
    assert registry.search_model_versions(f"name='{MODEL}'") == []


def test_an_unknown_estimator_view_is_refused_in_one_line() -> None:
    msg = "estimator must be 'served', 'evaluation' or 'unfitted', got 'split'"
    with pytest.raises(DatasetError, match=f"^{re.escape(msg)}$"):
        RegisteredModelDataset(model_name=MODEL, alias="challenger", estimator="split")


def test_the_stated_pip_requirements_cover_what_mlflow_infers(
    registry: mlflow.MlflowClient, ratings: pd.DataFrame, estimator: BiasBaseline
) -> None:
    # GIVEN a registered version, whose requirements are stated (not inferred)
    register(ratings, estimator)
    mv = registry.get_model_version_by_alias(MODEL, "challenger")
    stored = Path(registry.get_model_version_download_uri(MODEL, mv.version))
    logged = (stored / "requirements.txt").read_text().split()
    assert logged == pip_requirements()
    # WHEN MLflow infers them its own way (loading the model in a subprocess)
    from mlflow.utils.requirements_utils import _infer_requirements

    inferred = _infer_requirements(
        f"models:/{MODEL}/{mv.version}", "python_function", raise_on_error=True
    )
    # THEN every inferred requirement is stated, at the same version
    assert set(inferred) <= set(logged), sorted(set(inferred) - set(logged))


@pytest.mark.parametrize(
    ("which", "artifact"),
    [
        ("served", "artifacts/estimator.pkl"),
        ("evaluation", "artifacts/evaluation_estimator.pkl"),
        ("served", "python_model.pkl"),
    ],
)
def test_a_tampered_registered_pickle_is_refused(
    registry: mlflow.MlflowClient,
    ratings: pd.DataFrame,
    estimator: BiasBaseline,
    which: str,
    artifact: str,
) -> None:
    # GIVEN a registered version, one of whose pickles is then replaced in the store
    register(ratings, estimator)
    mv = registry.get_model_version_by_alias(MODEL, "challenger")
    target = Path(registry.get_model_version_download_uri(MODEL, mv.version))
    target /= artifact
    expected = sha256(target)
    tamper(target)
    # WHEN it is loaded THEN it is refused in one line, before unpickling
    msg = (
        f"models:/{MODEL}/{mv.version} {artifact}: sha256 mismatch: expected "
        f"{expected}, got {sha256(target)} (refusing to unpickle)"
    )
    dataset = RegisteredModelDataset(model_name=MODEL, alias="challenger")
    with pytest.raises(ArtifactIntegrityError, match=f"^{re.escape(msg)}$"):
        load_estimator(f"models:/{MODEL}@challenger", which)  # type: ignore[arg-type]
    with pytest.raises(ArtifactIntegrityError, match=f"^{re.escape(msg)}$"):
        dataset.load()


def test_a_version_registered_before_digests_loads_with_a_warning(
    registry: mlflow.MlflowClient,
    ratings: pd.DataFrame,
    estimator: BiasBaseline,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a version without sha256 tags (registered before they were recorded)
    register(ratings, estimator)
    mv = registry.get_model_version_by_alias(MODEL, "challenger")
    for key in [k for k in mv.tags if k.startswith(SHA256_TAG_PREFIX)]:
        registry.delete_model_version_tag(MODEL, mv.version, key)
    # WHEN it is loaded THEN it loads, and a warning names it
    with caplog.at_level(logging.WARNING):
        assert load_estimator(f"models:/{MODEL}/{mv.version}") is not None
    assert (
        f"models:/{MODEL}/{mv.version} has no recorded sha256 (saved before model "
        "files were hashed): unpickling it unverified; save it again to record one"
    ) in caplog.messages


def test_a_pickle_without_its_tag_is_refused_when_the_version_has_digests(
    registry: mlflow.MlflowClient, ratings: pd.DataFrame, estimator: BiasBaseline
) -> None:
    # GIVEN a version that records digests, but not the one of its estimator
    register(ratings, estimator)
    mv = registry.get_model_version_by_alias(MODEL, "challenger")
    registry.delete_model_version_tag(
        MODEL, mv.version, f"{SHA256_TAG_PREFIX}estimator"
    )
    # THEN the estimator is not unpickled
    msg = (
        f"models:/{MODEL}/{mv.version} artifacts/estimator.pkl: no sha256 recorded "
        f"(expected model version tag '{SHA256_TAG_PREFIX}estimator') "
        "(refusing to unpickle)"
    )
    with pytest.raises(ArtifactIntegrityError, match=re.escape(msg)):
        load_estimator(f"models:/{MODEL}/{mv.version}")


# --------------------------------------------------------- the BentoML model store
@pytest.fixture
def bundle(estimator: BiasBaseline) -> ServingBundle:
    movies = pd.DataFrame(
        {
            "movie_id": [1, 2],
            "title": ["A", "B"],
            "year": [1999, 2000],
            "genres": ["Drama", "Comedy"],
            "n_ratings": [10, 5],
            "popularity_rank": [1, 2],
        }
    )[list(MOVIE_COLUMNS)]
    users = pd.DataFrame({"user_id": [1], "n_ratings": [3], "activity": ["low"]})
    return ServingBundle(
        tag=f"{MODEL}:v7-0123abcd",
        estimator=estimator,
        movies=movies,
        users=users[list(USER_COLUMNS)],
        metadata={"model_version": "7"},
        labels={"model_version": "7"},
    )


def saved_bundle(bundle: ServingBundle, home: Path) -> dict[str, Any]:
    dataset = BentoModelDataset(model_name=MODEL, bentoml_home=str(home))
    dataset.save(bundle)
    return dataset.load()


def reload(stored: dict[str, Any]) -> ServingBundle:
    """What the service does at start-up with the model it serves."""
    return load_bundle(
        Path(stored["path"]),
        tag=stored["tag"],
        metadata=stored["metadata"],
        labels=stored["labels"],
    )


def test_a_tampered_bento_model_is_refused(
    bundle: ServingBundle, tmp_path: Path
) -> None:
    # GIVEN a packaged model whose metadata records the estimator's sha256
    stored = saved_bundle(bundle, tmp_path / "bentoml")
    target = Path(stored["path"]) / "estimator.pkl"
    expected = sha256(target)
    assert stored["metadata"][SHA256_METADATA_KEY] == {"estimator.pkl": expected}
    model_yaml = yaml.safe_load((Path(stored["path"]) / "model.yaml").read_text())
    assert model_yaml["metadata"][SHA256_METADATA_KEY] == {"estimator.pkl": expected}
    assert type(reload(stored).estimator) is BiasBaseline
    # WHEN the estimator file is replaced THEN the bundle is refused in one line
    tamper(target)
    msg = (
        f"bento model {bundle.tag} estimator.pkl: sha256 mismatch: expected "
        f"{expected}, got {sha256(target)} (refusing to unpickle)"
    )
    with pytest.raises(
        reelops_contracts.ArtifactIntegrityError, match=f"^{re.escape(msg)}$"
    ):
        reload(stored)


def test_a_bento_model_packaged_before_digests_loads_with_a_warning(
    bundle: ServingBundle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stored = saved_bundle(bundle, tmp_path / "bentoml")
    metadata = {k: v for k, v in stored["metadata"].items() if k != SHA256_METADATA_KEY}
    with caplog.at_level(logging.WARNING):
        reload({**stored, "metadata": metadata})
    assert any(
        m.startswith(f"bento model {bundle.tag} estimator.pkl has no recorded sha256")
        for m in caplog.messages
    )


# ------------------------------------------------- candidate pickles (data root)
def test_a_tampered_candidate_pickle_is_refused(
    estimator: BiasBaseline, tmp_path: Path
) -> None:
    # GIVEN a candidate model saved by the catalog's dataset, with its digest beside
    path = tmp_path / "06_models" / "bias" / "model.pkl"
    dataset = VerifiedPickleDataset(filepath=str(path), save_args={"protocol": 5})
    dataset.save(estimator)
    expected = sha256(path)
    sidecar = path.with_name("model.pkl.sha256")
    assert sidecar.read_text() == f"{expected}  model.pkl\n"
    assert type(dataset.load()) is BiasBaseline
    # WHEN the pickle is replaced THEN loading it is refused in one line
    tamper(path)
    msg = (
        f"{path}: sha256 mismatch: expected {expected}, got {sha256(path)} "
        "(refusing to unpickle)"
    )
    with pytest.raises(ArtifactIntegrityError, match=f"^{re.escape(msg)}$"):
        dataset.load()


def test_a_candidate_pickle_without_its_digest_loads_with_a_warning(
    estimator: BiasBaseline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(estimator, protocol=5))
    with caplog.at_level(logging.WARNING):
        assert type(VerifiedPickleDataset(filepath=str(path)).load()) is BiasBaseline
    assert f"{path} has no recorded sha256" in caplog.text


def test_a_lazy_candidate_pickle_is_read_and_checked_only_when_called(
    estimator: BiasBaseline, tmp_path: Path
) -> None:
    # GIVEN a candidate pickle and its lazy twin (the catalog's model@lazy)
    path = tmp_path / "model.pkl"
    VerifiedPickleDataset(filepath=str(path)).save(estimator)
    lazy = VerifiedPickleDataset(filepath=str(path), lazy=True)
    # WHEN it is loaded THEN nothing is read yet: the loader is handed out
    loader = lazy.load()
    path.unlink()
    with pytest.raises(FileNotFoundError):
        loader()
    # AND calling it unpickles the file, refusing a tampered one as the eager load does
    VerifiedPickleDataset(filepath=str(path)).save(estimator)
    assert type(loader()) is BiasBaseline
    tamper(path)
    with pytest.raises(ArtifactIntegrityError, match="sha256 mismatch"):
        loader()


def test_a_candidate_pickle_loads_without_a_copy_of_its_bytes(tmp_path: Path) -> None:
    import tracemalloc

    # GIVEN a 40 MB model saved by the dataset
    dataset = VerifiedPickleDataset(filepath=str(tmp_path / "model.pkl"))
    dataset.save(np.ones(5_000_000))
    # WHEN it is loaded THEN the peak is the model, not the model plus its bytes
    tracemalloc.start()
    try:
        loaded = dataset.load()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loaded.nbytes == 40_000_000
    assert peak < 1.25 * loaded.nbytes
