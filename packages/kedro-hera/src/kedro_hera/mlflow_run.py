"""The MLflow run shared by every task of one workflow.

``kedro argo init-run`` creates it (or finds it again when Argo retries the step)
and hands its id to the tasks, which join it through ``MLFLOW_RUN_ID``.
``kedro argo end-run`` closes it from the exit handler with the workflow's status.
Runs are found by the tag ``kedro-hera.workflow``, so the exit handler needs only
the workflow name. MLflow is imported lazily: compiling never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kedro_hera.errors import KedroHeraError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "WORKFLOW_STATUS_TAG",
    "WORKFLOW_TAG",
    "end_workflow_run",
    "start_workflow_run",
]

WORKFLOW_TAG = "kedro-hera.workflow"
WORKFLOW_STATUS_TAG = "kedro-hera.workflow-status"


def _client() -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        msg = (
            "mlflow is not installed; expected it in the task image "
            "(pip install mlflow)"
        )
        raise KedroHeraError(msg) from exc
    return MlflowClient()


def _experiment_id(client: Any, experiment: str, *, create: bool) -> str | None:
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        return str(found.experiment_id)
    if not create:
        return None
    return str(client.create_experiment(experiment))


def _workflow_runs(client: Any, experiment_id: str, workflow_name: str) -> list[Any]:
    return list(
        client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{WORKFLOW_TAG}` = '{workflow_name}'",
            order_by=["attributes.start_time ASC"],
        )
    )


def start_workflow_run(
    *, experiment: str, workflow_name: str, tags: Mapping[str, str]
) -> str:
    """Create the workflow's run, or return it when it already exists.

    Args:
        experiment: MLflow experiment name (created if missing).
        workflow_name: Argo workflow name, stored as the run name and a tag.
        tags: Extra run tags.

    Returns:
        The run id.
    """
    client = _client()
    experiment_id = _experiment_id(client, experiment, create=True)
    if experiment_id is None:  # pragma: no cover - create=True always returns an id
        msg = f"cannot create the MLflow experiment '{experiment}'"
        raise KedroHeraError(msg)
    existing = _workflow_runs(client, experiment_id, workflow_name)
    if existing:
        return str(existing[0].info.run_id)
    run = client.create_run(
        experiment_id,
        run_name=workflow_name,
        tags={**dict(sorted(tags.items())), WORKFLOW_TAG: workflow_name},
    )
    return str(run.info.run_id)


def end_workflow_run(*, experiment: str, workflow_name: str, status: str) -> list[str]:
    """Mark the workflow's run FINISHED when it succeeded, FAILED otherwise.

    Args:
        experiment: MLflow experiment name.
        workflow_name: Argo workflow name.
        status: Argo's ``{{workflow.status}}`` (Succeeded, Failed or Error).

    Returns:
        Ids of the runs closed (none when the init step never created one).
    """
    client = _client()
    experiment_id = _experiment_id(client, experiment, create=False)
    if experiment_id is None:
        return []
    final = "FINISHED" if status == "Succeeded" else "FAILED"
    closed = []
    for run in _workflow_runs(client, experiment_id, workflow_name):
        client.set_tag(run.info.run_id, WORKFLOW_STATUS_TAG, status)
        client.set_terminated(run.info.run_id, status=final)
        closed.append(str(run.info.run_id))
    return closed
