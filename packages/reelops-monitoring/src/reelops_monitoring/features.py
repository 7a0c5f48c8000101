"""The columns profiled for a window of ratings, and why each one is there.

:func:`window_features` turns one window of primary ratings (``user_id, movie_id,
rating, timestamp``) into one row per rating with:

* ``user_id``, ``movie_id``, ``timestamp`` (UTC datetime): for data-quality checks
  (ids and timestamps never null). Ids are not drift-tested: new ids are normal.
* ``rating`` (float): rating inflation or deflation.
* ``half_star`` (float, 1.0 or 0.0): whether the rating is a half star (3.5, not
  3 or 4), null for a null rating. A client that loses its half-star widget, or
  an import that rounds, moves the scale to whole stars: the share of half stars
  falls to zero while the mean rating barely moves, so no rating column sees it
  in a small window. Using half stars is a habit of each user (some never do), so
  the share is clustered by user like the ratings; unlike
  ``known_user_half_star_shift`` it needs no known user.
* ``genre`` (str): the genre mix per rating. A movie has several genres; each rating
  counts for one of them, picked deterministically from ``(user_id, movie_id)`` so
  that, over many ratings, each genre of a movie gets its share. Genres outside
  ``genres`` (rare ones) become ``"other"``, so no category is too rare for a
  chi-square test on a few hundred rows.
* ``user_ratings`` (float) and ``new_user`` (float, 1.0 or 0.0): user-level columns,
  set on each user's first rating of the window and null on the others, so their
  distributions count each user once. A window of MovieLens ratings comes from a
  handful of users, each with dozens to hundreds of ratings: counted per rating,
  one heavy user decides the whole distribution. ``user_ratings`` is the number of
  ratings the user gave in the window (activity); ``new_user`` is 1.0 for a user
  absent from ``known_users`` (unseen when the model was trained).
* ``known_user_ratings`` and ``new_user_ratings`` (float): ``user_ratings``
  conditioned on the user being known or new (null for the others). A deployed
  service mostly hears from users it knows, whose activity in a window is nothing
  like a newcomer's first session: compared unconditioned, the usual mix of the two
  looks like drift.
* ``new_user_rating`` (float): the rating, for new users only. Their ratings are
  all the monitoring knows of them, and a generous cohort cannot be told from
  inflation there; the users the model knows can:
* ``known_user_residual`` (float): the rating minus the deployed model's
  prediction, for known users and movies the model predicts (not its cold-start
  fallback); null without ``predictions``. A known user's own bias is in the
  prediction, so their later ratings, which drift with the user's tenure, do not
  look like drift, while +0.5 stars shift the residuals by 0.5.
* ``known_user_mean_residual`` (float): a user-level column, the mean of the known
  user's residuals in the window (on the user's first rating with one). Each user
  counts once, so a shift every known user shares (+0.5 stars) stands out of the
  spread between users, whatever their numbers of ratings.
* ``known_user_residual_weight`` and ``known_user_weighted_residual`` (float):
  user-level columns, the weight ``w = 1 / (tau^2 + sigma^2 / m)`` of a known
  user's mean residual over their ``m`` residuals in the window, and ``w`` times
  that mean (on the user's first rating with one). Their sums give the window's
  precision-weighted mean residual ``sum w d / sum w`` and its variance
  ``1 / sum w``: a user's mean of one rating (sd ``sigma``) weighs less than one
  of many, and a heavy rater no more than ``1 / tau^2``, however many ratings
  (``tau``: how far known users' mean residuals spread; :data:`RESIDUAL_SIGMA`,
  :data:`RESIDUAL_TAU`). Counting users once or counting ratings are the two
  extremes of this weighting.
* ``known_user_half_star_shift`` (float): a user-level column, for known users
  with ``half_star_shares``: the share of the user's ratings in the window that
  are half stars (3.5, not 3 or 4) minus that share in the training data. Using
  half stars is a habit of each user (some never do), so the window's share alone
  varies with who rated; against their own habit, a client that lost the
  half-star widget moves every half-star user down together.
* ``popular_movie`` (float): whether the rated movie is in the head of the
  catalogue, the most-rated movies of the deployed model's training data that
  together hold a quarter of its ratings (:func:`catalogue_head`), 1.0 or 0.0;
  null without ``head_movies``. A front page promoting the blockbusters moves
  ratings into the head; the ratings may be unchanged, so no rating column sees
  it. Only comparable between windows measured against the same head: the
  monitoring compares it with the windows served by the same deployment
  (``deployment`` reference), never with the training data, whose ratings made
  the head. With ``head_shares`` (:func:`head_share_by_tenure`), the flag minus
  the head's share at the rating's tenure (the user's number of earlier ratings):
  users rate the blockbusters first (in ml-latest-small before 2008, 57 % of
  users' first 5 ratings are in the head, 6 % of those after their 500th), so a
  window's share of the head follows whether its ratings came from newcomers or
  from veterans, and a front page does not change who rates.
* ``known_user_popular_shift`` (float): a user-level column, for known users with
  ``popular_shares``: the share of the user's ratings in the window that are in
  the head minus that share in the training data (:func:`popular_shares`). Some
  users watch blockbusters, some never do, so the window's share of the head
  varies with who rated (``popular_movie`` judges it against the users' spread,
  and needs thousands of ratings to see a front page moving 30 % of them);
  against their own habit, such a front page moves every known user up together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reelops_contracts import RATING_COLUMNS
from reelops_monitoring.errors import InvalidInputError, MissingColumnError

if TYPE_CHECKING:
    from collections.abc import Collection

    from numpy.typing import ArrayLike
    from pandas.core.groupby import SeriesGroupBy

__all__ = [
    "FEATURE_COLUMNS",
    "HABIT_RECENT_RATINGS",
    "HEAD_COLUMNS",
    "HEAD_SHARE",
    "MEASURE_VERSION",
    "OTHER_GENRE",
    "RATING_LEVEL_COLUMNS",
    "RESIDUAL_SIGMA",
    "RESIDUAL_TAU",
    "TENURE_CLASSES",
    "TRACKED_GENRES",
    "catalogue_head",
    "expected_head_share",
    "half_star_shares",
    "head_share_by_tenure",
    "in_head",
    "latest_ratings",
    "pick_genres",
    "popular_movie",
    "popular_shares",
    "popular_shift",
    "precision_weight",
    "tenure_ranks",
    "user_habits",
    "window_features",
]

#: Genres of at least 2 % of MovieLens ratings (ml-latest-small, one genre per
#: rating as :func:`pick_genres` counts them); the rest are ``OTHER_GENRE``.
TRACKED_GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Children",
    "Comedy",
    "Crime",
    "Drama",
    "Fantasy",
    "Horror",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
)
OTHER_GENRE = "other"

#: The columns of :func:`window_features`, in order.
FEATURE_COLUMNS: tuple[str, ...] = (
    "user_id",
    "movie_id",
    "timestamp",
    "rating",
    "half_star",
    "genre",
    "user_ratings",
    "new_user",
    "known_user_ratings",
    "new_user_ratings",
    "new_user_rating",
    "known_user_residual",
    "known_user_mean_residual",
    "known_user_residual_weight",
    "known_user_weighted_residual",
    "known_user_half_star_shift",
    "popular_movie",
    "known_user_popular_shift",
)

#: The spread of one residual about its user's mean (stars), and of known users'
#: mean residuals about each other: the weights' variance components, measured
#: on ml-latest-small's real quarters served by a BiasBaseline kept for 4
#: (``bench/monitoring_bound.py``, ``served_quarters``: 0.79 and 0.37). Other
#: values change how the users are weighed (the test's power), not its false
#: alarms: thresholds are calibrated on the weighted statistic.
RESIDUAL_SIGMA = 0.79
RESIDUAL_TAU = 0.37

#: Drift columns with a value on every rating, so clustered by user (their
#: effective sample sizes depend on the intra-user correlation); the user-level
#: columns hold one value per user.
RATING_LEVEL_COLUMNS: tuple[str, ...] = (
    "rating",
    "half_star",
    "genre",
    "new_user_rating",
    "known_user_residual",
    "popular_movie",
)

#: How this module measures the columns compared only within one deployment
#: (the residuals, the habits' shifts, :data:`HEAD_COLUMNS`). It is part of a
#: deployment's name (``reelops.window_profiles.deployment_identity``): windows
#: measured by another version are not compared with this one's, as after a
#: retrain. Bump it when such a column's measure changes (2: ``popular_movie``
#: against the head's share at each rating's tenure).
MEASURE_VERSION = 2

#: The columns measured against the head of the catalogue (``head_movies``).
HEAD_COLUMNS: tuple[str, ...] = ("popular_movie", "known_user_popular_shift")

#: A user's share of the head is taken on their latest ratings only: users rate
#: the blockbusters first (a newcomer rates the movies they know), so a share over
#: all their ratings is higher the newer they were, and windows of users of other
#: tenures than the reference's drift. Measured on known users' later ratings against
#: their earlier ones (``bench/monitoring.py``'s calibration): the 99.5th
#: percentile of the no-drift scores is 7.4 with every rating, 4.3 with the
#: latest 20, 2.8 with the latest 10.
HABIT_RECENT_RATINGS = 10

#: Tenure classes of a rating, by the user's number of earlier ratings: [0, 5),
#: [5, 10), ..., [500, inf) (:func:`head_share_by_tenure`).
TENURE_CLASSES: tuple[int, ...] = (0, 5, 10, 20, 50, 100, 200, 500)

#: The share of the training ratings the head of the catalogue holds.
HEAD_SHARE = 0.25

_MOVIE_COLUMNS = ("movie_id", "genres")
# The fraction of a half-star rating (3.5 % 1).
_HALF_STAR = 0.5
_PREDICTION_COLUMNS = ("user_id", "movie_id", "prediction", "cold_start")
# Large odd multipliers: a cheap, deterministic mix of the two ids.
_USER_MIX = 1_000_003
_MOVIE_MIX = 7_919


def window_features(
    ratings_window: pd.DataFrame,
    movies: pd.DataFrame,
    known_users: Collection[int],
    *,
    genres: Collection[str] = TRACKED_GENRES,
    predictions: pd.DataFrame | None = None,
    half_star_shares: pd.Series | None = None,
    head_movies: Collection[int] | None = None,
    popular_shares: pd.Series | None = None,
    head_shares: pd.Series | None = None,
    tenure: pd.Series | None = None,
) -> pd.DataFrame:
    """The columns to profile for one window of ratings (see the module docstring).

    Args:
        ratings_window: Primary ratings: ``user_id``, ``movie_id``, ``rating``,
            ``timestamp`` (epoch seconds, or datetimes; nulls allowed).
        movies: Primary movies: ``movie_id`` and ``genres`` (``|``-separated).
        known_users: Users the deployed model was trained on.
        genres: Genres kept as such; any other becomes ``"other"``.
        predictions: The deployed model's predictions on the window's pairs:
            ``user_id``, ``movie_id``, ``prediction`` and ``cold_start`` (true:
            the model's fallback, not a prediction of its own); a pair absent from
            it has no residual. None: ``known_user_residual`` is all null.
        half_star_shares: ``{user_id: share}`` of half-star ratings of each user
            in the deployed model's training data. None (or a user absent from
            it): ``known_user_half_star_shift`` is null.
        head_movies: The head of the catalogue's movie ids (or the series
            :func:`catalogue_head` gives of the deployed model's training data).
            None: ``popular_movie`` is null.
        popular_shares: ``{user_id: share}`` of each user's ratings in the
            training data that are in ``head_movies`` (:func:`popular_shares`).
            None (or a user absent from it, or no ``head_movies``):
            ``known_user_popular_shift`` is null.
        head_shares: The head's share of the training ratings at each tenure
            (:func:`head_share_by_tenure`): ``popular_movie`` is the flag minus
            the share at the rating's tenure. None: the flag.
        tenure: ``{user_id: n}`` of each user's ratings before the window (in the
            training data); a rating's tenure adds the user's ratings before it
            in the window. None (or a user absent from it): none before.

    Returns:
        A new frame with :data:`FEATURE_COLUMNS`, one row per rating, in the order
        of ``ratings_window``. The inputs are not modified.

    Raises:
        MissingColumnError: If an input lacks a required column.
    """
    _require(ratings_window, RATING_COLUMNS, "ratings_window")
    _require(movies, _MOVIE_COLUMNS, "movies")
    users = ratings_window["user_id"].to_numpy()
    first_of_user = ~ratings_window["user_id"].duplicated().to_numpy()
    by_user = ratings_window.groupby("user_id", sort=False)
    per_user = by_user["user_id"].transform("size")
    is_new = ~ratings_window["user_id"].isin(set(known_users)).to_numpy()
    activity = np.where(first_of_user, per_user.to_numpy(), np.nan)
    rating = ratings_window["rating"].astype("float64").to_numpy()
    predicted = _predicted(ratings_window, predictions)
    residual = np.where(is_new, np.nan, rating - predicted)
    weight, weighted = _precision_weighted(users, residual)
    half_shift = _own_shift(ratings_window, _is_half_star(rating), half_star_shares)
    popular, popular_column = popular_movie(
        ratings_window, head_movies, head_shares=head_shares, tenure=tenure
    )
    return pd.DataFrame(
        {
            "user_id": users,
            "movie_id": ratings_window["movie_id"].to_numpy(),
            "timestamp": _to_datetime(ratings_window["timestamp"]).to_numpy(),
            "rating": rating,
            "half_star": np.where(np.isnan(rating), np.nan, _is_half_star(rating)),
            "genre": pick_genres(ratings_window, movies, keep=genres),
            "user_ratings": activity,
            "new_user": np.where(first_of_user, is_new.astype("float64"), np.nan),
            "known_user_ratings": np.where(is_new, np.nan, activity),
            "new_user_ratings": np.where(is_new, activity, np.nan),
            "new_user_rating": np.where(is_new, rating, np.nan),
            "known_user_residual": residual,
            "known_user_mean_residual": _user_means(users, residual),
            "known_user_residual_weight": weight,
            "known_user_weighted_residual": weighted,
            "known_user_half_star_shift": _user_means(users, half_shift),
            "popular_movie": popular_column,
            "known_user_popular_shift": popular_shift(
                ratings_window, popular, popular_shares
            ),
        },
        index=ratings_window.index,
    )


def catalogue_head(ratings: pd.DataFrame, *, share: float = HEAD_SHARE) -> pd.Series:
    """The most-rated movies that together hold ``share`` of ``ratings``.

    Movies in decreasing order of their number of ratings (ties by id), up to and
    including the one whose cumulated count reaches ``share`` of all ratings.

    Returns:
        ``{movie_id: n_ratings}`` of the head, most-rated first (empty without
        ratings).

    Raises:
        InvalidInputError: If ``share`` is not in (0, 1].
    """
    if not 0.0 < share <= 1.0:
        raise InvalidInputError(f"share must be in (0, 1], got {share!r} instead")
    counts = ratings["movie_id"].value_counts()
    counts = counts.rename_axis("movie_id").rename("n_ratings")
    ordered = counts.reset_index().sort_values(
        ["n_ratings", "movie_id"], ascending=[False, True], kind="stable"
    )
    reached = ordered["n_ratings"].cumsum().to_numpy() >= share * len(ratings)
    size = int(np.argmax(reached)) + 1 if reached.any() else 0
    return ordered.head(size).set_index("movie_id")["n_ratings"]


def in_head(movie_ids: pd.Series, head: Collection[int] | None) -> np.ndarray:
    """1.0 for a movie in ``head``, else 0.0; all null without a head.

    ``head`` holds movie ids; a :func:`catalogue_head` series counts by its index.
    """
    if head is None:
        return np.full(len(movie_ids), np.nan)
    ids = head.index if isinstance(head, pd.Series) else head
    found = pd.to_numeric(movie_ids, errors="coerce").isin(set(ids))
    return found.to_numpy(dtype="float64")


def popular_movie(
    ratings: pd.DataFrame,
    head: Collection[int] | None,
    *,
    head_shares: pd.Series | None = None,
    tenure: pd.Series | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each rating's head flag (:func:`in_head`) and its ``popular_movie`` value.

    With ``head_shares`` (:func:`head_share_by_tenure`), the value is the flag
    minus the head's share at the rating's tenure (:func:`tenure_ranks` with
    ``tenure`` as the users' earlier ratings); without, the flag itself.

    Returns:
        ``(flags, values)``, in the order of ``ratings``; all null without a head.
    """
    flags = in_head(ratings["movie_id"], head)
    if head_shares is None:
        return flags, flags
    expected = expected_head_share(tenure_ranks(ratings, tenure), head_shares)
    return flags, flags - expected


