"""Read the serving bundle a BentoML model holds (the format of reelops_contracts).

The estimator is unpickled only when its bytes hash to the sha256 the model's
metadata recorded when it was packaged (none recorded: a warning).
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any

import pandas as pd

from reelops_contracts import (
    BUNDLE_FILES,
    SHA256_METADATA_KEY,
    ServingBundle,
    sha256_bytes,
    verify_sha256,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["load_bundle"]


def load_bundle(
    directory: Path,
    *,
    tag: str,
    metadata: dict[str, Any],
    labels: dict[str, str],
) -> ServingBundle:
    """The bundle written in ``directory`` (a BentoML model's path).

    Raises:
        FileNotFoundError: A bundle file is missing.
        reelops_contracts.ArtifactIntegrityError: The estimator file is not the
            one packaged.
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
    return ServingBundle(
        tag=tag,
        estimator=estimator,
        movies=pd.read_parquet(directory / BUNDLE_FILES["movies"]),
        users=pd.read_parquet(directory / BUNDLE_FILES["users"]),
        metadata=dict(metadata),
        labels=dict(labels),
    )
