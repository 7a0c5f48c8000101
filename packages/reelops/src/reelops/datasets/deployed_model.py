"""``DeployedModelDataset``: the model an environment actually serves, for monitoring.

Monitoring must judge the model users got, not whichever one was registered last:

- ``served_by: alias``: a cluster environment serves what its environment file
  (``deploy/environments/<env>.yaml``) names, and the environment's alias
  (``@dev``, ``@staging``, ``@champion``) is moved to that version by ``kedro promote
  --sync`` when the file's change reaches main; the alias is read.
- ``served_by: bento``: on a workstation, ``make serve`` serves the newest bento of
  the BentoML store; the registry version it packs (its ``model_version`` label) is
  read.

Loading gives ``{"model": <the served estimator> | None, "info": {...}}`` where
``info`` says which version, from which run and data, and why there is none when
there is none. Read-only.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from kedro.io.core import AbstractDataset, DatasetError

__all__ = ["DeployedModelDataset"]

logger = logging.getLogger(__name__)


class DeployedModelDataset(AbstractDataset[None, dict[str, Any]]):
    """The estimator an environment serves, and which registered version it is.

    Example::

        deployed_model:                      # conf/base: a workstation
          type: reelops.datasets.deployed_model.DeployedModelDataset
          model_name: reelops-recommender
          served_by: bento
          bento_name: reelops-recommender
          bentoml_home: ${oc.env:BENTOML_HOME,bentoml_home}

        deployed_model:                      # conf/staging
          type: reelops.datasets.deployed_model.DeployedModelDataset
          model_name: reelops-recommender
          served_by: alias
          alias: staging
    """

    def __init__(
        self,
        *,
        model_name: str,
        served_by: Literal["alias", "bento"],
        alias: str | None = None,
        bento_name: str | None = None,
        bentoml_home: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Read the model ``served_by`` names (an alias, or the newest bento)."""
        if served_by not in {"alias", "bento"}:
            raise DatasetError(
                f"served_by must be 'alias' or 'bento', got '{served_by}'"
            )
        if served_by == "alias" and not alias:
            raise DatasetError("DeployedModelDataset served_by 'alias' needs an alias")
        if served_by == "bento" and not bento_name:
            raise DatasetError(
                "DeployedModelDataset served_by 'bento' needs a bento_name"
            )
        self._model_name = model_name
        self._served_by = served_by
        self._alias = alias
        self._bento_name = bento_name
        self._home = bentoml_home
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "model_name": self._model_name,
            "served_by": self._served_by,
            "alias": self._alias,
            "bento_name": self._bento_name,
        }

    def _bento_version(self) -> tuple[str | None, str | None, str]:
        """(registry version, bento tag, note) of the newest bento in the store."""
        import bentoml
        from bentoml._internal.bento import BentoStore
        from bentoml.exceptions import NotFound

        from reelops.datasets.bento_model import bentoml_home

        root = bentoml_home(self._home) / "bentos"
        if not root.is_dir():
            return None, None, f"no bento in {root.parent}: nothing is served locally"
        try:
            bentos = bentoml.bentos.list(
                self._bento_name, _bento_store=BentoStore(str(root))
            )
        except NotFound:
            bentos = []
        if not bentos:
            return None, None, f"no bento in {root.parent}: nothing is served locally"
        newest = max(bentos, key=lambda b: b.info.creation_time)
        labels = dict(newest.info.labels)
        version = labels.get("model_version")
        if not version:
            return None, str(newest.tag), f"bento {newest.tag} has no model_version"
        return str(version), str(newest.tag), ""

    def load(self) -> dict[str, Any]:
        """The served estimator (``None`` if nothing is served) and its lineage."""
        import mlflow
        from mlflow.exceptions import MlflowException

        from reelops.datasets.registered_model import load_estimator

        client = mlflow.MlflowClient()
        bento = None
        mv: Any = None
        try:
            if self._served_by == "alias":
                where = f"@{self._alias}"
                mv = client.get_model_version_by_alias(
                    self._model_name, str(self._alias)
                )
                version: str | None = str(mv.version)
                note = ""
            else:
                version, bento, note = self._bento_version()
                where = f"bento {bento}" if bento else "the newest bento"
                mv = (
                    client.get_model_version(self._model_name, version)
                    if version
                    else None
                )
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" not in str(exc.error_code) and (
                "not found" not in str(exc)
            ):
                raise DatasetError(
                    f"cannot read the deployed model of {self._model_name}: "
                    f"{exc.message}"
                ) from exc
            mv, version = None, None
            note = f"no registered version behind {where}: nothing to monitor"
        info: dict[str, Any] = {
            "served_by": self._served_by,
            "alias": self._alias,
            "bento_tag": bento,
            "model_name": self._model_name,
            "version": version if mv is not None else None,
            "run_id": None,
            "data_sha256": None,
            "estimator": None,
            "note": note,
        }
        if mv is None:
            logger.warning("%s", note)
            return {"model": None, "info": info}
        run_id = str(mv.run_id or "")
        if run_id:
            tags = client.get_run(run_id).data.tags
            info.update(run_id=run_id, data_sha256=tags.get("data.sha256"))
        model = load_estimator(f"models:/{self._model_name}/{mv.version}", "served")
        info["estimator"] = type(model).__name__
        logger.info("monitoring %s v%s (%s)", self._model_name, mv.version, where)
        return {"model": model, "info": info}

    def save(self, data: None) -> None:
        """Refuse: what is served changes by promotion, never by a pipeline."""
        raise DatasetError(
            "DeployedModelDataset is read-only: promote models with kedro promote"
        )
