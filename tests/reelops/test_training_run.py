"""Training end to end with real Kedro runs, a real MLflow registry, real data.

One scratch project on the ratings of the first 120 MovieLens users: the first run
(numba's cache cold) registers a challenger; a second identical run (cache warm)
reproduces it bit for bit; then the gates refuse a candidate that does not beat the
baseline and one worse than the registered champion.
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from reelops.tracking import frame_digest, mlflow_key
from tests.conftest import make_project, movielens_subset, run_kedro, tracking_at

pytestmark = pytest.mark.slow
MODEL = "reelops-recommender"
CANDIDATES = ("popularity", "bias", "mf", "item_knn", "ease", "blend", "hybrid")


def snapshot(project: Path) -> dict:
    comparison = json.loads(
        (project / "data/08_reporting/model_comparison.json").read_text()
    )
    hashes = {
        c: hashlib.sha256(
            (project / f"data/06_models/{c}/model.pkl").read_bytes()
        ).hexdigest()
        for c in CANDIDATES
    }
    metrics = {
        c: {k: v for k, v in m.items() if not k.endswith("_seconds")}
        for c, m in comparison["candidates"].items()
    }
    return {"comparison": comparison, "hashes": hashes, "metrics": metrics}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("training")
    raw = movielens_subset(root / "raw", n_users=120)
    project = make_project(root / "project")
    # The first run compiles numba's kernels into an empty cache (cold), the second
    # loads them from it (warm): the model files must not tell the two apart.
    env = {"MOVIELENS_DIR": str(raw), "NUMBA_CACHE_DIR": str(root / "numba")}
    run_kedro(project, "run", "--pipeline", "training", env=env)
    first = snapshot(project)
    assert any((root / "numba").rglob("*.nbi")), "the first run cached no kernel"
    run_kedro(project, "run", "--pipeline", "training", env=env)
    second = snapshot(project)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    return {
        "project": project,
        "raw": raw,
        "env": env,
        "first": first,
        "second": second,
        "client": client,
        "run": latest_run(client),
    }


def latest_run(client: mlflow.MlflowClient) -> mlflow.entities.Run:
    exp = client.get_experiment_by_name("reelops")
    return client.search_runs(
        [exp.experiment_id],
        filter_string="tags.mlflow.parentRunId IS NULL",
        order_by=["attributes.start_time DESC"],
    )[0]


def test_comparison_report_has_every_candidate_metric_and_the_split(
    trained: dict,
) -> None:
    comparison = trained["first"]["comparison"]
    assert set(comparison["candidates"]) == set(CANDIDATES)
    for metrics in comparison["candidates"].values():
        assert set(metrics) >= {
            "rmse",
            "mae",
            "precision@10",
            "recall@10",
            "ndcg@10",
            "map@10",
            "coverage@10",
            "fit_seconds",
            "predict_seconds",
        }
    split = comparison["split"]
    assert split["strategy"] == "hash" and split["seed"] == 42
    train = pd.read_parquet(trained["project"] / "data/05_model_input/train.parquet")
    test = pd.read_parquet(trained["project"] / "data/05_model_input/test.parquet")
    assert (split["n_train"], split["n_test"]) == (len(train), len(test))
    assert comparison["champion"] in CANDIDATES
    assert (trained["project"] / "data/08_reporting/model_comparison.png").exists()


def test_challenger_is_registered_and_predicts_a_dataframe(trained: dict) -> None:
    client = trained["client"]
    version = client.get_model_version_by_alias(MODEL, "challenger")
    assert version.tags["candidate"] == trained["second"]["comparison"]["champion"]
    assert len(version.tags["git.sha"]) == 40
    assert len(version.tags["data.sha256"]) == 64
    assert version.tags["mlflow.run_id"] == version.run_id
    with tracking_at(f"sqlite:///{trained['project'] / 'mlflow.db'}"):
        model = mlflow.pyfunc.load_model(f"models:/{MODEL}@challenger")
    out = model.predict(
        pd.DataFrame({"user_id": [1, 1, 999_999], "movie_id": [1, 50, 1]})
    )
    assert list(out.columns) == ["rating", "cold_start"]
    assert out["rating"].between(0.5, 5.0).all()
    assert out["cold_start"].tolist() == [False, False, True]


def test_the_hybrid_takes_the_blend_and_ease_candidates_as_fitted(
    trained: dict,
) -> None:
    models = trained["project"] / "data/06_models"
    report = json.loads((models / "hybrid/fit_report.json").read_text())
    assert report["reused"] == {
        "rating_estimator": "blend",
        "ranking_estimator": "ease",
    }
    hybrid, blend, ease = (
        pickle.loads((models / f"{c}/model.pkl").read_bytes())  # noqa: S301
        for c in ("hybrid", "blend", "ease")
    )
    test = pd.read_parquet(trained["project"] / "data/05_model_input/test.parquet")
    pairs = test[["user_id", "movie_id", "timestamp"]]
    assert (hybrid.predict(pairs) == blend.predict(pairs)).all()
    users = test["user_id"].unique()[:20]
    assert (
        hybrid.recommend(users, k=10).movie_id == ease.recommend(users, k=10).movie_id
    ).all()


def test_two_runs_give_identical_metrics_and_model_files(trained: dict) -> None:
    assert trained["first"]["metrics"] == trained["second"]["metrics"]
    assert trained["first"]["hashes"] == trained["second"]["hashes"]


def candidate_runs(
    client: mlflow.MlflowClient, run: mlflow.entities.Run
) -> dict[str, mlflow.entities.Run]:
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'",
    )
    return {child.info.run_name: child for child in children}


def test_each_candidate_is_one_child_run_of_the_pipeline_run(trained: dict) -> None:
    # GIVEN the second training run
    run, client = trained["run"], trained["client"]
    comparison = trained["second"]["comparison"]
    # WHEN its child runs are listed
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'",
    )
    # THEN there is exactly one per candidate, named after it, with its role
    assert sorted(c.info.run_name for c in children) == sorted(CANDIDATES)
    for child in children:
        name = child.info.run_name
        assert child.info.status == "FINISHED"
        assert child.data.tags["reelops.candidate"] == name
        role = child.data.tags["reelops.role"]
        assert ("champion" in role) == (name == comparison["champion"])
        assert ("baseline" in role) == (name == "bias")
    # AND the pipeline run is named after its pipeline and commit, not "training"
    assert run.info.run_name == f"training@{run.data.tags['git.sha'][:8]}"


def test_candidate_params_are_the_fitted_estimators_get_params(trained: dict) -> None:
    children = candidate_runs(trained["client"], trained["run"])
    for name in CANDIDATES:
        path = trained["project"] / f"data/06_models/{name}/model.pkl"
        model = pickle.loads(path.read_bytes())  # noqa: S301 - the run's own model
        assert children[name].data.params == {
            k: str(v) for k, v in model.get_params(deep=True).items()
        }
    # the seed reached the estimators that left random_state unset
    assert children["mf"].data.params["random_state"] == "42"


def test_metrics_are_unprefixed_per_candidate_and_the_champions_on_the_run(
    trained: dict,
) -> None:
    run = trained["run"]
    comparison = trained["second"]["comparison"]
    children = candidate_runs(trained["client"], run)
    for name in CANDIDATES:
        assert children[name].data.metrics == {
            mlflow_key(k): float(v)
            for k, v in comparison["candidates"][name].items()
            if isinstance(v, int | float)
        }
    assert {"ndcg_at_10", "recall_at_10", "rmse"} <= set(children["bias"].data.metrics)
    # the pipeline run keeps the summary only: the champion and its metrics
    champion = comparison["champion"]
    assert run.data.tags["reelops.champion"] == champion
    assert run.data.metrics == children[champion].data.metrics


def test_splits_and_raw_files_are_logged_as_inputs_with_their_digest(
    trained: dict,
) -> None:
    run = trained["run"]
    data = trained["project"] / "data/05_model_input"
    train = pd.read_parquet(data / "train.parquet")
    test = pd.read_parquet(data / "test.parquet")
    for child in candidate_runs(trained["client"], run).values():
        inputs = {
            (i.dataset.name, i.tags[0].value): i.dataset.digest
            for i in child.inputs.dataset_inputs
        }
        assert inputs == {
            ("train_ratings", "training"): frame_digest(train)[:36],
            ("test_ratings", "evaluation"): frame_digest(test)[:36],
        }
    raw = {i.dataset.name: i.dataset.digest for i in run.inputs.dataset_inputs}
    for name in ("ratings", "movies", "tags", "links"):
        sha = hashlib.sha256((trained["raw"] / f"{name}.csv").read_bytes())
        assert raw[f"raw_{name}"] == sha.hexdigest()[:36]


def test_runs_carry_the_git_commit(trained: dict) -> None:
    run = trained["run"]
    sha = run.data.tags["git.sha"]
    assert len(sha) == 40
    assert run.data.tags["mlflow.source.git.commit"] == sha
    for child in candidate_runs(trained["client"], run).values():
        assert child.data.tags["mlflow.source.git.commit"] == sha
        assert child.data.tags["data.sha256"] == run.data.tags["data.sha256"]


def test_registered_model_is_named_after_its_candidate(trained: dict) -> None:
    client, run = trained["client"], trained["run"]
    version = client.get_model_version_by_alias(MODEL, "challenger")
    champion = version.tags["candidate"]
    child = candidate_runs(client, run)[champion]
    logged = client.get_logged_model(version.source.removeprefix("models:/"))
    assert logged.name == champion
    assert logged.source_run_id == child.info.run_id
    assert {m.key: m.value for m in logged.metrics} == child.data.metrics
    assert logged.params == child.data.params
    assert version.run_id == run.info.run_id


@contextmanager
def gates(project: Path, **training: float) -> Iterator[None]:
    """``conf/base/gates.yml`` changed for a run (as a reviewed pull request would)."""
    path = project / "conf/base/gates.yml"
    original = path.read_text()
    config = yaml.safe_load(original)
    config["training"].update(training)
    path.write_text(yaml.safe_dump(config))
    try:
        yield
    finally:
        path.write_text(original)


def test_a_gate_limit_is_not_a_run_parameter(trained: dict) -> None:
    # WHEN a run tries to lower a gate from the command line (or the Argo UI)
    proc = run_kedro(
        trained["project"],
        "run",
        "--pipeline",
        "training",
        "--params",
        "selection.min_improvement_over_baseline=-1.0",
        env=trained["env"],
        check=False,
    )
    # THEN it is refused in one line
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith(
        "Error: conf/base/parameters_training.yml + --params: parameter 'selection': "
        "unknown key 'min_improvement_over_baseline' "
        "(expected one of: baseline, primary_metric, secondary_metric)"
    )


def test_candidate_not_beating_the_baseline_is_not_registered(trained: dict) -> None:
    client = trained["client"]
    before = client.get_model_version_by_alias(MODEL, "challenger").version
    with gates(trained["project"], min_improvement_over_baseline=100.0):
        run_kedro(
            trained["project"], "run", "--pipeline", "training", env=trained["env"]
        )
    decision = json.loads(
        (trained["project"] / "data/08_reporting/champion_decision.json").read_text()
    )
    assert decision["register"] is False
    assert "does not beat baseline bias" in decision["reasons"][0]
    run = latest_run(client)
    assert run.data.tags["challenger.registered"] == "false"
    assert "does not beat baseline" in run.data.tags["challenger.rejected_because"]
    assert client.get_model_version_by_alias(MODEL, "challenger").version == before


def test_candidate_worse_than_the_champion_is_not_registered(trained: dict) -> None:
    client = trained["client"]
    first = client.get_model_version_by_alias(MODEL, "challenger")
    client.set_registered_model_alias(MODEL, "champion", first.version)
    champion = trained["second"]["comparison"]["champion"]
    # every candidate of the same kind as the champion is made useless
    degrade = {
        "hybrid": "hybrid.estimator.params.ranking_estimator.params.lambda_reg=1e12,"
        "ease.estimator.params.lambda_reg=1e12",
        "ease": "ease.estimator.params.lambda_reg=1e12,"
        "hybrid.estimator.params.ranking_estimator.params.lambda_reg=1e12",
        "blend": "blend.estimator.params.alpha=1e12",
        "mf": "mf.estimator.params.n_epochs=0",
        "item_knn": "item_knn.estimator.params.k=1",
    }[champion]
    with gates(trained["project"], min_improvement_over_baseline=0.0):
        run_kedro(
            trained["project"],
            "run",
            "--pipeline",
            "training",
            "--params",
            degrade,
            env=trained["env"],
        )
    decision = json.loads(
        (trained["project"] / "data/08_reporting/champion_decision.json").read_text()
    )
    gate = decision["gates"]["not_worse_than_champion"]
    assert gate["passed"] is False, decision
    assert any("is worse than the champion" in r for r in decision["reasons"])
    assert (
        client.get_model_version_by_alias(MODEL, "challenger").version == first.version
    )