def half_star_shares(ratings: pd.DataFrame) -> pd.Series:
    """``{user_id: share}`` of each user's ratings that are half stars."""
    halves = _is_half_star(ratings["rating"].to_numpy(dtype="float64"))
    return _user_shares(ratings, halves, "half_star_share")


def popular_shares(
    ratings: pd.DataFrame,
    head: Collection[int],
    *,
    recent: int | None = HABIT_RECENT_RATINGS,
) -> pd.Series:
    """``{user_id: share}`` of each user's latest ratings in ``head``.

    ``head`` holds movie ids; a :func:`catalogue_head` series counts by its index.
    Only each user's ``recent`` latest ratings count (by ``timestamp``; None: all
    of them): see :data:`HABIT_RECENT_RATINGS`.
    """
    if recent is not None:
        ratings = latest_ratings(ratings, recent)
    popular = in_head(ratings["movie_id"], head)
    return _user_shares(ratings, popular, "popular_share")


def tenure_ranks(ratings: pd.DataFrame, earlier: pd.Series | None = None) -> np.ndarray:
    """Each rating's tenure: the user's number of ratings before it.

    ``earlier`` (``{user_id: n}``) counts each user's ratings before ``ratings``
    (none for a user absent from it); those in ``ratings`` count by
    ``timestamp`` (ties, and null timestamps last, in the order given).
    """
    stamps = _to_datetime(ratings["timestamp"])
    nanoseconds = stamps.to_numpy(dtype="datetime64[ns]").astype("int64")
    # lexsort's last key is the primary one: nulls last, then time, then position
    order = np.lexsort((np.arange(len(ratings)), nanoseconds, stamps.isna().to_numpy()))
    users = ratings["user_id"].to_numpy()
    within = np.empty(len(ratings))
    within[order] = pd.Series(users[order]).groupby(users[order]).cumcount()
    if earlier is None:
        return within
    ids = pd.to_numeric(ratings["user_id"], errors="coerce")
    before = earlier[~earlier.index.duplicated()].reindex(ids).fillna(0.0)
    return within + before.to_numpy(dtype="float64")


