"""Project hooks: lineage tags on the MLflow run of every pipeline run.

Kedro imports this module (through ``settings.py``) on every command, so MLflow
(seconds to import) is imported only when a pipeline runs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from reelops.lineage import git_state

__all__ = ["LineageHook"]

logger = logging.getLogger(__name__)


class LineageHook:
    """Tag the active MLflow run with the git SHA, dirty flag and Kedro env.

    kedro-mlflow's own ``before_pipeline_run`` (a plugin hook, so called first)
    has started the run; data checksums are tagged by the pipelines themselves
    through :class:`~reelops.datasets.MlflowTagsDataset`.
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Tag the run, or log why it cannot be tagged."""
        import mlflow

        if mlflow.active_run() is None:
            logger.info("MLflow tracking is off for this run: no lineage tags")
            return
        state = git_state(Path(run_params.get("project_path") or "."))
        mlflow.set_tags(
            {
                **state.as_tags(),
                "kedro.env": str(run_params.get("env") or "local"),
                "kedro.pipelines": "+".join(
                    run_params.get("pipeline_names") or ["__default__"]
                ),
            }
        )
