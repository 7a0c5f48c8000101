"""``BentoModelDataset``: what serving needs, saved to the BentoML model store.

A :class:`ServingBundle` is the unit of deployment: the fitted recsys estimator, the
movie catalog (title, year, genres, popularity), the users' activity buckets, and
metadata (lineage, key metrics, the validation rules of ingested ratings). Saving
one creates the BentoML model ``bundle.tag`` whose directory holds
:data:`BUNDLE_FILES`; the service reads it back with
:meth:`ServingBundle.from_directory`. Saving a :class:`PackagingSkipped` writes
nothing and logs why.

The estimator pickle's sha256 is recorded in the model's metadata
(:data:`SHA256_METADATA_KEY`) when it is saved, and :meth:`ServingBundle.from_directory`
refuses in one line a file that no longer matches it, before unpickling. A model
saved before digests were recorded loads with a warning.
"""

from __future__ import annotations

import logging
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import bentoml
import pandas as pd
from bentoml.exceptions import NotFound
from kedro.io.core import AbstractDataset, DatasetError

from reelops.datasets._integrity import sha256_bytes, verify_sha256

if TYPE_CHECKING:
    from bentoml._internal.models import ModelStore

    from recsys import BaseRecommender

__all__ = [
    "BUNDLE_FILES",
    "MOVIE_COLUMNS",
    "SHA256_METADATA_KEY",
    "USER_COLUMNS",
    "BentoModelDataset",
    "PackagingSkipped",
    "ServingBundle",
    "bentoml_home",
]

logger = logging.getLogger(__name__)

#: Files of a bundle directory (``bentoml.models.get(tag).path``).
BUNDLE_FILES = {
    "estimator": "estimator.pkl",
    "movies": "movies.parquet",
    "users": "users.parquet",
}
#: Metadata key of ``{bundle file: sha256}`` for the bundle's pickles.
SHA256_METADATA_KEY = "artifact_sha256"
#: Columns of the catalog and of the user table a bundle carries.
MOVIE_COLUMNS = ["movie_id", "title", "year", "genres", "n_ratings", "popularity_rank"]
USER_COLUMNS = ["user_id", "n_ratings", "activity"]


@dataclass(frozen=True, eq=False)
class ServingBundle:
    """A packaged model: estimator, catalog, user activity and metadata.

    Attributes:
        tag: The BentoML model tag (``name:version``).
        estimator: The fitted recsys estimator.
        movies: One row per catalog movie (:data:`MOVIE_COLUMNS`).
        users: One row per known user (:data:`USER_COLUMNS`).
        metadata: JSON-ready lineage, metrics and validation rules.
        labels: String labels of the BentoML model (lineage and key metrics).
    """

    tag: str
    estimator: BaseRecommender
    movies: pd.DataFrame
    users: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def write_to(self, directory: Path) -> dict[str, str]:
        """Write the bundle files into ``directory`` (which must exist).

        Returns:
            ``{file name: sha256}`` of the pickles written, for the model's metadata.
        """
        payload = pickle.dumps(self.estimator, protocol=5)
        (directory / BUNDLE_FILES["estimator"]).write_bytes(payload)
        self.movies[MOVIE_COLUMNS].to_parquet(
            directory / BUNDLE_FILES["movies"], index=False
        )
        self.users[USER_COLUMNS].to_parquet(
            directory / BUNDLE_FILES["users"], index=False
        )
        return {BUNDLE_FILES["estimator"]: sha256_bytes(payload)}

    @classmethod
    def from_directory(
        cls,
        directory: Path,
        *,
        tag: str,
        metadata: dict[str, Any],
        labels: dict[str, str],
    ) -> ServingBundle:
        """Read a bundle written by :meth:`write_to`.

        The estimator is unpickled only when its sha256 is the one ``metadata``
        recorded (:data:`SHA256_METADATA_KEY`; none recorded: a warning).

        Raises:
            FileNotFoundError: A bundle file is missing.
            ArtifactIntegrityError: The estimator file is not the one packaged.
        """
        path = directory / BUNDLE_FILES["estimator"]
        recorded = metadata.get(SHA256_METADATA_KEY) or {}
        payload = path.read_bytes()
        verify_sha256(
            f"bento model {tag} {path.name}",
            expected=recorded.get(path.name),
            actual=sha256_bytes(payload),
        )
        estimator = pickle.loads(payload)  # noqa: S301 - verified just above
        return cls(
            tag=tag,
            estimator=estimator,
            movies=pd.read_parquet(directory / BUNDLE_FILES["movies"]),
            users=pd.read_parquet(directory / BUNDLE_FILES["users"]),
            metadata=dict(metadata),
            labels=dict(labels),
        )


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
            digests = data.write_to(Path(model.path))
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