def head_share_by_tenure(ratings: pd.DataFrame, head: Collection[int]) -> pd.Series:
    """The share of ``ratings`` in ``head`` at each tenure class.

    A rating's tenure is its user's number of ratings before it in ``ratings``
    (:func:`tenure_ranks`), put in :data:`TENURE_CLASSES`; a class without
    ratings takes the share of the class before it (of the first one with
    ratings for the first classes; 0.0 without any rating).

    Returns:
        ``{lowest tenure of the class: share}``, indexed ``tenure``.
    """
    classes = np.searchsorted(TENURE_CLASSES, tenure_ranks(ratings), side="right") - 1
    shares = (
        pd.Series(in_head(ratings["movie_id"], head))
        .groupby(classes)
        .mean()
        .reindex(range(len(TENURE_CLASSES)))
        .ffill()
        .bfill()
        .fillna(0.0)
    )
    index = pd.Index(TENURE_CLASSES, name="tenure")
    return pd.Series(shares.to_numpy(), index=index, name="head_share")


def expected_head_share(ranks: np.ndarray, head_shares: pd.Series) -> np.ndarray:
    """The share of ``head_shares`` (:func:`head_share_by_tenure`) at each tenure."""
    shares = head_shares.sort_index()
    lowest = shares.index.to_numpy(dtype="float64")
    found = np.searchsorted(lowest, ranks, side="right") - 1
    return shares.to_numpy(dtype="float64")[np.clip(found, 0, None)]


