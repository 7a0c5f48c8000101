"""The committed ``argo/staging/training.yaml`` runs end to end, task by task.

One harness run (S3 through moto, a real MLflow server) and one plain local
``kedro run --pipeline training`` on the same MovieLens subset are shared by
every test of this module.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.argo_harness import WorkflowRun
from tests.argo_harness.conftest import (
    MODEL_NAME,
    SITE,
    Cluster,
    from_image,
    local_env,
    workflow_runs,
)
from tests.conftest import QUIET_ENV, VENV_BIN, run_kedro

pytestmark = [pytest.mark.slow, pytest.mark.system, pytest.mark.timeout(1800)]

CANDIDATES = ("bias", "blend", "ease", "hybrid", "item_knn", "mf", "popularity")
TASKS = [
    "init-run",
    "ingest",
    "features",
    "split",
    "bias",
    "blend",
    "ease",
    "hybrid",
    "item-knn",
    "mf",
    "popularity",
    "selection",
]


def candidate_metrics(comparison: dict) -> dict[str, dict[str, float]]:
    """Candidate metrics of a model_comparison.json, timings left out."""
    return {
        name: {k: v for k, v in metrics.items() if not k.endswith("_seconds")}
        for name, metrics in comparison["candidates"].items()
    }


@pytest.fixture(scope="module")
def staging(make_cluster, staging_template) -> tuple[Cluster, WorkflowRun]:
    cluster = make_cluster()
    run = cluster.argo.submit(staging_template)
    print(f"\nstaging training in the harness:\n{run.timings()}")
    return cluster, run


@pytest.fixture(scope="module")
def staging_mlflow_run(staging):
    cluster, run = staging
    runs = workflow_runs(cluster, run.name)
    assert len(runs) == 1, f"expected one MLflow run for {run.name}, got {runs}"
    return runs[0]


@pytest.fixture(scope="module")
def local_comparison(image: Path, raw_subset: Path, tmp_path_factory) -> dict:
    project = from_image(image)(tmp_path_factory.mktemp("local") / "project")
    env = {"MOVIELENS_DIR": str(raw_subset), **local_env(project)}
    run_kedro(project, "run", "--pipeline", "training", env=env)
    return json.loads((project / "data/08_reporting/model_comparison.json").read_text())


# What `kedro run --env staging` does, in this order: the session's config loader,
# the pipeline registry (pipelines/*.yml), then the catalog.
SESSION_PROBE = """
import json, pathlib
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
bootstrap_project(pathlib.Path.cwd())
with KedroSession.create(env="staging") as session:
    loader = session.load_context().config_loader
    pipelines["training"]
    print(json.dumps(loader["catalog"]["ratings"]))
