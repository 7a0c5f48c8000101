"""The precomputed top-N path answers exactly as the model does (no HTTP)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from reelops_serving.engine import Ranked, RecommenderEngine
from reelops_serving.topn import TopNTable, first_k
from tests.serving.conftest import make_bundle

if TYPE_CHECKING:
    from collections.abc import Callable

#: Small on purpose: rare genres, many exclusions and k 100 must reach the model.
SIZE = 50
KS = (1, 5, 10, 20, 50, 100)
GENRE_FILTERS: tuple[tuple[str, ...], ...] = (
    (),
    ("Comedy",),
    ("Drama", "Action"),
    ("Film-Noir",),
    ("IMAX",),
)
UNKNOWN_USERS = (0, 61, 999_999)


@pytest.fixture(scope="module")
def mf_bundle(tables: dict[str, Any]) -> Any:
    """A factor model (BLAS scores) besides EASE's sums and the biases."""
    from recsys import MatrixFactorization

    return make_bundle(
        tables, MatrixFactorization(random_state=0), version="3", run_id="33333333ffff"
    )


@pytest.fixture(params=["ease", "bias", "mf"])
def engines(
    request: pytest.FixtureRequest, bundles: dict[str, Any], mf_bundle: Any
) -> tuple[RecommenderEngine, RecommenderEngine]:
    """The same bundle with the table (``SIZE``) and without (the model)."""
    bundle = mf_bundle if request.param == "mf" else bundles[request.param]
    fast = RecommenderEngine(bundle, top_n=SIZE, top_n_max_users=10_000)
    return fast, RecommenderEngine(bundle)


def count_model_calls(
    engine: RecommenderEngine, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Record how many users each call of the model path answers."""
    calls: list[int] = []
    original: Callable[..., list[Ranked]] = engine._from_model

    def counted(users: Any, *args: Any) -> list[Ranked]:
        calls.append(len(users))
        return original(users, *args)

    monkeypatch.setattr(engine, "_from_model", counted)
    return calls


def assert_same(got: list[Ranked], expected: list[Ranked], where: str) -> None:
    assert len(got) == len(expected), where
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a.rows, b.rows, err_msg=where)
        np.testing.assert_array_equal(a.scores, b.scores, err_msg=where)
        assert a.fallback == b.fallback, where


def test_the_table_answers_exactly_as_the_model(
    engines: tuple[RecommenderEngine, RecommenderEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN the same model with and without the precomputed table
    fast, model = engines
    calls = count_model_calls(fast, monkeypatch)
    rng = np.random.default_rng(0)
    users = [int(u) for u in model._user_ids] + list(UNKNOWN_USERS)
    checked = 0
    for user in users:
        # the user's own best movies (they fall out of the table's list) and some
        # movies anywhere in the catalog, as /feedback would exclude them
        best = model.movie_ids[model.recommend([user], 5)[0].rows].tolist()
        rated = {*best[:3], *rng.choice(model.movie_ids, 20).tolist()}
        for k in KS:
            for genres in GENRE_FILTERS:
                for exclude in (None, {user: rated}):
                    # WHEN both answer the same request
                    where = f"user {user}, k {k}, genres {genres}, exclude {exclude}"
                    got = fast.recommend([user], k, genres=genres, exclude=exclude)
                    expected = model.recommend(
                        [user], k, genres=genres, exclude=exclude
                    )
                    # THEN the answers are identical, scores to the last bit
                    assert_same(got, expected, where)
                    checked += 1
    # both paths ran: the table answered a good share (k 50 and 100 exceed most
    # filtered lists of 50), the model the others
    assert checked - len(calls) > checked // 3
    assert len(calls) > 0


def test_batches_go_to_the_model(
    engines: tuple[RecommenderEngine, RecommenderEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A batch is one model call: the model's rounding within a block of users is
    # the answer (a factor model's BLAS may differ from one user at a time).
    fast, model = engines
    calls = count_model_calls(fast, monkeypatch)
    users = [7, 0, 3, 7, 999_999, 12, 1]
    exclude = {3: set(model.movie_ids[model.recommend([3], 60)[0].rows].tolist())}
    for genres in GENRE_FILTERS:
        got = fast.recommend(users, 10, genres=genres, exclude=exclude)
        expected = model.recommend(users, 10, genres=genres, exclude=exclude)
        assert_same(got, expected, f"genres {genres}")
    assert calls == [6] * len(GENRE_FILTERS)


def test_a_repeated_user_is_one_user(
    engines: tuple[RecommenderEngine, RecommenderEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast, model = engines
    calls = count_model_calls(fast, monkeypatch)
    assert_same(fast.recommend([5, 5], 10), model.recommend([5, 5], 10), "[5, 5]")
    assert calls == []


def test_seen_movies_kept_on_request_go_to_the_model(
    engines: tuple[RecommenderEngine, RecommenderEngine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The table excludes seen movies: exclude_seen=False is the model's answer.
    fast, model = engines
    calls = count_model_calls(fast, monkeypatch)
    got = fast.recommend([1, 2], 10, exclude_seen=False)
    assert_same(got, model.recommend([1, 2], 10, exclude_seen=False), "seen kept")
    assert calls == [2]


def test_no_table_beyond_max_users(bundles: dict[str, Any]) -> None:
    n_users = len(bundles["ease"].estimator.user_ids_)
    few = RecommenderEngine(bundles["ease"], top_n=10, top_n_max_users=n_users - 1)
    assert few.top_n is None
    table = RecommenderEngine(bundles["ease"], top_n=10, top_n_max_users=n_users).top_n
    assert table is not None
    assert table.size == 10
    assert len(table.indptr) == n_users + 2
    assert table.nbytes > 0


def test_unknown_users_share_the_last_block() -> None:
    table = TopNTable.from_rankings(
        np.array([3, 8]),
        [
            (np.array([0, 1]), np.array([2.0, 1.0])),
            (np.array([2]), np.array([5.0])),
            (np.array([4, 3, 2]), np.array([0.3, 0.2, 0.1])),
        ],
        size=3,
    )
    rows, scores, known = table.block(8)
    assert (rows.tolist(), scores.tolist(), known) == ([2], [5.0], True)
    for user in (1, 5, 9):
        rows, _, known = table.block(user)
        assert (rows.tolist(), known) == ([4, 3, 2], False)


def test_first_k_needs_k_kept_entries() -> None:
    keep = np.array([True, False, True, True, False])
    assert first_k(keep, 2).tolist() == [0, 2]
    assert first_k(keep, 3).tolist() == [0, 2, 3]
    assert first_k(keep, 4) is None
