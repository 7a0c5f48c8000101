from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from recsys import InvalidParameterError, make_movielens_like
from recsys.synthetic import GENRES


@pytest.fixture(scope="module")
def synth() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_movielens_like(200_000, random_state=11, return_movies=True)


def test_shape_and_dtypes(synth):
    ratings, movies = synth
    assert list(ratings.columns) == ["user_id", "movie_id", "rating", "timestamp"]
    assert len(ratings) == 200_000
    assert ratings["user_id"].dtype == np.int32
    assert ratings["movie_id"].dtype == np.int32
    assert ratings["rating"].dtype == np.float32
    assert ratings["timestamp"].dtype == np.int64
    # Defaults follow MovieLens proportions (ml-1m: 6k users, 3.7k movies per 1M).
    assert ratings["user_id"].nunique() == round(200_000 / (25_000_095 / 162_541))
    assert ratings["movie_id"].max() <= 59_047 * (200_000 / 25e6) ** 0.86 + 1
    assert list(movies.columns) == ["movie_id", "title", "genres"]


def test_ratings_on_the_half_star_grid(synth):
    ratings, _ = synth
    values = ratings["rating"].to_numpy()
    assert values.min() >= 0.5
    assert values.max() <= 5.0
    np.testing.assert_array_equal(values * 2, np.round(values * 2))
    assert 3.0 < values.mean() < 4.0
    assert 0.7 < values.std() < 1.3
    assert len(np.unique(values)) == 10


def test_no_repeated_pair_and_min_activity(synth):
    ratings, _ = synth
    assert not ratings.duplicated(["user_id", "movie_id"]).any()
    per_user = ratings.groupby("user_id").size()
    assert per_user.min() >= 20


def test_power_law_activity_and_popularity(synth):
    ratings, _ = synth
    per_user = ratings.groupby("user_id").size().sort_values(ascending=False)
    per_movie = ratings.groupby("movie_id").size().sort_values(ascending=False)
    # Heavy tails: the top users/movies take a disproportionate share.
    assert per_user.max() > 4 * per_user.median()
    assert per_user.quantile(0.25) < 0.6 * per_user.mean()
    top_movies = per_movie.iloc[: len(per_movie) // 10].sum()
    assert top_movies > 0.3 * len(ratings)
    assert per_movie.iloc[-1] < per_movie.median() / 3


def test_timestamps_span_movielens_years(synth):
    ratings, _ = synth
    ts = ratings["timestamp"]
    assert ts.min() >= 822_873_600
    assert ts.max() <= 1_574_327_703


def test_deterministic_by_seed():
    a = make_movielens_like(5_000, random_state=1)
    b = make_movielens_like(5_000, random_state=1)
    c = make_movielens_like(5_000, random_state=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_genres_reflect_tastes(synth):
    ratings, movies = synth
    assert movies["genres"].str.len().gt(0).all()
    assert set(movies["genres"].str.split("|").explode()) <= set(GENRES)
    # Genre g marks movies high on latent factor g, so users' mean ratings of a
    # genre vary more across users than the noise alone would allow.
    comedy = movies.loc[movies["genres"].str.contains("Comedy"), "movie_id"]
    on_comedy = ratings[ratings["movie_id"].isin(comedy)]
    per_user = on_comedy.groupby("user_id")["rating"].agg(["mean", "size"])
    per_user = per_user[per_user["size"] >= 20]
    assert per_user["mean"].std() > 0.3


def test_explicit_sizes_and_infeasible_request():
    ratings = make_movielens_like(1_000, n_users=10, n_movies=500, random_state=0)
    assert ratings["user_id"].nunique() == 10
    msg = (
        "n_ratings=1000 is too many for 10 users and 100 movies: expected at most "
        "n_users * (n_movies // 2) = 500"
    )
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        make_movielens_like(1_000, n_users=10, n_movies=100)