"""


def test_a_staging_session_keeps_its_globals_once_pipelines_are_loaded(
    image: Path, tmp_path: Path
) -> None:
    # GIVEN a scratch project and a data root, as a staging pod has them
    project = from_image(image)(tmp_path / "project")
    env = {
        **QUIET_ENV,
        **local_env(project),
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "REELOPS_DATA_ROOT": "s3://probe/data",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    # WHEN the catalog is resolved after the pipeline registry ran
    proc = subprocess.run(
        [str(VENV_BIN / "python"), "-c", SESSION_PROBE],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    # THEN `${globals:data_root}` still resolves with the staging globals. (The
    # registry's own OmegaConfigLoader(env="base") re-registers Kedro's
    # process-wide `globals` resolver; every staging/prod task would then read
    # and write pod-local data/ paths.)
    ratings = json.loads(proc.stdout.splitlines()[-1])
    assert ratings["filepath"] == "s3://probe/data/03_primary/ratings.parquet"


def test_every_task_ran_once_in_dependency_order_and_succeeded(
    staging, staging_template
) -> None:
    # GIVEN the committed template WHEN it ran in the harness
    _, run = staging
    # THEN every task ran, dependencies first, then the exit handler
    assert run.status == "Succeeded"
    assert list(run.tasks) == TASKS
    assert staging_template.task_names == TASKS
    for position, name in enumerate(TASKS):
        before = set(TASKS[:position])
        assert staging_template.upstream(name) <= before
    assert all(task.phase == "Succeeded" for task in run.tasks.values())
    assert run.exit_handler is not None
    assert run.exit_handler.argv[-2:] == ("--status", "Succeeded")


def test_tasks_ran_in_fresh_projects_and_shared_data_only_through_s3(
    staging,
) -> None:
    # GIVEN the finished run
    cluster, run = staging
    # THEN every pod had its own project, and none kept intermediate data locally
    projects = {task.project_dir for task in run.tasks.values()}
    assert len(projects) == len(run.tasks)
    for task in run.tasks.values():
        local = {
            p.relative_to(task.project_dir).as_posix()
            for p in (task.project_dir / "data").rglob("*")
            if p.is_file()
        }
        assert all(path.startswith("data/08_reporting/") for path in local), (
            f"task {task.name} wrote {sorted(local)} locally"
        )
        assert task.env["REELOPS_DATA_ROOT"] == cluster.data_root
        assert task.env["PYTHONPATH"] == str(task.project_dir / SITE)
    # AND the intermediate datasets are objects of the bucket
    keys = set(cluster.keys())
    expected = {
        "data/03_primary/ratings.parquet",
        "data/04_feature/id_maps.parquet",
        "data/05_model_input/train.parquet",
        "data/05_model_input/test.parquet",
        "data/05_model_input/split.json",
        "data/07_model_output/candidate_table.json",
        "data/07_model_output/champion_metrics.json",
    }
    expected |= {f"data/06_models/{c}/model.pkl" for c in CANDIDATES}
    expected |= {f"data/07_model_output/candidates/{c}.json" for c in CANDIDATES}
    assert expected <= keys, f"missing from S3: {sorted(expected - keys)}"
    # AND reporting files stayed local (they are logged to MLflow instead)
    assert not [key for key in keys if key.startswith("data/08_reporting/")]


def test_init_run_output_reached_every_task_as_mlflow_run_id(
    staging, staging_mlflow_run
) -> None:
    _, run = staging
    run_id = staging_mlflow_run.info.run_id
    assert run.tasks["init-run"].outputs == {"mlflow-run-id": run_id}
    for name in TASKS[1:]:
        assert run.tasks[name].env["MLFLOW_RUN_ID"] == run_id


def test_all_tasks_logged_into_one_mlflow_run_that_finished(
    staging, staging_mlflow_run
) -> None:
    # GIVEN the workflow's one MLflow run (found by its workflow-name tag)
    cluster, run = staging
    mlflow_run = staging_mlflow_run
    # THEN it was tagged by init-run and closed by the exit handler, and keeps the
    # workflow's name (each task's kedro-mlflow renames it, the project hook back)
    assert mlflow_run.data.tags["kedro-hera.workflow"] == run.name
    assert mlflow_run.info.run_name == run.name
    assert mlflow_run.data.tags["kedro-hera.pipeline"] == "training"
    assert mlflow_run.info.status == "FINISHED"
    assert mlflow_run.data.tags["kedro-hera.workflow-status"] == "Succeeded"
    # AND holds what every kind of task logged: ingest tags, the champion's
    # metrics, parameters of the split task and the selection's artifacts
    assert "data.sha256" in mlflow_run.data.tags
    assert mlflow_run.data.tags["reelops.champion"] in CANDIDATES
    assert "ndcg_at_10" in mlflow_run.data.metrics
    assert mlflow_run.data.params["split.seed"] == "42"
    # AND each candidate's task (its own pod) made one child run of it
    children = cluster.client().search_runs(
        [mlflow_run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{mlflow_run.info.run_id}'",
    )
    assert sorted(c.info.run_name for c in children) == sorted(CANDIDATES)
    assert all("ndcg_at_10" in c.data.metrics for c in children)


def test_candidate_metrics_equal_those_of_a_plain_local_run(
    staging, staging_mlflow_run, local_comparison, tmp_path: Path
) -> None:
    # GIVEN the harness run's comparison, from the MLflow run's artifacts
    cluster, _ = staging
    downloaded = cluster.client().download_artifacts(
        staging_mlflow_run.info.run_id,
        "selection/model_comparison.json",
        str(tmp_path),
    )
    remote = json.loads(Path(downloaded).read_text())
    # THEN every candidate scored exactly as in the local run
    assert set(remote["candidates"]) == set(CANDIDATES)
    assert candidate_metrics(remote) == candidate_metrics(local_comparison)


def test_challenger_was_registered_from_the_workflow_run(
    staging, staging_mlflow_run
) -> None:
    cluster, _ = staging
    version = cluster.client().get_model_version_by_alias(MODEL_NAME, "challenger")
    assert version.run_id == staging_mlflow_run.info.run_id
