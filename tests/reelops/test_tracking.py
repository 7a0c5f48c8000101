"""Candidate child runs and the training summary in a real (sqlite) MLflow store.

Unit tests of the pure records (:mod:`reelops.tracking`, the tracking nodes), then
the datasets that write them, against a tracking DB in a temporary directory.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.io.core import DatasetError

from recsys import BiasBaseline, MatrixFactorization
from reelops.challenger import ChallengerPackage
from reelops.datasets.candidate_run import (
    MlflowCandidateRunDataset,
    MlflowTrainingSummaryDataset,
    candidate_run_id,
)
from reelops.datasets.registered_model import RegisteredModelDataset
from reelops.nodes.tracking import summarize_training, track_candidate
from reelops.tracking import (
    CANDIDATE_TAG,
    ROLE_TAG,
    estimator_params,
    frame_digest,
    mlflow_key,
    mlflow_metrics,
)
from tests.conftest import tracking_at

MODEL = "reelops-recommender"
METRICS = {
    "estimator": "bias",
    "rmse": 0.9,
    "ndcg@10": 0.25,
    "coverage@10": 0.1,
    "n_test": 80,
    "flag": True,
}


@pytest.fixture(scope="module")
def ratings() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "user_id": rng.integers(1, 30, 400),
            "movie_id": rng.integers(1, 60, 400),
            "rating": rng.integers(1, 6, 400).astype(float),
            "timestamp": rng.integers(0, 10_000, 400),
        }
    )


@pytest.fixture(scope="module")
def model(ratings: pd.DataFrame) -> BiasBaseline:
    return BiasBaseline(n_epochs=3).fit(
        ratings[["user_id", "movie_id"]], ratings["rating"].to_numpy()
    )


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> mlflow.MlflowClient:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)  # the default artifact root
    with tracking_at(uri):
        yield mlflow.MlflowClient()


def children(client: mlflow.MlflowClient, parent_id: str) -> list:
    return client.search_runs(
        ["0"], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )


# ----------------------------------------------------------------- pure records
def test_metric_keys_replace_at_and_drop_what_mlflow_refuses() -> None:
    assert mlflow_key("ndcg@10") == "ndcg_at_10"
    assert mlflow_key("a b/c.d-e:f") == "a b/c.d-e:f"
    assert mlflow_key("x(y)") == "x_y_"
    assert mlflow_metrics(METRICS) == {
        "rmse": 0.9,
        "ndcg_at_10": 0.25,
        "coverage_at_10": 0.1,
        "n_test": 80.0,
    }


def test_estimator_params_are_get_params_deep_as_strings() -> None:
    estimator = MatrixFactorization(n_factors=8, random_state=3)
    params = estimator_params(estimator)
    assert params == {k: str(v) for k, v in estimator.get_params(deep=True).items()}
    assert params["n_factors"] == "8"
    assert params["random_state"] == "3"


def test_frame_digest_covers_every_row_not_a_sample() -> None:
    frame = pd.DataFrame({"a": range(20_000), "b": 1.0})
    changed = frame.copy()
    changed.loc[19_999, "b"] = 2.0
    assert len(frame_digest(frame)) == 64
    assert frame_digest(frame) == frame_digest(frame.copy())
    assert frame_digest(frame) != frame_digest(changed)


def test_summary_roles_mark_champion_and_baseline() -> None:
    decision = {
        "champion": "mf",
        "register": True,
        "gates": {"beats_baseline": {"baseline": "bias"}},
    }
    table = {"candidates": {"bias": {"rmse": 1.0}, "mf": {"rmse": 0.9, "ndcg@10": 0.3}}}
    summary = summarize_training(decision, table)
    assert summary.champion == "mf"
    assert summary.metrics == {"rmse": 0.9, "ndcg_at_10": 0.3}
    assert summary.roles == {"bias": "baseline", "mf": "champion"}
    lone = summarize_training({**decision, "champion": "bias"}, table)
    assert lone.roles == {"bias": "champion+baseline", "mf": "candidate"}


# ------------------------------------------------------- datasets, real MLflow
def test_candidate_run_is_one_named_child_with_params_metrics_and_inputs(
    client: mlflow.MlflowClient, model: BiasBaseline, ratings: pd.DataFrame
) -> None:
    # GIVEN a pipeline run with lineage tags
    train, test = ratings.iloc[:300], ratings.iloc[300:]
    record = track_candidate(model, METRICS, train, test)
    dataset = MlflowCandidateRunDataset(candidate="bias")
    with mlflow.start_run(experiment_id="0") as parent:
        mlflow.set_tags({"git.sha": "a" * 40, "mlflow.source.git.commit": "a" * 40})
        # WHEN the candidate is saved twice (an Argo retry)
        dataset.save(record)
        dataset.save(record)
        loaded = dataset.load()
    # THEN there is one child run of the pipeline run, named after the candidate
    [child] = children(client, parent.info.run_id)
    assert child.info.run_name == "bias"
    assert child.info.status == "FINISHED"
    assert child.data.tags[CANDIDATE_TAG] == "bias"
    assert child.data.tags["mlflow.source.git.commit"] == "a" * 40
    # AND it holds the effective hyperparameters and unprefixed metrics
    assert child.data.params == {
        k: str(v) for k, v in model.get_params(deep=True).items()
    }
    assert child.data.metrics == mlflow_metrics(METRICS)
    assert loaded["run_id"] == child.info.run_id
    # AND the splits are its dataset inputs, by context, with a full digest
    inputs = {
        (i.dataset.name, i.tags[0].value): i.dataset.digest
        for i in child.inputs.dataset_inputs
    }
    assert inputs == {
        ("train_ratings", "training"): frame_digest(train)[:36],
        ("test_ratings", "evaluation"): frame_digest(test)[:36],
    }
    # AND the pipeline run itself got none of it
    assert client.get_run(parent.info.run_id).data.metrics == {}


def test_without_an_active_run_nothing_is_recorded_and_reading_is_refused(
    client: mlflow.MlflowClient,
    model: BiasBaseline,
    ratings: pd.DataFrame,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN tracking disabled for the pipeline (no active run)
    dataset = MlflowCandidateRunDataset(candidate="bias")
    # WHEN a candidate is saved THEN nothing is recorded, with a warning
    dataset.save(track_candidate(model, METRICS, ratings, ratings))
    assert "no active MLflow run: candidate 'bias' not recorded" in caplog.text
    assert client.search_runs(["0"]) == []
    # AND reading it back is refused in one line
    msg = (
        "reading candidate 'bias' needs an active MLflow run "
        "(is tracking disabled for this pipeline?)"
    )
    with pytest.raises(DatasetError, match=re.escape(msg)):
        dataset.load()


def test_summary_goes_on_the_pipeline_run_and_roles_on_children(
    client: mlflow.MlflowClient,
    model: BiasBaseline,
    ratings: pd.DataFrame,
    tmp_path: Path,
) -> None:
    # GIVEN a raw file whose sha256 the ingest tagged, and two candidate runs
    raw = tmp_path / "ratings.csv"
    raw.write_text("userId,movieId,rating,timestamp\n1,1,4.0,0\n")
    sha = hashlib.sha256(raw.read_bytes()).hexdigest()
    decision = {
        "champion": "mf",
        "register": False,
        "gates": {"beats_baseline": {"baseline": "bias"}},
    }
    table = {"candidates": {"bias": {"rmse": 1.0}, "mf": {"rmse": 0.9}}}
    with mlflow.start_run(experiment_id="0") as parent:
        mlflow.set_tag("data.sha256.ratings", sha)
        for name in ("bias", "mf"):
            MlflowCandidateRunDataset(candidate=name).save(
                track_candidate(model, METRICS, ratings, ratings)
            )
        # WHEN the summary is saved
        dataset = MlflowTrainingSummaryDataset(raw_files={"ratings": str(raw)})
        dataset.save(summarize_training(decision, table))
        loaded = dataset.load()
    # THEN the pipeline run keeps the champion and its metrics only
    run = client.get_run(parent.info.run_id)
    assert run.data.metrics == {"rmse": 0.9}
    assert run.data.tags["reelops.champion"] == "mf"
    assert run.data.tags["reelops.champion.registered"] == "false"
    assert loaded == {"champion": "mf", "metrics": {"rmse": 0.9}}
    # AND the raw file is its input, its digest the ingest's sha256
    [raw_input] = run.inputs.dataset_inputs
    assert raw_input.dataset.name == "raw_ratings"
    assert raw_input.dataset.digest == sha[:36]
    # AND every child run has its role
    roles = {
        r.data.tags[CANDIDATE_TAG]: r.data.tags[ROLE_TAG]
        for r in children(client, parent.info.run_id)
    }
    assert roles == {"bias": "baseline", "mf": "champion"}


def test_registered_model_is_named_after_its_candidate_in_its_child_run(
    client: mlflow.MlflowClient, model: BiasBaseline, ratings: pd.DataFrame
) -> None:
    # GIVEN a pipeline run with metrics of its own and a candidate's child run
    with mlflow.start_run(experiment_id="0") as parent:
        mlflow.log_metric("eda.n_ratings", 400)
        MlflowCandidateRunDataset(candidate="bias").save(
            track_candidate(model, METRICS, ratings, ratings)
        )
        # WHEN the candidate is registered
        RegisteredModelDataset(model_name=MODEL, alias="challenger").save(
            ChallengerPackage(
                candidate="bias",
                estimator=model,
                metrics=mlflow_metrics(METRICS),
                input_example=ratings[["user_id", "movie_id"]].head(3),
                evaluation_estimator=model,
            )
        )
        # THEN the pipeline run is still the active one
        assert mlflow.active_run().info.run_id == parent.info.run_id
    child_id = candidate_run_id(client, parent.info.run_id, "bias")
    version = client.get_model_version_by_alias(MODEL, "challenger")
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    # AND the logged model is named after the candidate, in its child run
    assert logged.name == "bias"
    assert logged.source_run_id == child_id
    # AND carries that candidate's metrics and hyperparameters only
    assert {m.key: m.value for m in logged.metrics} == mlflow_metrics(METRICS)
    assert logged.params == client.get_run(child_id).data.params
    # AND the version belongs to the pipeline run (lineage, packaging tags)
    assert version.run_id == parent.info.run_id
    assert version.tags["mlflow.run_id"] == parent.info.run_id
    assert version.tags["candidate.run_id"] == child_id
    assert version.tags["metric.ndcg_at_10"] == "0.25"
