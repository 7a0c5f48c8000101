"""Behavioural tests: minimum functionality, direction and invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from .conftest import ESTIMATOR_NAMES, small_estimators

COMEDIES = np.arange(1, 41)
HORRORS = np.arange(101, 141)
FAN = 999


def _world(*, fan_dislikes_horror: bool) -> pd.DataFrame:
    """Comedy fans and horror fans, plus one new comedy fan (user 999)."""
    rng = np.random.default_rng(5)
    rows = []
    for user in range(1, 81):
        liked, other = (COMEDIES, HORRORS) if user <= 40 else (HORRORS, COMEDIES)
        for movie in rng.choice(liked, 20, replace=False):
            rows.append((user, movie, rng.choice([4.0, 4.5, 5.0])))
        for movie in rng.choice(other, 3, replace=False):
            rows.append((user, movie, rng.choice([1.0, 1.5, 2.0])))
    for movie in COMEDIES[:15]:
        rows.append((FAN, movie, 5.0))
    if fan_dislikes_horror:
        for movie in HORRORS[:5]:
            rows.append((FAN, movie, 1.0))
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating"])


@pytest.fixture(scope="module")
def genre_world() -> pd.DataFrame:
    """The fan rated 15 comedies 5 stars and 5 horror movies 1 star.

    Rating models need the low ratings: with comedies only, the neighbourhood model
    has no evidence against horror movies (their similarity to comedies is negative,
    hence unused) and ranks them by their baseline, exactly as Surprise would.
    """
    return _world(fan_dislikes_horror=True)


@pytest.fixture(scope="module")
def watched_world() -> pd.DataFrame:
    """The fan only watched comedies: the implicit-feedback view (EASE)."""
    return _world(fan_dislikes_horror=False)


@pytest.mark.parametrize("name", ["mf", "item_knn", "ease", "blend"])
def test_comedy_fan_gets_comedies(genre_world, watched_world, name):
    # GIVEN a user who rated 15 comedies highly (and, for rating models, disliked
    # a few horror movies)
    world = watched_world if name == "ease" else genre_world
    model = small_estimators()[name]
    if name == "mf":
        model.set_params(n_epochs=60, n_factors=8)
    model.fit(world, world["rating"])
    # WHEN recommending 10 movies
    recs = model.recommend(FAN, k=10)
    # THEN nearly all of them are comedies they have not seen
    assert np.isin(recs.movie_id, COMEDIES).sum() >= 9
    assert not np.isin(recs.movie_id, COMEDIES[:15]).any()
    assert not np.isin(recs.movie_id, HORRORS[:5]).any()


@pytest.mark.parametrize("name", ["mf", "item_knn", "blend"])
def test_unseen_comedy_is_predicted_above_unseen_horror(genre_world, name):
    model = small_estimators()[name]
    if name == "mf":
        model.set_params(n_epochs=60, n_factors=8)
    model.fit(genre_world, genre_world["rating"])
    X = pd.DataFrame({"user_id": FAN, "movie_id": np.r_[COMEDIES[15:], HORRORS[5:]]})
    pred = model.predict(X)
    n = len(COMEDIES) - 15
    assert pred[:n].mean() > pred[n:].mean() + 0.5


@pytest.mark.parametrize("name", ["mf", "item_knn", "ease"])
def test_similar_items_stay_in_genre(genre_world, name):
    model = small_estimators()[name]
    if name == "mf":
        model.set_params(n_epochs=60, n_factors=8)
    model.fit(genre_world, genre_world["rating"])
    sims = model.similar_items(int(HORRORS[0]), k=5)
    assert np.isin(sims.similar_movie_id, HORRORS).sum() >= 4


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_order_preserving_relabelling_is_invariant(ratings, name):
    # GIVEN the same data with every id shifted (which keeps their order)
    shifted = ratings.assign(
        user_id=ratings["user_id"] + 10_000, movie_id=ratings["movie_id"] + 50_000
    )
    a = clone(small_estimators()[name]).fit(ratings, ratings["rating"])
    b = clone(small_estimators()[name]).fit(shifted, shifted["rating"])
    # THEN predictions and recommendations are the same, up to the relabelling
    np.testing.assert_allclose(a.predict(ratings), b.predict(shifted))
    users = ratings["user_id"].unique()[:5]
    ra, rb = a.recommend(users, k=5), b.recommend(users + 10_000, k=5)
    np.testing.assert_array_equal(ra.movie_id + 50_000, rb.movie_id)


def test_popularity_minimum_functionality(genre_world):
    model = small_estimators()["popularity"].fit(genre_world, genre_world["rating"])
    counts = genre_world["movie_id"].value_counts()
    assert (
        model.recommend(-1, k=1).movie_id[0]
        == counts.index[counts == counts.max()].min()
    )


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_seen_in_fit_flags_exactly_the_training_pairs(ratings, fitted, name):
    model = fitted[name]
    train_pairs = set(zip(ratings["user_id"], ratings["movie_id"], strict=True))
    rng = np.random.default_rng(3)
    # training pairs, unrated pairs of known users and movies, unknown ids
    queries = pd.concat(
        [
            ratings[["user_id", "movie_id"]].sample(200, random_state=1),
            pd.DataFrame(
                {
                    "user_id": rng.choice(ratings["user_id"].unique(), 300),
                    "movie_id": rng.choice(ratings["movie_id"].unique(), 300),
                }
            ),
            pd.DataFrame({"user_id": [-5, 10**9], "movie_id": [1, -7]}),
        ],
        ignore_index=True,
    )
    expected = [
        (u, m) in train_pairs
        for u, m in zip(queries["user_id"], queries["movie_id"], strict=True)
    ]
    assert model.seen_in_fit(queries).tolist() == expected
    assert 0 < sum(expected) < len(expected)
    # what recommend leaves out is what seen_in_fit flags
    user = int(queries["user_id"].iloc[0])
    recommended = model.recommend([user], 20).movie_id
    pairs = pd.DataFrame({"user_id": user, "movie_id": recommended})
    assert not model.seen_in_fit(pairs).any()