def user_habits(ratings: pd.DataFrame, head: Collection[int]) -> pd.DataFrame:
    """Each user's habits in ``ratings`` (a deployed model's training data).

    Returns:
        A frame indexed by ``user_id`` (sorted): ``half_star_share``
        (:func:`half_star_shares`) and ``popular_share`` (:func:`popular_shares`
        on ``head``), the references of ``known_user_half_star_shift`` and
        ``known_user_popular_shift``, and ``n_ratings``, the user's tenure when
        the training data ends (``popular_movie``'s ``tenure``).
    """
    habits = pd.concat(
        [
            half_star_shares(ratings),
            popular_shares(ratings, head),
            ratings.groupby("user_id").size().astype("float64").rename("n_ratings"),
        ],
        axis=1,
    )
    return habits.sort_index().rename_axis("user_id")


def latest_ratings(
    ratings: pd.DataFrame, recent: int = HABIT_RECENT_RATINGS
) -> pd.DataFrame:
    """Each user's ``recent`` latest rows of ``ratings`` (by ``timestamp``)."""
    return (
        ratings.sort_values(["user_id", "timestamp"], kind="stable")
        .groupby("user_id", sort=False)
        .tail(recent)
    )


def _user_shares(ratings: pd.DataFrame, flags: np.ndarray, name: str) -> pd.Series:
    """``{user_id: mean of flags}`` over each user's rows of ``ratings``."""
    return (
        pd.Series(flags, index=ratings.index)
        .groupby(ratings["user_id"])
        .mean()
        .rename(name)
    )


