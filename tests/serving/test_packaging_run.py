"""Packaging inside real ``kedro run``s: the default pipeline packages and builds;
a run that registered nothing packages nothing and says so on its MLflow run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import mlflow
import pytest
import yaml

from tests.conftest import run_kedro

pytestmark = pytest.mark.slow
MODEL = "reelops-recommender"


def bentoml_home(project: Path) -> Path:
    """Where the run's BentoML store is (``default_run`` pins it in the project)."""
    return project / "bentoml_home"


def latest_run(project: Path) -> mlflow.entities.Run:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    exp = client.get_experiment_by_name("reelops")
    return client.search_runs(
        [exp.experiment_id],
        filter_string="tags.mlflow.parentRunId IS NULL",
        order_by=["attributes.start_time DESC"],
    )[0]


def test_default_run_packages_the_registered_challenger(default_run: Path) -> None:
    summary = json.loads(
        (default_run / "data/08_reporting/packaging_summary.json").read_text()
    )
    assert summary["packaged"] is True
    run = latest_run(default_run)
    tags = run.data.tags
    # the model: labelled with this run's lineage and metrics
    version = summary["bento_version"]
    model_dir = bentoml_home(default_run) / "models" / MODEL / version
    info = yaml.safe_load((model_dir / "model.yaml").read_text())
    labels = info["labels"]
    assert labels["mlflow_run_id"] == run.info.run_id
    assert labels["git_sha"] == tags["git.sha"]
    assert labels["data_sha256"] == tags["data.sha256"]
    assert labels["model_version"] == tags["challenger.version"]
    assert float(labels["ndcg_at_10"]) > 0
    assert {"estimator.pkl", "movies.parquet", "users.parquet"} <= {
        p.name for p in model_dir.iterdir()
    }
    # the bento: built with its Dockerfile, tag recorded on the run
    bento_dir = bentoml_home(default_run) / "bentos" / MODEL / version
    assert (bento_dir / "env" / "docker" / "Dockerfile").is_file()
    assert tags["serving.packaged"] == "true"
    assert tags["serving.model_tag"] == f"{MODEL}:{version}"
    assert tags["serving.bento_tag"] == f"{MODEL}:{version}"
    assert "serving.containerize" not in tags  # the image: make serving-image


def test_a_run_that_registers_nothing_packages_nothing(
    default_run: Path, tmp_path: Path
) -> None:
    # GIVEN a copy of the default run whose champion decision refused to register
    project = tmp_path / "project"
    big = {"mlartifacts", "06_models", ".git"}
    shutil.copytree(
        default_run,
        project,
        symlinks=True,
        ignore=lambda _d, names: [n for n in names if n in big],
    )
    for name in ("mlartifacts", "data/06_models", ".git"):
        (project / name).symlink_to(default_run / name)
    decision_file = project / "data/08_reporting/champion_decision.json"
    decision: dict[str, Any] = json.loads(decision_file.read_text())
    decision.update(register=False, reasons=["ease is worse than the champion"])
    decision_file.write_text(json.dumps(decision))
    bentos = bentoml_home(default_run) / "bentos" / MODEL
    before = sorted(p.name for p in bentos.iterdir())
    # WHEN only packaging runs
    run_kedro(
        project,
        "run",
        "--pipeline",
        "packaging",
        "--from-nodes",
        "assemble_serving_bundle_node",
        env={"MOVIELENS_DIR": str(tmp_path / "unused")},
    )
    # THEN nothing new is packaged, and the summary and the run say why
    reason = f"this run did not register {decision['champion']}: ease is worse than the champion"
    summary = json.loads(
        (project / "data/08_reporting/packaging_summary.json").read_text()
    )
    assert summary == {"packaged": False, "reason": reason}
    assert sorted(p.name for p in bentos.iterdir()) == before
    tags = latest_run(project).data.tags
    assert tags["serving.packaged"] == "false"
    assert tags["serving.skipped_because"] == reason
