"""Remote mode: the pipeline logs to a real ``mlflow server`` through MLFLOW_TRACKING_URI."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from tests.conftest import DATA, make_project, run_kedro

pytestmark = pytest.mark.slow


def test_run_and_artifacts_land_on_the_server(
    mlflow_server: str, tmp_path: Path
) -> None:
    # GIVEN a project pointed at a real tracking server
    project = make_project(tmp_path / "project")
    # WHEN the EDA pipeline runs
    run_kedro(
        project,
        "run",
        "--pipeline",
        "eda",
        env={
            "MOVIELENS_DIR": str(DATA / "mini"),
            "MLFLOW_TRACKING_URI": mlflow_server,
            "MLFLOW_EXPERIMENT_NAME": "remote-test",
        },
    )
    # THEN no local tracking DB was made, and the server has the run and artifacts
    assert not (project / "mlflow.db").exists()
    assert not (project / "mlartifacts").exists()
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("remote-test")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["kedro.pipelines"] == "eda"
    assert run.data.metrics["eda.n_ratings"] == 42
    paths = {a.path for a in client.list_artifacts(run.info.run_id, "eda")}
    assert "eda/eda_summary.json" in paths
    local = client.download_artifacts(
        run.info.run_id, "eda/eda_summary.json", str(tmp_path)
    )
    assert json.loads(Path(local).read_text())["n_ratings"] == 42
