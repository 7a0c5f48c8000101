"""``RegisteredVersionDataset``: the registry entry a bento is labelled with.

Loading reads the model version behind ``model_name@alias`` from the MLflow model
registry, with the lineage its run recorded: version, run id, git SHA and dirty
flag, data sha256 and the candidate's metrics (the ``metric.*`` version tags that
:class:`~reelops.datasets.RegisteredModelDataset` writes). Read-only.
"""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.io.core import AbstractDataset, DatasetError
from mlflow.exceptions import MlflowException

__all__ = ["RegisteredVersionDataset"]

logger = logging.getLogger(__name__)

_RUN_TAGS = ("git.sha", "git.dirty", "data.sha256", "kedro.env")


class RegisteredVersionDataset(AbstractDataset[dict, dict | None]):
    """The registry entry behind an alias, with its lineage (``None`` if none).

    Example::

        challenger_version:
          type: reelops.datasets.RegisteredVersionDataset
          model_name: reelops-recommender
          alias: challenger

    The loaded mapping has ``model_name``, ``alias``, ``version``, ``run_id``,
    ``registered_in_active_run`` (whether the active MLflow run registered it),
    ``tags`` (version tags), ``run_tags`` (lineage tags of the run) and
    ``metrics`` (floats from the ``metric.*`` version tags).
    """

    def __init__(
        self, *, model_name: str, alias: str, metadata: dict[str, Any] | None = None
    ) -> None:
        """Create the dataset for ``model_name@alias``."""
        self._model_name = model_name
        self._alias = alias
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._model_name, "alias": self._alias}

    def load(self) -> dict[str, Any] | None:
        """The version behind the alias and its lineage, or ``None``."""
        client = mlflow.MlflowClient()
        uri = f"models:/{self._model_name}@{self._alias}"
        try:
            version = client.get_model_version_by_alias(self._model_name, self._alias)
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(
                exc
            ):
                logger.info("no model registered as %s", uri)
                return None
            raise DatasetError(f"cannot read {uri}: {exc.message}") from exc
        run_tags: dict[str, str] = {}
        if version.run_id:
            tags = client.get_run(version.run_id).data.tags
            run_tags = {k: tags[k] for k in _RUN_TAGS if k in tags}
        active = mlflow.active_run()
        metrics = {}
        for key, value in version.tags.items():
            if key.startswith("metric."):
                try:
                    metrics[key.removeprefix("metric.")] = float(value)
                except ValueError:
                    logger.warning("version tag %s=%r is not a number", key, value)
        return {
            "model_name": self._model_name,
            "alias": self._alias,
            "version": str(version.version),
            "run_id": version.run_id or "",
            "registered_in_active_run": bool(
                active is not None and active.info.run_id == version.run_id
            ),
            "tags": dict(version.tags),
            "run_tags": run_tags,
            "metrics": metrics,
        }

    def save(self, data: dict[str, Any]) -> None:
        """Refuse: the registry is written by ``RegisteredModelDataset``."""
        raise DatasetError(
            f"{type(self).__name__} is read-only: register models with "
            "RegisteredModelDataset"
        )
