"""RecommenderEngine on real small bundles: behaviour (MFT/INV/DIR) without HTTP."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from reelops_contracts import GENRES
from reelops_serving.engine import RecommenderEngine
from reelops_serving.errors import ModelBundleError, UnknownMovieError


@pytest.fixture(scope="module")
def engine(bundles: dict[str, Any]) -> RecommenderEngine:
    return RecommenderEngine(bundles["ease"])


@pytest.fixture(scope="module")
def bias_engine(bundles: dict[str, Any]) -> RecommenderEngine:
    return RecommenderEngine(bundles["bias"])


def test_every_recommended_movie_is_in_the_catalog(
    engine: RecommenderEngine, tables: dict[str, Any]
) -> None:
    catalog = set(tables["movie_features"]["movie_id"])
    for ranked in engine.recommend(list(range(1, 61)), 10):
        items = engine.items(ranked)
        assert len(items) == 10
        assert {i.movie_id for i in items} <= catalog


def test_duplicate_and_unordered_users_keep_their_positions(
    engine: RecommenderEngine,
) -> None:
    # INV: a user's list does not depend on who else is in the batch
    alone = engine.recommend([5], 5)[0]
    mixed = engine.recommend([9, 5, 0, 5], 5)
    for ranked in (mixed[1], mixed[3]):
        np.testing.assert_array_equal(ranked.rows, alone.rows)
    assert [r.fallback for r in mixed] == [False, False, True, False]


def test_activity_buckets_come_from_the_user_features(
    engine: RecommenderEngine, tables: dict[str, Any]
) -> None:
    users = tables["user_features"].set_index("user_id")["activity"]
    assert engine.activity(1) == users[1]
    assert engine.activity(10**9) == "unknown"
    assert engine.is_known_user(1)
    assert not engine.is_known_user(10**9)


def test_genre_filter_fetches_more_until_k_remain(engine: RecommenderEngine) -> None:
    # DIR: a rare genre still fills k slots (the engine asks the model for more)
    ranked = engine.recommend([1], 10, genres=["Film-Noir"])[0]
    items = engine.items(ranked)
    assert len(items) == 10
    assert all("Film-Noir" in i.genres for i in items)


def test_a_genre_with_too_few_movies_returns_what_exists(
    engine: RecommenderEngine, tables: dict[str, Any]
) -> None:
    movies = tables["movie_features"]
    ratings = tables["ratings"]
    rated = set(ratings["movie_id"])
    imax = {
        m
        for m, g in zip(movies["movie_id"], movies["genres"], strict=True)
        if "IMAX" in g
    }
    ranked = engine.recommend([1], 100, genres=["IMAX"], exclude_seen=False)[0]
    got = {i.movie_id for i in engine.items(ranked)}
    assert got <= imax & rated
    assert 0 < len(got) <= 100


def test_predict_and_similar_reject_unknown_movies_with_one_line(
    engine: RecommenderEngine,
) -> None:
    message = f"unknown movie_id 999999999: not in the catalog of model {engine.tag}"
    with pytest.raises(UnknownMovieError, match=re.escape(message)):
        engine.predict(1, 999_999_999)
    with pytest.raises(UnknownMovieError, match=re.escape(message)):
        engine.similar(999_999_999, 3)


def test_catalog_movie_unseen_by_the_model_uses_fallbacks(
    engine: RecommenderEngine, tables: dict[str, Any]
) -> None:
    # GIVEN a catalog movie nobody among the training users rated
    rated = set(tables["ratings"]["movie_id"])
    unseen = next(m for m in tables["movie_features"]["movie_id"] if m not in rated)
    # THEN predict answers with the bias fallback and similar with shared genres
    rating, fallback = engine.predict(1, int(unseen))
    assert fallback is True
    assert 0.5 <= rating <= 5.0
    similar = engine.similar(int(unseen), 5)
    assert similar.fallback is True
    assert len(similar.rows) == 5


def test_similar_without_model_similarity_ranks_by_shared_genres(
    bias_engine: RecommenderEngine,
) -> None:
    ranked = bias_engine.similar(1, 20)
    assert ranked.fallback is True
    assert list(ranked.scores) == sorted(ranked.scores, reverse=True)
    assert ranked.scores[0] == 1.0
    assert 1 not in {i.movie_id for i in bias_engine.items(ranked)}


def test_every_genre_of_the_api_exists_in_the_catalog(
    engine: RecommenderEngine, tables: dict[str, Any]
) -> None:
    catalog = {g for gs in tables["movie_features"]["genres"] for g in gs.split("|")}
    assert catalog <= set(GENRES)
    assert set(GENRES) == set(engine.metadata["genres"])


def test_warm_up_runs_every_path_and_changes_no_answer(
    engine: RecommenderEngine,
) -> None:
    before = engine.recommend([1, 0], 5)
    engine.warm_up()
    after = engine.recommend([1, 0], 5)
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(b.rows, a.rows)
        np.testing.assert_array_equal(b.scores, a.scores)


def test_a_bundle_without_a_fitted_estimator_is_refused(
    bundles: dict[str, Any],
) -> None:
    from dataclasses import replace

    from recsys import EASE

    bad = replace(bundles["ease"], estimator=EASE())
    with pytest.raises(ModelBundleError, match="expected a fitted recsys estimator"):
        RecommenderEngine(bad)
    empty = replace(bundles["ease"], movies=bundles["ease"].movies.iloc[:0])
    with pytest.raises(ModelBundleError, match="the catalog is empty"):
        RecommenderEngine(empty)


def test_scores_are_finite_json_numbers(engine: RecommenderEngine) -> None:
    ranked = engine.recommend([*range(1, 61), 0], 100)
    assert all(np.isfinite(r.scores).all() for r in ranked)
    assert all(isinstance(i.score, float) for i in engine.items(ranked[0]))


def test_movies_rated_since_training_are_left_out_and_k_still_filled(
    engine: RecommenderEngine,
) -> None:
    # GIVEN a user's top 5, and the user then rating the first 3 of them
    before = [i.movie_id for i in engine.items(engine.recommend([7], 5)[0])]
    rated = {7: set(before[:3])}
    # WHEN recommending again with those exclusions
    after = [
        i.movie_id for i in engine.items(engine.recommend([7], 5, exclude=rated)[0])
    ]
    # THEN none of them comes back, the rest keeps its order, and 5 are returned
    assert len(after) == 5
    assert not set(after) & rated[7]
    assert after[:2] == before[3:]
    # AND other users in the same batch are untouched
    both = engine.recommend([7, 8], 5, exclude=rated)
    alone = engine.recommend([8], 5)[0]
    np.testing.assert_array_equal(both[1].rows, alone.rows)
