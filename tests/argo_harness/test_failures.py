"""What fails, fails early and loudly.

An intermediate dataset that is not persisted is refused by ``kedro argo
compile``; with the committed template (compiled before the catalog changed) the
harness shows what the cluster would do instead: the consuming task fails, the
workflow stops there and its exit handler marks the MLflow run FAILED.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.argo_harness import WorkflowFailedError, WorkflowRun
from tests.argo_harness.conftest import Cluster, from_image, local_env, workflow_runs
from tests.conftest import run_kedro

pytestmark = [pytest.mark.slow, pytest.mark.system]

# train_ratings (split -> every candidate and the selection) kept in memory.
OVERLAY = {
    "conf/staging/catalog_override.yml": "train_ratings:\n  type: MemoryDataset\n"
}
PREFLIGHT_LINE = (
    "pipeline 'training': dataset 'train_ratings' flows from task 'split' to task "
    "'{consumer}' but is a MemoryDataset in the catalog of env 'staging'; expected "
    "a persisted dataset"
)
CONSUMERS = (
    "bias",
    "blend",
    "ease",
    "hybrid",
    "item-knn",
    "mf",
    "popularity",
    "selection",
)


@pytest.fixture(scope="module")
def failed(make_cluster, image, staging_template) -> tuple[Cluster, WorkflowRun]:
    cluster = make_cluster(project_factory=from_image(image, overlay=OVERLAY))
    run = cluster.argo.submit(staging_template, check=False)
    print(f"\nstaging training, train_ratings in memory:\n{run.timings()}")
    return cluster, run


def test_compile_refuses_an_unpersisted_intermediate(image, tmp_path: Path) -> None:
    # GIVEN a project whose staging catalog keeps train_ratings in memory
    project = from_image(image, overlay=OVERLAY)(tmp_path / "project")
    # WHEN it is compiled for staging
    out = tmp_path / "argo"
    proc = run_kedro(
        project,
        "argo",
        "compile",
        "--env",
        "staging",
        "--output-dir",
        str(out),
        # The image holds no Dockerfile or uv.lock, which image.tag_from hashes.
        env={**local_env(project), "KEDRO_HERA_IMAGE_TAG": "pinned"},
        check=False,
    )
    # THEN compilation fails with one line naming the dataset and both tasks
    assert proc.returncode != 0
    [error] = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    for consumer in CONSUMERS:
        assert PREFLIGHT_LINE.format(consumer=consumer) in error
    assert not (out / "staging" / "training.yaml").exists()


def test_without_preflight_the_consuming_task_fails_at_run_time(failed) -> None:
    # GIVEN the committed template run against that catalog
    _, run = failed
    # THEN everything up to the split succeeded, and the first consumer failed
    assert [(t.name, t.phase) for t in run.tasks.values()] == [
        ("init-run", "Succeeded"),
        ("ingest", "Succeeded"),
        ("features", "Succeeded"),
        ("split", "Succeeded"),
        ("bias", "Failed"),
    ]
    log = run.tasks["bias"].log
    assert "train_ratings" in log
    assert "MemoryDataset" in log


def test_a_failed_task_stops_the_workflow(failed) -> None:
    _, run = failed
    assert run.status == "Failed"
    assert run.not_run == (
        "blend",
        "ease",
        "hybrid",
        "item-knn",
        "mf",
        "popularity",
        "selection",
    )
    with pytest.raises(
        WorkflowFailedError,
        match=re.escape(f"workflow '{run.name}' Failed: task 'bias' exited with code"),
    ):
        run.raise_for_status()


def test_the_exit_handler_marks_the_mlflow_run_failed(failed) -> None:
    cluster, run = failed
    assert run.exit_handler is not None
    assert run.exit_handler.phase == "Succeeded"
    assert run.exit_handler.argv[-2:] == ("--status", "Failed")
    [mlflow_run] = workflow_runs(cluster, run.name)
    assert mlflow_run.info.status == "FAILED"
    assert mlflow_run.data.tags["kedro-hera.workflow-status"] == "Failed"
