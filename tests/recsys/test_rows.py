"""The user-row layout that MF trains on (recsys._rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from recsys import MatrixFactorization, make_movielens_like
from recsys._biases import fit_biases
from recsys._rows import row_biases, unique_rows, user_rows
from recsys._validation import factorize_ids, validate_ratings


@pytest.fixture(scope="module")
def shuffled() -> pd.DataFrame:
    ratings = make_movielens_like(3_000, n_users=80, n_movies=120, random_state=3)
    return ratings.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _expected_csr(users: np.ndarray, items: np.ndarray) -> sparse.csr_matrix:
    user_codes, _ = factorize_ids(users)
    item_codes, _ = factorize_ids(items)
    return sparse.csr_matrix(
        (np.ones(len(users)), (user_codes, item_codes)),
        shape=(user_codes.max() + 1, item_codes.max() + 1),
    )


@pytest.mark.parametrize("ids", ["int32", "int64", "sparse", "str"])
def test_user_rows_group_ratings_by_user_and_sort_movies(shuffled, ids):
    # GIVEN shuffled ratings whose ids are small ints, far-apart ints or strings
    users = shuffled["user_id"].to_numpy()
    items = shuffled["movie_id"].to_numpy()
    if ids == "int64":
        users, items = users.astype(np.int64), items.astype(np.int64)
    if ids == "sparse":  # a range far wider than the number of ratings
        users = users.astype(np.int64) * 10**9
    if ids == "str":
        users = users.astype(str).astype(object)
    # WHEN grouped by user
    rows = user_rows(users, items, shuffled["rating"].to_numpy())
    # THEN the rows are the CSR matrix of the codes, each row sorted by movie
    expected = _expected_csr(users, items)
    expected.sort_indices()
    np.testing.assert_array_equal(rows.indptr, expected.indptr)
    np.testing.assert_array_equal(rows.indices, expected.indices)
    np.testing.assert_array_equal(rows.user_ids, np.sort(np.unique(users)))
    np.testing.assert_array_equal(rows.movie_ids, np.unique(items))
    # and each rating follows its pair
    lookup = {
        (u, i): r
        for u, i, r in zip(users, items, shuffled["rating"].to_numpy(), strict=True)
    }
    user_of = np.repeat(rows.user_ids, np.diff(rows.indptr))
    got = [
        lookup[(u, i)] == r
        for u, i, r in zip(
            user_of, rows.movie_ids[rows.indices], rows.ratings, strict=True
        )
    ]
    assert all(got)
    assert rows.indices.dtype == np.int32
    assert rows.ratings.dtype == np.float32


def test_repeated_pairs_are_trained_on_but_seen_once():
    # GIVEN a pair rated twice
    users = np.array([5, 5, 5, 9], dtype=np.int32)
    items = np.array([7, 3, 7, 3], dtype=np.int32)
    rows = user_rows(users, items, np.array([1.0, 2.0, 3.0, 4.0]))
    # THEN both ratings stay, in input order, and the seen rows drop the repeat
    np.testing.assert_array_equal(rows.indices, [0, 1, 1, 0])
    np.testing.assert_array_equal(rows.ratings, [2.0, 1.0, 3.0, 4.0])
    indptr, indices = unique_rows(rows.indptr, rows.indices)
    np.testing.assert_array_equal(indptr, [0, 2, 3])
    np.testing.assert_array_equal(indices, [0, 1, 0])
    model = MatrixFactorization(n_factors=2, n_epochs=2, random_state=0)
    model.fit(pd.DataFrame({"user_id": users, "movie_id": items}), [1, 2, 3, 4])
    np.testing.assert_array_equal(model.seen_indices_, [0, 1, 0])


def test_unique_rows_without_repeats_are_the_same_arrays(shuffled):
    rows = user_rows(
        shuffled["user_id"].to_numpy(),
        shuffled["movie_id"].to_numpy(),
        shuffled["rating"].to_numpy(),
    )
    indptr, indices = unique_rows(rows.indptr, rows.indices)
    assert indptr is rows.indptr
    assert indices is rows.indices


def test_row_biases_equal_fit_biases(shuffled):
    users, _ = factorize_ids(shuffled["user_id"].to_numpy())
    items, movie_ids = factorize_ids(shuffled["movie_id"].to_numpy())
    ratings = shuffled["rating"].to_numpy()
    expected = fit_biases(
        users,
        items,
        ratings.astype(np.float64),
        users.max() + 1,
        len(movie_ids),
        reg_user=15.0,
        reg_item=10.0,
        n_epochs=10,
    )
    rows = user_rows(
        shuffled["user_id"].to_numpy(), shuffled["movie_id"].to_numpy(), ratings
    )
    got = row_biases(rows, reg_user=15.0, reg_item=10.0, n_epochs=10)
    assert got[0] == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[2], expected[2], rtol=1e-9, atol=1e-12)


def test_float32_ratings_are_not_copied():
    ratings = np.array([1.0, 4.5], dtype=np.float32)
    assert np.shares_memory(validate_ratings(ratings, n_samples=2), ratings)
    assert validate_ratings([1, 2], n_samples=2).dtype == np.float64


@pytest.mark.parametrize("n", [1, 2, 7, 64, 1000, 29_523])
def test_mf_walk_visits_every_rating_of_a_segment_once(n):
    from recsys.mf import _walk

    for key in range(20):
        start, stride = _walk(n, key)
        seen = (start + stride * np.arange(n, dtype=np.int64)) % n
        assert np.array_equal(np.sort(seen), np.arange(n))
