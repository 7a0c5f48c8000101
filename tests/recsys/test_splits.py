from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from recsys import (
    InvalidInputError,
    InvalidParameterError,
    hash_split,
    leave_last_n_split,
    random_split,
    temporal_split,
)


def _assert_partition(ratings, train, test):
    assert len(train) + len(test) == len(ratings)
    assert set(train.index).isdisjoint(test.index)
    assert sorted([*train.index, *test.index]) == sorted(ratings.index)
    # Rows keep their content and the input's order.
    pd.testing.assert_frame_equal(train, ratings.loc[train.index])
    assert train.index.is_monotonic_increasing
    assert test.index.is_monotonic_increasing


def test_random_split_is_a_seeded_partition(ratings):
    train, test = random_split(ratings, test_size=0.2, random_state=3)
    _assert_partition(ratings, train, test)
    assert len(test) == round(0.2 * len(ratings))
    again_train, again_test = random_split(ratings, test_size=0.2, random_state=3)
    pd.testing.assert_frame_equal(test, again_test)
    pd.testing.assert_frame_equal(train, again_train)
    _, other_test = random_split(ratings, test_size=0.2, random_state=4)
    assert not test.index.equals(other_test.index)


def test_random_split_accepts_a_row_count(ratings):
    _, test = random_split(ratings, test_size=100, random_state=0)
    assert len(test) == 100


def test_random_split_does_not_modify_its_input(ratings):
    before = ratings.copy()
    random_split(ratings, random_state=0)
    pd.testing.assert_frame_equal(ratings, before)


@pytest.mark.parametrize("test_size", [0.0, 1.0, 0, 6000, -0.1, "0.2", None])
def test_split_size_must_leave_both_parts_non_empty(ratings, test_size):
    msg = (
        "test_size must be a float in (0, 1) or an int in [1, n_rows - 1] leaving "
        f"both parts non-empty, got {test_size!r} for 6000 rows"
    )
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        random_split(ratings, test_size=test_size, random_state=0)


def test_temporal_split_is_a_global_time_cut(ratings):
    train, test = temporal_split(ratings, test_size=0.25)
    _assert_partition(ratings, train, test)
    assert len(test) == 1500
    assert train["timestamp"].max() <= test["timestamp"].min()
    pd.testing.assert_frame_equal(test, temporal_split(ratings, test_size=0.25)[1])


def test_temporal_split_breaks_timestamp_ties_by_row_order():
    frame = pd.DataFrame({"user_id": [1, 2, 3, 4], "timestamp": [5, 5, 5, 1]})
    train, test = temporal_split(frame, test_size=2)
    assert list(test.index) == [1, 2]
    assert list(train.index) == [0, 3]


def test_temporal_split_requires_a_timestamp():
    msg = (
        "ratings is missing column(s) ['timestamp']: expected ['timestamp'], got ['a']"
    )
    with pytest.raises(InvalidInputError, match=re.escape(msg)):
        temporal_split(pd.DataFrame({"a": [1, 2]}))


def test_leave_last_n_holds_out_each_users_latest(ratings):
    train, test = leave_last_n_split(ratings, n=2)
    _assert_partition(ratings, train, test)
    counts = ratings.groupby("user_id").size()
    assert (test.groupby("user_id").size() == 2).all()
    assert set(test["user_id"]) == set(counts[counts > 2].index)
    last_train = train.groupby("user_id")["timestamp"].max()
    first_test = test.groupby("user_id")["timestamp"].min()
    assert (last_train.loc[first_test.index] <= first_test).all()


def test_leave_last_n_keeps_small_users_in_train():
    frame = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 3, 3],
            "timestamp": [3, 1, 2, 9, 7, 7],
        }
    )
    train, test = leave_last_n_split(frame, n=1)
    # User 1: latest is row 0; user 2 has a single rating and stays in train;
    # user 3's tie is broken by row order (row 5 is the later one).
    assert list(test.index) == [0, 5]
    assert list(train.index) == [1, 2, 3, 4]


def test_leave_last_n_validates_n(ratings):
    with pytest.raises(
        InvalidParameterError,
        match=re.escape("n must be an integer >= 1, got 0 instead"),
    ):
        leave_last_n_split(ratings, n=0)


def test_leave_last_n_test_users_are_all_known_in_train(ratings):
    train, test = leave_last_n_split(ratings, n=1)
    assert set(test["user_id"]) <= set(train["user_id"])
    assert np.isin(test["user_id"], train["user_id"]).all()


def test_hash_split_is_a_seeded_partition_near_the_test_share(ratings):
    train, test = hash_split(ratings, test_size=0.2, seed=3)
    _assert_partition(ratings, train, test)
    share = len(test) / len(ratings)
    assert abs(share - 0.2) < 4 * np.sqrt(0.2 * 0.8 / len(ratings))
    _, again = hash_split(ratings, test_size=0.2, seed=3)
    pd.testing.assert_frame_equal(test, again)
    _, other = hash_split(ratings, test_size=0.2, seed=4)
    assert not test.index.equals(other.index)


def test_hash_split_keeps_every_pair_on_its_side_when_rows_are_added(ratings):
    # GIVEN the split of the ratings, then the same ratings with new ones appended
    # and shuffled (feedback arriving)
    _, test = hash_split(ratings, test_size=0.2, seed=7)
    extra = pd.DataFrame(
        {
            "user_id": np.arange(100_000, 100_300),
            "movie_id": np.arange(300) % 7 + 1,
            "rating": 4.0,
            "timestamp": 1_600_000_000,
        }
    )
    grown = pd.concat([ratings, extra], ignore_index=True).sample(
        frac=1, random_state=0
    )
    _, grown_test = hash_split(grown, test_size=0.2, seed=7)
    # THEN every held-out pair is still held out, and no trained pair moved to test
    pairs = set(zip(test["user_id"], test["movie_id"], strict=True))
    grown_pairs = set(zip(grown_test["user_id"], grown_test["movie_id"], strict=True))
    old = set(zip(ratings["user_id"], ratings["movie_id"], strict=True))
    assert grown_pairs & old == pairs


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_size": 0}, "test_size must be a float in (0, 1), got 0"),
        ({"test_size": 1.0}, "test_size must be a float in (0, 1), got 1.0"),
        ({"test_size": 100}, "test_size must be a float in (0, 1), got 100"),
        ({"seed": 1.5}, "seed must be an int, got 1.5"),
    ],
)
def test_hash_split_validates_its_parameters(ratings, kwargs, message):
    with pytest.raises(InvalidParameterError, match=re.escape(message)):
        hash_split(ratings, **kwargs)


def test_hash_split_requires_user_and_movie_columns(ratings):
    with pytest.raises(InvalidInputError, match=re.escape("missing column(s)")):
        hash_split(ratings.drop(columns=["movie_id"]))