def popular_shift(
    ratings: pd.DataFrame,
    popular: np.ndarray,
    shares: pd.Series | None,
) -> np.ndarray:
    """``known_user_popular_shift`` of ``ratings`` (``user_id``).

    ``popular`` flags each rating's movie in the head (:func:`in_head`; all null
    without a head). On each user's first rating with a share in ``shares``
    (:func:`popular_shares` on that head): the user's share of ratings in the head
    minus that share; null elsewhere, and everywhere without a head or ``shares``.
    """
    return _user_means(
        ratings["user_id"].to_numpy(), _own_shift(ratings, popular, shares)
    )


def _is_half_star(rating: np.ndarray) -> np.ndarray:
    """1.0 for a half-star rating (3.5), else 0.0 (a null rating too)."""
    return (rating % 1 == _HALF_STAR).astype("float64")


def _own_shift(
    ratings: pd.DataFrame, values: np.ndarray, shares: pd.Series | None
) -> np.ndarray:
    """Each rating's ``values`` (1.0 or 0.0) minus its user's share in training."""
    if shares is None:
        return np.full(len(ratings), np.nan)
    ids = pd.to_numeric(ratings["user_id"], errors="coerce")
    own = shares[~shares.index.duplicated()].reindex(ids)
    return values - own.to_numpy(dtype="float64", na_value=np.nan)


