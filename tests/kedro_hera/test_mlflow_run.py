"""One MLflow run per workflow: init-run creates it, tasks join it, end-run closes it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner

from kedro_hera.cli import commands


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def tracking(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[mlflow.tracking.MlflowClient]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    yield mlflow.tracking.MlflowClient(tracking_uri)


def _cli(*args: str) -> object:
    return CliRunner().invoke(commands, ["argo", *args])


@pytest.mark.slow
def test_one_run_is_shared_by_the_whole_workflow(
    tracking: mlflow.tracking.MlflowClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the init step of workflow 'wf-abc12'
    output = tmp_path / "out" / "mlflow-run-id"
    result = _cli(
        "init-run",
        "--experiment",
        "kh-basic",
        "--workflow-name",
        "wf-abc12",
        "--output",
        str(output),
        "--tag",
        "kedro-hera.env=prod",
    )
    assert result.exit_code == 0, result.output
    run_id = output.read_text()
    # WHEN Argo retries the init step THEN it finds the same run again
    again = tmp_path / "again"
    retry = _cli(
        "init-run",
        "--experiment",
        "kh-basic",
        "--workflow-name",
        "wf-abc12",
        "--output",
        str(again),
    )
    assert retry.exit_code == 0, retry.output
    assert again.read_text() == run_id
    # AND a task joining through MLFLOW_RUN_ID logs into that run
    monkeypatch.setenv("MLFLOW_RUN_ID", run_id)
    mlflow.set_experiment("kh-basic")
    with mlflow.start_run() as active:
        mlflow.log_param("top_k", 10)
    assert active.info.run_id == run_id
    # AND the exit handler marks it FAILED when the workflow failed
    closed = _cli(
        "end-run",
        "--experiment",
        "kh-basic",
        "--workflow-name",
        "wf-abc12",
        "--status",
        "Failed",
    )
    assert closed.exit_code == 0, closed.output
    run = tracking.get_run(run_id)
    assert run.info.status == "FAILED"
    assert run.info.run_name == "wf-abc12"
    assert run.data.tags["kedro-hera.workflow"] == "wf-abc12"
    assert run.data.tags["kedro-hera.env"] == "prod"
    assert run.data.tags["kedro-hera.workflow-status"] == "Failed"
    assert run.data.params == {"top_k": "10"}


@pytest.mark.slow
def test_end_run_finishes_a_succeeded_workflow_and_tolerates_none(
    tracking: mlflow.tracking.MlflowClient, tmp_path: Path
) -> None:
    _cli(
        "init-run",
        "--experiment",
        "kh-ok",
        "--workflow-name",
        "wf-ok",
        "--output",
        str(tmp_path / "id"),
    )
    run_id = (tmp_path / "id").read_text()
    assert (
        _cli(
            "end-run",
            "--experiment",
            "kh-ok",
            "--workflow-name",
            "wf-ok",
            "--status",
            "Succeeded",
        ).exit_code
        == 0
    )
    assert tracking.get_run(run_id).info.status == "FINISHED"
    nothing = _cli(
        "end-run",
        "--experiment",
        "missing",
        "--workflow-name",
        "wf-x",
        "--status",
        "Error",
    )
    assert nothing.exit_code == 0
    assert "No MLflow run found for workflow wf-x" in nothing.output


def test_bad_tag_is_a_usage_error(tmp_path: Path) -> None:
    result = _cli(
        "init-run",
        "--experiment",
        "e",
        "--workflow-name",
        "w",
        "--output",
        str(tmp_path / "id"),
        "--tag",
        "novalue",
    )
    assert result.exit_code == 2
    assert "--tag 'novalue' must look like key=value" in result.output
