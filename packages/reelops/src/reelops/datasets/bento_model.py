"""``BentoModelDataset``: what serving needs, saved to the BentoML model store.

A :class:`~reelops_contracts.ServingBundle` is the unit of deployment: the fitted
recsys estimator, the movie catalog (title, year, genres, popularity), the users'
activity buckets, and metadata (lineage, key metrics, the validation rules of
ingested ratings). Saving one creates the BentoML model ``bundle.tag`` whose
directory holds the files of :data:`reelops_contracts.BUNDLE_FILES`; the service
reads it back with ``reelops_serving.bundle.load_bundle``. The format is
:mod:`reelops_contracts.bundle`. Saving a :class:`PackagingSkipped` writes nothing
and logs why.

The estimator pickle's sha256 is recorded in the model's metadata
(:data:`reelops_contracts.SHA256_METADATA_KEY`) when it is saved, and the service
refuses in one line a file that no longer matches it, before unpickling.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import bentoml
from bentoml.exceptions import NotFound
from kedro.io.core import AbstractDataset, DatasetError

from reelops.datasets._integrity import dump_pickle
from reelops_contracts import (
    BUNDLE_FILES,
    MOVIE_COLUMNS,
    SHA256_METADATA_KEY,
    USER_COLUMNS,
    ServingBundle,
)

if TYPE_CHECKING:
    from bentoml._internal.models import ModelStore

__all__ = [
    "BentoModelDataset",
    "PackagingSkipped",
    "bentoml_home",
    "write_bundle",
]

logger = logging.getLogger(__name__)


def write_bundle(bundle: ServingBundle, directory: Path) -> dict[str, str]:
    """Write the bundle files into ``directory`` (which must exist).

    Returns:
        ``{file name: sha256}`` of the pickles written, for the model's metadata.
    """
    with (directory / BUNDLE_FILES["estimator"]).open("wb") as handle:
        digest = dump_pickle(bundle.estimator, handle)
    bundle.movies[list(MOVIE_COLUMNS)].to_parquet(
        directory / BUNDLE_FILES["movies"], index=False
    )
    bundle.users[list(USER_COLUMNS)].to_parquet(
        directory / BUNDLE_FILES["users"], index=False
    )
    return {BUNDLE_FILES["estimator"]: digest}


@dataclass(frozen=True)
class PackagingSkipped:
    """Nothing new to package (the run did not register a model), and why."""

    reason: str


def bentoml_home(configured: str | None = None) -> Path:
    """The BentoML home: ``configured``, else ``$BENTOML_HOME``, else ``~/bentoml``."""
    home = configured or os.environ.get("BENTOML_HOME") or "~/bentoml"
    return Path(home).expanduser().resolve()


class BentoModelDataset(AbstractDataset[ServingBundle | PackagingSkipped, dict]):
    """Save serving bundles to a BentoML model store; load the newest one's info.

    Example::

        serving_model:
          type: reelops.datasets.BentoModelDataset
          model_name: reelops-recommender
          bentoml_home: ${oc.env:BENTOML_HOME,bentoml_home}

    Saving a bundle whose tag is already in the store does nothing (the tag names
    one registered model version, so the content is the same).
    """

    def __init__(
        self,
        *,
        model_name: str,
        bentoml_home: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset for the models named ``model_name``."""
        self._model_name = model_name
        self._home = bentoml_home
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"model_name": self._model_name, "bentoml_home": self._home}

    def _store(self) -> ModelStore:
        # The public bentoml.models functions take the store as ``_model_store``.
        from bentoml._internal.models import ModelStore

        root = bentoml_home(self._home) / "models"
        root.mkdir(parents=True, exist_ok=True)
        return ModelStore(str(root))

    def save(self, data: ServingBundle | PackagingSkipped) -> None:
        """Create the model ``data.tag`` in the store, or log why nothing is saved."""
        if isinstance(data, PackagingSkipped):
            logger.warning("nothing packaged for serving: %s", data.reason)
            return
        name = bentoml.Tag.from_taglike(data.tag).name
        if name != self._model_name:
            raise DatasetError(
                f"bundle tag '{data.tag}' must be a version of '{self._model_name}'"
            )
        store = self._store()
        try:
            bentoml.models.get(data.tag, _model_store=store)
        except NotFound:
            pass
        else:
            logger.info("BentoML model %s is already in the store", data.tag)
            return
        with bentoml.models.create(
            data.tag,
            labels=data.labels,
            metadata=data.metadata,
            _model_store=store,
        ) as model:
            digests = write_bundle(data, Path(model.path))
            # Written to the model's model.yaml when the context exits.
            model.info.metadata[SHA256_METADATA_KEY] = cast("Any", digests)
        logger.info("saved BentoML model %s in %s", data.tag, bentoml_home(self._home))

    def load(self) -> dict[str, Any]:
        """The newest stored model: ``tag``, ``labels``, ``metadata`` and ``path``."""
        models = bentoml.models.list(self._model_name, _model_store=self._store())
        if not models:
            raise DatasetError(
                f"no BentoML model named '{self._model_name}' in "
                f"{bentoml_home(self._home)}"
            )
        newest = max(models, key=lambda m: m.info.creation_time)
        return {
            "tag": str(newest.tag),
            "labels": dict(newest.info.labels),
            "metadata": dict(newest.info.metadata),
            "path": newest.path,
        }

    def _exists(self) -> bool:
        try:
            return bool(
                bentoml.models.list(self._model_name, _model_store=self._store())
            )
        except NotFound:
            return False
