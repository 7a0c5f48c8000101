"""A workflow parameter overridden at submission reaches ``kedro run --params``."""

from __future__ import annotations

import json
import re

import pytest

from tests.argo_harness import HarnessError, WorkflowRun
from tests.argo_harness.conftest import Cluster, workflow_runs

pytestmark = [pytest.mark.slow, pytest.mark.system]

OVERRIDES = {"split__seed": "7", "evaluation__k": "5"}


@pytest.fixture(scope="module")
def overridden(make_cluster, staging_template) -> tuple[Cluster, WorkflowRun]:
    # Only what the assertions need: init-run, ingest, split and one candidate.
    cluster = make_cluster()
    run = cluster.argo.submit(
        staging_template, parameters=OVERRIDES, targets=["popularity"]
    )
    print(f"\nstaging training, overridden parameters:\n{run.timings()}")
    return cluster, run


def test_the_defaults_differ_from_the_overrides(staging_template) -> None:
    # Otherwise the tests below would prove nothing.
    for name, value in OVERRIDES.items():
        assert staging_template.parameters[name] != value


def test_the_overrides_reached_the_task_commands(overridden) -> None:
    _, run = overridden
    assert list(run.tasks) == ["init-run", "ingest", "split", "popularity"]
    split_params = run.tasks["split"].argv[-1]
    assert "split.seed=7" in split_params.split(",")
    assert "evaluation.k=5" in run.tasks["popularity"].argv[-1].split(",")


def test_kedro_used_the_overridden_values(overridden) -> None:
    # GIVEN the run with split__seed=7 and evaluation__k=5
    cluster, run = overridden
    # THEN the split persisted in S3 records seed 7
    summary = json.loads(
        cluster.s3.read(cluster.bucket, "data/05_model_input/split.json")
    )
    assert summary["seed"] == 7
    # AND the candidate was evaluated at k=5, not at the default 10
    metrics = json.loads(
        cluster.s3.read(
            cluster.bucket, "data/07_model_output/candidates/popularity.json"
        )
    )
    assert "ndcg@5" in metrics
    assert not any(key.endswith("@10") for key in metrics)
    # AND the shared MLflow run logged the overridden parameters
    [mlflow_run] = workflow_runs(cluster, run.name)
    assert mlflow_run.data.params["split.seed"] == "7"
    assert mlflow_run.data.params["evaluation.k"] == "5"


def test_an_undeclared_parameter_is_refused_before_anything_runs(
    make_cluster, staging_template
) -> None:
    cluster = make_cluster()
    with pytest.raises(HarnessError, match=re.escape("['split__sead']")):
        cluster.argo.submit(staging_template, parameters={"split__sead": "7"})
    assert not list(cluster.argo.work_dir.iterdir())
