"""``MlflowTagsDataset``: write a mapping as tags of the active MLflow run."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.io.core import AbstractDataset, DatasetError

__all__ = ["MlflowTagsDataset"]

logger = logging.getLogger(__name__)


class MlflowTagsDataset(AbstractDataset[dict[str, Any], dict[str, str]]):
    """Save ``{key: value}`` as tags of the active run; load them back from it.

    Keys are prefixed with ``prefix`` (e.g. ``data.sha256.``). Without an active run
    (tracking disabled for the pipeline) saving logs a warning and does nothing.
    """

    def __init__(self, *, prefix: str = "", metadata: dict[str, Any] | None = None):
        """Create the dataset; ``prefix`` is prepended to every tag key."""
        self._prefix = prefix
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix}

    def save(self, data: dict[str, Any]) -> None:
        """Set every item of ``data`` as a tag (values are stringified)."""
        if mlflow.active_run() is None:
            logger.warning("no active MLflow run: tags %s not recorded", sorted(data))
            return
        mlflow.set_tags({f"{self._prefix}{k}": str(v) for k, v in data.items()})

    def load(self) -> dict[str, str]:
        """Read this dataset's tags back from the active run."""
        run = mlflow.active_run()
        if run is None:
            raise DatasetError("no active MLflow run to read tags from")
        tags = mlflow.get_run(run.info.run_id).data.tags
        return {
            k.removeprefix(self._prefix): v
            for k, v in tags.items()
            if k.startswith(self._prefix)
        }
