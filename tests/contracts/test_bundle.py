"""The serving bundle: written by packaging, read by the service, format in between."""

from __future__ import annotations

import logging
import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys import BiasBaseline, PopularityRecommender
from reelops.datasets.bento_model import write_bundle
from reelops_contracts import (
    BUNDLE_FILES,
    MOVIE_COLUMNS,
    SHA256_METADATA_KEY,
    USER_COLUMNS,
    ArtifactIntegrityError,
    ServingBundle,
    sha256_bytes,
)
from reelops_serving.bundle import load_bundle

TAG = "reelops-recommender:v1-00000000"


@pytest.fixture
def bundle() -> ServingBundle:
    rng = np.random.default_rng(3)
    ratings = pd.DataFrame(
        {
            "user_id": rng.integers(1, 10, 100),
            "movie_id": rng.integers(1, 5, 100),
            "timestamp": 1_600_000_000,
        }
    )
    estimator = BiasBaseline().fit(ratings, rng.choice([3.0, 4.0], 100))
    movies = pd.DataFrame(
        {
            "movie_id": [1, 2, 3, 4],
            "title": ["A", "B", "C", "D"],
            "year": [1999, 2000, None, 2001],
            "genres": ["Drama", "Comedy", "Drama|War", "(no genres listed)"],
            "n_ratings": [3, 2, 1, 0],
            "popularity_rank": [1, 2, 3, 4],
            "extra": 0,  # not part of the format: not written
        }
    )
    users = pd.DataFrame({"user_id": [1, 2], "n_ratings": [3, 1], "activity": "light"})
    return ServingBundle(
        tag=TAG, estimator=estimator, movies=movies, users=users, metadata={"a": 1}
    )


def test_the_service_reads_back_what_packaging_wrote(
    bundle: ServingBundle, tmp_path: Path
) -> None:
    # GIVEN a bundle written as packaging writes it
    digests = write_bundle(bundle, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(BUNDLE_FILES.values())
    payload = (tmp_path / BUNDLE_FILES["estimator"]).read_bytes()
    assert digests == {"estimator.pkl": sha256_bytes(payload)}
    # WHEN the service loads it with the recorded digest
    loaded = load_bundle(
        tmp_path,
        tag=TAG,
        metadata={SHA256_METADATA_KEY: digests, "a": 1},
        labels={"b": "2"},
    )
    # THEN it gets the estimator and the format's columns
    assert type(loaded.estimator) is BiasBaseline
    assert tuple(loaded.movies.columns) == MOVIE_COLUMNS
    assert tuple(loaded.users.columns) == USER_COLUMNS
    assert loaded.movies["title"].tolist() == ["A", "B", "C", "D"]
    assert loaded.labels == {"b": "2"}


def test_a_replaced_estimator_is_refused_before_unpickling(
    bundle: ServingBundle, tmp_path: Path
) -> None:
    digests = write_bundle(bundle, tmp_path)
    target = tmp_path / BUNDLE_FILES["estimator"]
    target.write_bytes(pickle.dumps(PopularityRecommender()))
    msg = (
        f"bento model {TAG} estimator.pkl: sha256 mismatch: expected "
        f"{digests['estimator.pkl']}, got {sha256_bytes(target.read_bytes())} "
        "(refusing to unpickle)"
    )
    with pytest.raises(ArtifactIntegrityError, match=f"^{re.escape(msg)}$"):
        load_bundle(
            tmp_path, tag=TAG, metadata={SHA256_METADATA_KEY: digests}, labels={}
        )


def test_a_bundle_without_digest_loads_with_a_warning(
    bundle: ServingBundle, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_bundle(bundle, tmp_path)
    with caplog.at_level(logging.WARNING):
        loaded = load_bundle(tmp_path, tag=TAG, metadata={}, labels={})
    assert type(loaded.estimator) is BiasBaseline
    assert f"bento model {TAG} estimator.pkl has no recorded sha256" in caplog.text
