"""Evaluation of a fitted recommender on held-out ratings, in the vocabulary's names."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from recsys._ranking import (
    ap_from_hits,
    ndcg_from_hits,
    precision_from_hits,
    recall_from_hits,
)
from recsys._validation import ITEM_COL, USER_COL, check_positive_int
from recsys.exceptions import InvalidInputError, InvalidParameterError
from recsys.vocabulary import metric_names, resolve

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from recsys._base import BaseRecommender
    from recsys.vocabulary import Metric

__all__ = ["evaluate", "evaluate_by_user", "evaluate_ranking", "evaluate_with_errors"]

RATING_COL = "rating"
TIMESTAMP_COL = "timestamp"

_Kernel = Callable[["NDArray[np.bool_]", "NDArray[np.int64]"], "NDArray[np.float64]"]

#: Per-user values of each ranking metric from the hit matrix (the batched form of
#: the :mod:`recsys.metrics` functions; coverage is global, see :func:`evaluate`).
_PER_USER: dict[str, _Kernel] = {
    "precision": lambda hits, _: precision_from_hits(hits),
    "recall": recall_from_hits,
    "ndcg": ndcg_from_hits,
    "map": ap_from_hits,
}


def _pair_keys(
    users: np.ndarray, items: np.ndarray, user_codes: pd.Index, item_codes: pd.Index
) -> np.ndarray:
    u = user_codes.get_indexer(pd.Index(users)).astype(np.int64)
    i = item_codes.get_indexer(pd.Index(items)).astype(np.int64)
    return u * (len(item_codes) + 1) + i


def _check_columns(
    train: pd.DataFrame, test: pd.DataFrame, *, needs_rating: bool
) -> None:
    for name, frame in (("train", train), ("test", test)):
        missing = [c for c in (USER_COL, ITEM_COL) if c not in frame.columns]
        if missing:
            msg = (
                f"{name} is missing column(s) {missing}: expected columns "
                f"'{USER_COL}' and '{ITEM_COL}', got {list(map(str, frame.columns))}"
            )
            raise InvalidInputError(msg)
    if needs_rating and RATING_COL not in test.columns:
        msg = (
            f"test is missing column '{RATING_COL}': rating metrics need the true "
            f"ratings, got {list(map(str, test.columns))}"
        )
        raise InvalidInputError(msg)


def _ranking(
    model: BaseRecommender, train: pd.DataFrame, test: pd.DataFrame, k: int
) -> tuple[NDArray[Any], NDArray[np.bool_], NDArray[np.int64], float]:
    """``(users, hits, n_relevant, coverage)`` of the top-``k`` lists of test's
    users (in order of first appearance; a row of ``hits`` and ``n_relevant``
    per user)."""
    pairs = test[[USER_COL, ITEM_COL]].drop_duplicates()
    if len(pairs) == 0:
        msg = "test has no rows: expected at least one held-out interaction, got 0"
        raise InvalidInputError(msg)
    user_index = pd.Index(pd.unique(pairs[USER_COL].to_numpy()))
    recs = model.recommend(user_index.to_numpy(), k, exclude_seen=True)
    item_index = pd.Index(pd.unique(pairs[ITEM_COL].to_numpy()))
    relevant_keys = _pair_keys(
        pairs[USER_COL].to_numpy(), pairs[ITEM_COL].to_numpy(), user_index, item_index
    )
    rec_keys = _pair_keys(recs.user_id, recs.movie_id, user_index, item_index)
    # Recommended movies absent from test get position -1 and never match.
    is_hit = np.isin(rec_keys, relevant_keys) & (
        item_index.get_indexer(recs.movie_id) >= 0
    )
    row = user_index.get_indexer(recs.user_id)
    hits = np.zeros((len(user_index), k), dtype=bool)
    hits[row, recs.rank - 1] = is_hit
    n_relevant = np.bincount(
        user_index.get_indexer(pairs[USER_COL].to_numpy()), minlength=len(user_index)
    )
    n_catalog = int(train[ITEM_COL].nunique())
    coverage = len(np.unique(recs.movie_id)) / max(n_catalog, 1)
    return user_index.to_numpy(), hits, n_relevant, coverage


def _requested(metrics: Sequence[str] | None, k: int) -> list[tuple[str, Metric]]:
    """``(name, metric)`` of every requested metric, checked against ``k``."""
    names = metric_names(k) if metrics is None else tuple(dict.fromkeys(metrics))
    requested = []
    for name in names:
        metric, metric_k = resolve(name)
        if metric_k is not None and metric_k != k:
            msg = (
                f"metric '{name}' is cut at {metric_k}: expected the evaluation's "
                f"k={k}, got k={metric_k}"
            )
            raise InvalidParameterError(msg)
        if metric.stem == "fit_seconds":
            msg = (
                "metric 'fit_seconds' is measured when fitting: evaluate times "
                "predict only (predict_seconds)"
            )
            raise InvalidParameterError(msg)
        requested.append((name, metric))
    return requested


def evaluate(
    model: BaseRecommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    *,
    metrics: Sequence[str] | None = None,
) -> dict[str, float]:
    """Evaluate a fitted recommender on held-out ratings, by vocabulary name.

    Rating metrics (``rmse``, ``mae``) compare ``model.predict`` on ``test``'s
    pairs with its ratings. Ranking metrics (``precision@k``, ``recall@k``,
    ``ndcg@k``, ``map@k``, ``coverage@k``) follow the top-k protocol: ``model`` has
    been fitted on ``train``; every user of ``test`` is evaluated; all of a user's
    ``test`` movies are relevant, whatever the rating; the movies the user rated
    in ``train`` are excluded from their list (``recommend(...,
    exclude_seen=True)``); every movie rated in ``train`` is a candidate. Test
    users unknown in ``train`` are evaluated on the fallback list.
    Recommendations are computed in one batched call. ``predict_seconds``, when
    asked for, is the wall time of the ``predict`` call.

    Parameters
    ----------
    model : fitted recsys estimator
    train : DataFrame with columns ``user_id`` and ``movie_id``
        The data the model was fitted on; it defines the catalog for coverage.
    test : DataFrame with columns ``user_id``, ``movie_id`` (and ``rating`` for
        rating metrics; ``timestamp`` is passed to ``predict`` when present)
        Held-out ratings.
    k : int, default=10
        The cut-off of the ranking metrics.
    metrics : sequence of str, default=None
        Names from :mod:`recsys.vocabulary` (ranking metrics at ``k``, e.g.
        ``ndcg@10``). ``None``: every rating and ranking metric.

    Returns
    -------
    dict
        ``{name: value}`` in the order asked for (the vocabulary's by default);
        ranking metrics are means over test users (see :mod:`recsys.metrics`),
        ``coverage@k`` is distinct recommended movies / distinct train movies.

    Raises
    ------
    UnknownMetricError
        A name is not in the vocabulary.
    InvalidParameterError
        A ranking metric is cut at another ``k``, or ``fit_seconds`` is asked for.
    InvalidInputError
        A needed column is missing, or ``test`` is empty.
    """
    return _evaluate(model, train, test, k, metrics, with_errors=False)[0]


def _evaluate(
    model: BaseRecommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int,
    metrics: Sequence[str] | None,
    *,
    with_errors: bool,
) -> tuple[dict[str, float], dict[str, float], pd.DataFrame]:
    """:func:`evaluate`'s values, their standard errors when asked, and the
    per-user values of the ranking metrics (:func:`evaluate_by_user`)."""
    k = check_positive_int("k", k)
    requested = _requested(metrics, k)
    kinds = {metric.kind for _, metric in requested}
    _check_columns(train, test, needs_rating="rating" in kinds)
    values: dict[str, float] = {}
    errors: dict[str, float] = {}
    if kinds & {"rating", "timing"}:
        columns = [USER_COL, ITEM_COL]
        columns += [TIMESTAMP_COL] if TIMESTAMP_COL in test.columns else []
        start = time.perf_counter()
        predicted = model.predict(test[columns])
        values["predict_seconds"] = time.perf_counter() - start
        if "rating" in kinds:
            y = test[RATING_COL].to_numpy()
            for name, metric in requested:
                if metric.kind == "rating":
                    function = cast("Callable[..., float]", metric.function)
                    values[name] = float(function(y, predicted))
            if with_errors:
                errors.update(_rating_errors(requested, predicted - y, test))
    by_user = pd.DataFrame({USER_COL: [], "n_relevant": []})
    if "ranking" in kinds:
        users, hits, n_relevant, coverage = _ranking(model, train, test, k)
        by_user = pd.DataFrame(
            {USER_COL: users, "n_relevant": n_relevant.astype(np.int64)}
        )
        for name, metric in requested:
            if metric.kind != "ranking":
                continue
            if metric.stem == "coverage":
                values[name] = coverage
                continue
            per_user = _PER_USER[metric.stem](hits, n_relevant)
            by_user[name] = per_user
            values[name] = float(per_user.mean())
            if with_errors:
                errors[name] = (
                    float(per_user.std(ddof=1) / np.sqrt(len(per_user)))
                    if len(per_user) >= _MIN_USERS
                    else float("nan")
                )
    return (
        {name: values[name] for name, _ in requested},
        {name: errors[name] for name, _ in requested if name in errors},
        by_user,
    )


def evaluate_by_user(
    model: BaseRecommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    *,
    metrics: Sequence[str] | None = None,
) -> tuple[dict[str, float], dict[str, float], pd.DataFrame]:
    """:func:`evaluate_with_errors`, and each user's values of the ranking metrics.

    From the same batch of recommendations: the values whose mean
    :func:`evaluate` reports, one row per user of ``test`` (in order of first
    appearance), with the number of their relevant (test) movies. A user with
    200 test movies finds some in any top 10, one with 2 rarely, so a mean over
    users depends on how many each rated.

    Returns
    -------
    tuple
        ``evaluate_with_errors``'s ``{name: value}`` and ``{name: standard
        error}``, and a DataFrame of ``user_id``, ``n_relevant`` and one column
        per requested ranking metric with per-user values (not ``coverage@k``,
        a property of all the lists; no rows without a ranking metric).
    """
    return _evaluate(model, train, test, k, metrics, with_errors=True)


#: Users needed for a standard error (a spread needs two).
_MIN_USERS = 2


def _ratio_error(losses: NDArray[np.float64], users: NDArray[np.int64]) -> float:
    """Standard error of ``mean(losses)`` with users as the sampling units."""
    counts = np.bincount(users).astype("float64")
    sums = np.bincount(users, weights=losses)
    keep = counts > 0
    counts, sums = counts[keep], sums[keep]
    n_users = len(counts)
    if n_users < _MIN_USERS:
        return float("nan")
    mean = sums.sum() / counts.sum()
    variance = (
        n_users
        / (n_users - 1)
        * ((sums - mean * counts) ** 2).sum()
        / counts.sum() ** 2
    )
    return float(np.sqrt(variance))


def _rating_errors(
    requested: list[tuple[str, Metric]],
    residual: NDArray[np.float64],
    test: pd.DataFrame,
) -> dict[str, float]:
    users = pd.factorize(test[USER_COL])[0].astype(np.int64)
    mse = float(np.mean(residual**2))
    errors = {}
    for name, metric in requested:
        if metric.stem == "mae":
            errors[name] = _ratio_error(np.abs(residual), users)
        elif metric.stem == "rmse":
            se = _ratio_error(residual**2, users)
            errors[name] = float(se / (2 * np.sqrt(mse))) if mse > 0 else np.nan
    return errors


def evaluate_with_errors(
    model: BaseRecommender,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k: int = 10,
    *,
    metrics: Sequence[str] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """:func:`evaluate`, and the standard errors of its values (users as units).

    A test set's ratings come from a few users, each with many: the spread of a
    metric from one such sample to the next is set by the users, not the ratings.
    Ranking metrics are means over users (standard error ``sd / sqrt(users)``);
    ``mae`` and ``rmse`` are ratios of per-user sums (the ratio estimator's
    cluster-robust variance; ``rmse`` by the delta method from the mean squared
    error). Other metrics (``coverage@k``, timings) have none. One prediction and
    one batch of recommendations serve both.

    Returns
    -------
    tuple of dict
        ``evaluate``'s ``{name: value}`` and ``{name: standard error}`` (NaN with
        fewer than 2 users).
    """
    values, errors, _ = _evaluate(model, train, test, k, metrics, with_errors=True)
    return values, errors


def evaluate_ranking(
    model: BaseRecommender, train: pd.DataFrame, test: pd.DataFrame, k: int = 10
) -> dict[str, float]:
    """Deprecated: :func:`evaluate` with the ranking metrics, in the old key names.

    Returns ``precision_at_{k}``, ``recall_at_{k}``, ``ndcg_at_{k}``,
    ``map_at_{k}``, ``coverage_at_{k}`` and ``n_users`` (number of evaluated
    users). Use ``evaluate(model, train, test, k, metrics=...)``, whose keys are
    the vocabulary's names (``ndcg@10``).
    """
    warnings.warn(
        "recsys.evaluate_ranking is deprecated: use recsys.evaluate, whose keys are "
        "the vocabulary's metric names (ndcg@10 instead of ndcg_at_10)",
        DeprecationWarning,
        stacklevel=2,
    )
    k = check_positive_int("k", k)
    scores = evaluate(
        model, train, test, k, metrics=metric_names(k, kinds=("ranking",))
    )
    n_users = len(pd.unique(test[USER_COL].to_numpy()))
    return {
        **{name.replace("@", "_at_"): value for name, value in scores.items()},
        "n_users": float(n_users),
    }
