"""The serving bundle: what packaging writes into a BentoML model and serving reads.

A bundle directory (``bentoml.models.get(tag).path``) holds :data:`BUNDLE_FILES`:
the pickled recsys estimator, the movie catalog (:data:`MOVIE_COLUMNS`) and the
users' activity (:data:`USER_COLUMNS`) as Parquet. The model's metadata records
the estimator's sha256 under :data:`SHA256_METADATA_KEY` (``{file name: digest}``,
checked with :func:`reelops_contracts.integrity.verify_sha256` before unpickling)
and the validation rules of ingested ratings under :data:`VALIDATION_METADATA_KEY`
(:class:`reelops_contracts.rules.ValidationRules`).

The writer (``reelops.datasets.bento_model``) and the reader
(``reelops_serving.bundle``) do the I/O; this module holds no Parquet or pickle
code, so it needs neither pandas nor the estimator's library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BUNDLE_FILES",
    "MOVIE_COLUMNS",
    "SHA256_METADATA_KEY",
    "USER_COLUMNS",
    "VALIDATION_METADATA_KEY",
    "ServingBundle",
]

#: Files of a bundle directory.
BUNDLE_FILES: dict[str, str] = {
    "estimator": "estimator.pkl",
    "movies": "movies.parquet",
    "users": "users.parquet",
}
#: Metadata key of ``{bundle file: sha256}`` for the bundle's pickles.
SHA256_METADATA_KEY = "artifact_sha256"
#: Metadata key of the validation rules the model's training data passed.
VALIDATION_METADATA_KEY = "validation"
#: Columns of the catalog a bundle carries.
MOVIE_COLUMNS: tuple[str, ...] = (
    "movie_id",
    "title",
    "year",
    "genres",
    "n_ratings",
    "popularity_rank",
)
#: Columns of the user table a bundle carries.
USER_COLUMNS: tuple[str, ...] = ("user_id", "n_ratings", "activity")


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
    estimator: Any
    movies: pd.DataFrame
    users: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
