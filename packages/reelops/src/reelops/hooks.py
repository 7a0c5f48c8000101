"""Project hooks: lineage tags and typed parameters on the MLflow run.

Kedro imports this module (through ``settings.py``) on every command, so MLflow
(seconds to import) is imported only when a pipeline runs.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from reelops.lineage import git_state

__all__ = ["LineageHook", "flat_params"]

#: Characters MLflow accepts in a parameter name (others become ``_``).
_PARAM_NAME = re.compile(r"[^\w\-. /]")


def flat_params(name: str, value: Any) -> dict[str, str]:
    """``{"split.seed": "42", ...}`` for a typed parameter (a pydantic model)."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if not isinstance(value, dict):
        return {_PARAM_NAME.sub("_", name): str(value)}
    flat: dict[str, str] = {}
    for key, item in value.items():
        flat.update(flat_params(f"{name}.{key}", item))
    return flat


logger = logging.getLogger(__name__)

#: Tag of a run created by ``kedro argo init-run`` (kedro-hera): the workflow name.
_WORKFLOW_TAG = "kedro-hera.workflow"


class LineageHook:
    """Tag the active MLflow run with the git SHA, dirty flag and Kedro env; name it.

    kedro-mlflow's own ``before_pipeline_run`` (a plugin hook, so called first)
    has started the run; data checksums are tagged by the pipelines themselves
    through :class:`~reelops.datasets.MlflowTagsDataset`.
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Tag the run, or log why it cannot be tagged."""
        import mlflow

        run = mlflow.active_run()
        if run is None:
            logger.info("MLflow tracking is off for this run: no lineage tags")
            return
        state = git_state(Path(run_params.get("project_path") or "."))
        pipelines = "+".join(run_params.get("pipeline_names") or ["__default__"])
        tags = {
            **state.as_tags(),
            "kedro.env": str(run_params.get("env") or "local"),
            "kedro.pipelines": pipelines,
        }
        if state.sha != "unknown":
            # What the MLflow UI shows as the run's source commit: set here as
            # well because a run created by MlflowClient (on Argo, the
            # workflow's) gets no source tags from MLflow.
            tags["mlflow.source.git.commit"] = state.sha
        # kedro-mlflow names the run after its pipelines (each Argo task renames
        # the workflow's run so), and a list of runs all named "training" says
        # nothing: the workflow's name on Argo, else pipelines@commit.
        if workflow := run.data.tags.get(_WORKFLOW_TAG):
            tags["mlflow.runName"] = workflow
        elif run.info.run_name == pipelines:
            dirty = "-dirty" if state.dirty else ""
            tags["mlflow.runName"] = f"{pipelines}@{state.sha[:8]}{dirty}"
        mlflow.set_tags(tags)

    @hook_impl
    def before_node_run(self, inputs: dict[str, Any]) -> None:
        """Log typed parameters flattened, as kedro-mlflow logs plain mappings.

        kedro-mlflow flattens ``dict`` parameters (``split.seed``) but logs a
        pydantic model, which Kedro now hands to typed nodes, as its repr.
        """
        typed = {
            key.removeprefix("params:"): value
            for key, value in inputs.items()
            if key.startswith("params:") and hasattr(value, "model_dump")
        }
        if not typed:
            return
        import mlflow

        active = mlflow.active_run()
        if active is None:
            return
        existing = mlflow.get_run(active.info.run_id).data.params
        for name, value in typed.items():
            for key, text in flat_params(name, value).items():
                if key not in existing:
                    mlflow.log_param(key, text[:6000])
