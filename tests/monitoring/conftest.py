"""Fixtures of the monitoring tests: real MovieLens in the primary schema."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def ml_ratings(real_movielens: Path) -> pd.DataFrame:
    """ml-latest-small ratings as the primary table names its columns."""
    return pd.read_csv(real_movielens / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "movie_id"}
    )


@pytest.fixture(scope="session")
def ml_movies(real_movielens: Path) -> pd.DataFrame:
    return pd.read_csv(real_movielens / "movies.csv").rename(
        columns={"movieId": "movie_id"}
    )


@pytest.fixture
def small_frame() -> pd.DataFrame:
    """String, datetime, bool, float and int columns, with nulls."""
    return pd.DataFrame(
        {
            "endpoint": ["/recommend", "/recommend", "/similar", None],
            "at": pd.to_datetime(
                ["2024-01-01", None, "2024-01-02", "2024-01-03"], utc=True
            ),
            "cold_start": [True, False, False, True],
            "latency_ms": [12.5, 40.0, float("nan"), 8.25],
            "k": [10, 10, 20, 5],
        }
    )