def _user_means(users: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each user's mean of ``values``, on the user's first non-null value only."""
    first, by_user = _by_user(users, values)
    return np.where(first, by_user.transform("mean").to_numpy(), np.nan)


def precision_weight(
    counts: ArrayLike, *, sigma: float = RESIDUAL_SIGMA, tau: float = RESIDUAL_TAU
) -> np.ndarray:
    """``1 / (tau^2 + sigma^2 / m)``: the weight of a user's mean of ``m`` values.

    The inverse variance of that mean when the values spread by ``sigma`` about
    the user's own level and users' levels by ``tau`` (0 for ``m`` = 0).
    """
    m = np.asarray(counts, dtype="float64")
    with np.errstate(divide="ignore"):
        return 1.0 / (tau * tau + sigma * sigma / m)


def _precision_weighted(
    users: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each user's :func:`precision_weight` and weight x mean of ``values``.

    ``m`` is the user's non-null values; both on the user's first non-null value
    only (as :func:`_user_means`).
    """
    first, by_user = _by_user(users, values)
    weight = precision_weight(by_user.transform("count"))
    means = by_user.transform("mean").to_numpy()
    return np.where(first, weight, np.nan), np.where(first, weight * means, np.nan)


def _by_user(users: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, SeriesGroupBy]:
    """Whether each row is its user's first non-null value, and values by user."""
    frame = pd.DataFrame({"user": users, "value": values})
    valued = frame["value"].notna()
    first = (valued & ~frame["user"].where(valued).duplicated()).to_numpy()
    return first, frame.groupby("user", sort=False)["value"]


def _predicted(ratings: pd.DataFrame, predictions: pd.DataFrame | None) -> np.ndarray:
    """Each rating's model prediction (NaN: none, or the cold-start fallback)."""
    if predictions is None or predictions.empty:
        return np.full(len(ratings), np.nan)
    _require(predictions, _PREDICTION_COLUMNS, "predictions")
    own = predictions[~predictions["cold_start"].astype(bool)]
    by_pair = own.drop_duplicates(["user_id", "movie_id"]).set_index(
        ["user_id", "movie_id"]
    )["prediction"]
    pairs = pd.MultiIndex.from_arrays(
        [
            pd.to_numeric(ratings["user_id"], errors="coerce"),
            pd.to_numeric(ratings["movie_id"], errors="coerce"),
        ]
    )
    return by_pair.reindex(pairs).to_numpy(dtype="float64", na_value=np.nan)


def pick_genres(
    ratings: pd.DataFrame, movies: pd.DataFrame, *, keep: Collection[str]
) -> np.ndarray:
    """One genre per rating: the ``(user_id, movie_id)`` mix picks among the movie's.

    A movie absent from ``movies`` or without genres gives ``"other"``.
    """
    genre_lists = (
        movies.drop_duplicates("movie_id")
        .set_index("movie_id")["genres"]
        .astype("string")
        .fillna("")
        .str.split("|")
    )
    lists = ratings["movie_id"].map(genre_lists)
    mix = (
        ratings["user_id"].to_numpy(dtype="int64") * _USER_MIX
        + ratings["movie_id"].to_numpy(dtype="int64") * _MOVIE_MIX
    )
    kept = set(keep)
    picked = [
        _pick(options, int(seed), kept)
        for options, seed in zip(lists.tolist(), mix.tolist(), strict=True)
    ]
    return np.asarray(picked, dtype=object)


def _pick(options: object, seed: int, kept: set[str]) -> str:
    if not isinstance(options, list) or not options or options == [""]:
        return OTHER_GENRE
    genre = options[seed % len(options)]
    return genre if genre in kept else OTHER_GENRE


def _to_datetime(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = pd.to_datetime(values)
        return stamps.dt.tz_localize("UTC") if stamps.dt.tz is None else stamps
    return pd.to_datetime(pd.to_numeric(values, errors="coerce"), unit="s", utc=True)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise MissingColumnError(
            f"{name} must have columns {list(columns)}, "
            f"missing {missing} (got {list(frame.columns)})"
        )
