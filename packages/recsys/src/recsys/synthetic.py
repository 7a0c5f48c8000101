"""Synthetic MovieLens-shaped ratings at any size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

import numba
import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from recsys._validation import check_non_negative_float, check_positive_int
from recsys.exceptions import InvalidParameterError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["GENRES", "make_movielens_like"]

#: Genre vocabulary of MovieLens; synthetic genres are drawn from it.
GENRES = (
    "Comedy",
    "Drama",
    "Action",
    "Thriller",
    "Romance",
    "Adventure",
    "Crime",
    "Sci-Fi",
    "Horror",
    "Fantasy",
    "Children",
    "Animation",
    "Mystery",
    "Documentary",
    "War",
    "Musical",
    "Western",
    "Film-Noir",
)

# Shape of the MovieLens releases: ml-1m has ~6k users and ~3.7k movies for 1M
# ratings, ml-25m ~162k users and ~59k movies for 25M.
_RATINGS_PER_USER = 25_000_095 / 162_541
_MOVIES_AT_25M = 59_047
_MOVIES_EXPONENT = 0.86
_MIN_PER_USER = 20
_T_START = 822_873_600  # 1996-01-29, the first MovieLens rating
_T_END = 1_574_327_703  # 2019-11-21, the last ml-25m rating
_SECONDS_PER_DAY = 86_400


def _user_counts(
    n_ratings: int, n_users: int, cap: int, rng: np.random.RandomState
) -> NDArray[np.int64]:
    """Heavy-tailed ratings per user, each in ``[min, cap]``, summing to n_ratings."""
    floor = min(_MIN_PER_USER, n_ratings // n_users, cap)
    counts = np.full(n_users, floor, dtype=np.int64)
    weights = rng.pareto(1.2, n_users)
    remaining = n_ratings - counts.sum()
    while remaining > 0:
        open_users = counts < cap
        w = np.where(open_users, weights, 0.0)
        share = w / w.sum() * remaining
        add = np.minimum(np.floor(share).astype(np.int64), cap - counts)
        if add.sum() == 0:
            # Hand the last few ratings to the heaviest open users, deterministically.
            order = np.argsort(-w, kind="stable")[:remaining]
            add = np.zeros(n_users, dtype=np.int64)
            add[order] = 1
            add = np.minimum(add, cap - counts)
        counts += add
        remaining = n_ratings - int(counts.sum())
    return counts


@numba.njit(cache=True, nogil=True)
def _draw(  # noqa: PLR0917 - numba kernels take positional arrays
    counts: NDArray[np.int64],
    cdf: NDArray[np.float64],
    user_factors: NDArray[np.float32],
    item_factors: NDArray[np.float32],
    user_bias: NDArray[np.float32],
    item_bias: NDArray[np.float32],
    mean: float,
    noise_std: float,
    user_start: NDArray[np.int64],
    user_span: NDArray[np.int64],
    seed: int,
    out_items: NDArray[np.int32],
    out_ratings: NDArray[np.float32],
    out_times: NDArray[np.int64],
) -> None:
    np.random.seed(seed)
    n_movies = item_factors.shape[0]
    n_factors = item_factors.shape[1]
    taken = np.zeros(n_movies, dtype=np.bool_)
    total = cdf[-1]
    pos = 0
    for u in range(counts.shape[0]):
        start = pos
        target = counts[u]
        draws = 0
        while pos - start < target:
            # Popularity-weighted draws; a user who has taken most of the head of
            # the distribution completes their list uniformly.
            if draws < 8 * target + 64:
                i = np.searchsorted(cdf, np.random.random() * total, side="right")
                i = min(i, n_movies - 1)
            else:
                i = np.random.randint(0, n_movies)
            draws += 1
            if not taken[i]:
                taken[i] = True
                out_items[pos] = i
                pos += 1
        for p in range(start, pos):
            i = out_items[p]
            taken[i] = False
            dot = 0.0
            for f in range(n_factors):
                dot += user_factors[u, f] * item_factors[i, f]
            raw = mean + user_bias[u] + item_bias[i] + dot
            raw += noise_std * np.random.standard_normal()
            rating = np.round(raw * 2.0) / 2.0
            out_ratings[p] = min(max(rating, 0.5), 5.0)
            out_times[p] = user_start[u] + np.int64(np.random.random() * user_span[u])


@overload
def make_movielens_like(
    n_ratings: int = ...,
    *,
    n_users: int | None = ...,
    n_movies: int | None = ...,
    n_factors: int = ...,
    noise_std: float = ...,
    random_state: Any = ...,
    return_movies: Literal[False] = ...,
) -> pd.DataFrame: ...


@overload
def make_movielens_like(
    n_ratings: int = ...,
    *,
    n_users: int | None = ...,
    n_movies: int | None = ...,
    n_factors: int = ...,
    noise_std: float = ...,
    random_state: Any = ...,
    return_movies: Literal[True],
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def make_movielens_like(
    n_ratings: int = 100_000,
    *,
    n_users: int | None = None,
    n_movies: int | None = None,
    n_factors: int = 8,
    noise_std: float = 0.7,
    random_state: Any = None,
    return_movies: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Generate ratings shaped like a MovieLens release.

    * Users: about 154 ratings each by default (the ml-1m/ml-25m ratio), at least
      20 (fewer only if there are not enough ratings), heavy-tailed (Pareto) above.
    * Movies: ``59,047 * (n_ratings / 25M) ** 0.86`` by default (ml-1m and ml-25m
      sizes); popularity is Zipf-like, ``(rank + 5) ** -1.4``, over shuffled ids.
      A user rates at most half of the catalog and never a movie twice.
    * Ratings: ``3.5 + b_u + b_i + p_u . q_i + noise`` with normal biases (the
      movie bias grows with popularity), ``n_factors`` normal factors and normal
      noise, rounded to the 0.5 grid and clipped to ``[0.5, 5]``.
    * Timestamps: each user is active over a random window between 1996 and 2019.

    Memory stays about 20 bytes per rating, the frame's own (its columns are the
    generated arrays, not a copy of them: 25M ratings need about 0.5 GB at peak);
    the sampling is a compiled sequential loop, deterministic by ``random_state``.

    Parameters
    ----------
    n_ratings : int, default=100_000
    n_users : int, default=None
        Defaults to ``round(n_ratings / 153.8)``.
    n_movies : int, default=None
        Defaults to the MovieLens-like rule above, but at least 20 and at least four
        times the mean number of ratings per user.
    n_factors : int, default=8
        Dimension of the latent taste vectors.
    noise_std : float, default=0.7
        Standard deviation of the rating noise.
    random_state : int, RandomState instance or None, default=None
    return_movies : bool, default=False
        Also return a movies table ``movie_id, title, genres`` whose ``|``-separated
        genres follow the movie's latent vector (the ``g``-th genre of
        :data:`GENRES` iff factor ``g`` is over one standard deviation, plus the
        genre of its largest factor), so that tastes are visible through genres.

    Returns
    -------
    ratings : DataFrame
        Columns ``user_id`` (int32, 1-based), ``movie_id`` (int32, 1-based),
        ``rating`` (float32), ``timestamp`` (int64, Unix seconds); grouped by user.
    movies : DataFrame
        Only when ``return_movies`` is True.
    """
    n_ratings = check_positive_int("n_ratings", n_ratings)
    n_factors = check_positive_int("n_factors", n_factors)
    noise = check_non_negative_float("noise_std", noise_std)
    if n_users is None:
        n_users = max(1, round(n_ratings / _RATINGS_PER_USER))
    if n_movies is None:
        scaled = _MOVIES_AT_25M * (n_ratings / 25_000_000) ** _MOVIES_EXPONENT
        # Small samples need room: at least 4x the mean user activity.
        n_movies = max(20, round(scaled), -(-4 * n_ratings // n_users))
    n_users = check_positive_int("n_users", n_users)
    n_movies = check_positive_int("n_movies", n_movies)
    cap = max(1, n_movies // 2)
    if n_users * cap < n_ratings:
        msg = (
            f"n_ratings={n_ratings} is too many for {n_users} users and {n_movies} "
            f"movies: expected at most n_users * (n_movies // 2) = {n_users * cap}"
        )
        raise InvalidParameterError(msg)
    rng = check_random_state(random_state)
    counts = _user_counts(n_ratings, n_users, cap, rng)

    popularity = (np.arange(n_movies) + 5.0) ** -1.4
    item_of_rank = rng.permutation(n_movies)  # movie position of each popularity rank
    weights = np.empty(n_movies)
    weights[item_of_rank] = popularity
    cdf = np.cumsum(weights)
    log_pop = np.log(weights)
    item_bias = rng.normal(0.0, 0.4, n_movies) + 0.15 * (log_pop - log_pop.mean()) / (
        log_pop.std() + 1e-12
    )
    scale = 0.55 / np.sqrt(n_factors)
    user_factors = rng.normal(0.0, np.sqrt(scale), (n_users, n_factors))
    item_factors = rng.normal(0.0, np.sqrt(scale), (n_movies, n_factors))
    user_bias = rng.normal(0.0, 0.35, n_users)
    user_start = rng.randint(_T_START, _T_END, size=n_users).astype(np.int64)
    span_days = np.minimum(
        rng.lognormal(3.0, 2.0, n_users) + 1.0,
        (_T_END - user_start) / _SECONDS_PER_DAY,
    )
    user_span = np.maximum((span_days * _SECONDS_PER_DAY).astype(np.int64), 1)

    items = np.empty(n_ratings, dtype=np.int32)
    ratings = np.empty(n_ratings, dtype=np.float32)
    times = np.empty(n_ratings, dtype=np.int64)
    _draw(
        counts,
        cdf,
        user_factors.astype(np.float32),
        item_factors.astype(np.float32),
        user_bias.astype(np.float32),
        item_bias.astype(np.float32),
        3.5,
        noise,
        user_start,
        user_span,
        int(rng.randint(0, 2**31 - 1)),
        items,
        ratings,
        times,
    )
    items += 1
    # copy=False: the columns are these arrays (no consolidated copy of them).
    frame = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(1, n_users + 1, dtype=np.int32), counts),
            "movie_id": items,
            "rating": ratings,
            "timestamp": times,
        },
        copy=False,
    )
    if not return_movies:
        return frame
    return frame, _movies_table(item_factors, rng)


def _movies_table(
    item_factors: NDArray[np.float64], rng: np.random.RandomState
) -> pd.DataFrame:
    """Give movie ``g``-th genre iff its latent factor ``g`` is above one std."""
    n_movies, n_factors = item_factors.shape
    n_genres = min(n_factors, len(GENRES))
    z = item_factors[:, :n_genres] / item_factors[:, :n_genres].std(axis=0)
    names = np.asarray(GENRES[:n_genres], dtype=object)
    has = z > 1.0
    has[np.arange(n_movies), np.argmax(z, axis=1)] = True  # at least one genre
    genres = ["|".join(names[row]) for row in has]
    years = np.asarray(rng.randint(1920, 2020, size=n_movies))
    ids = np.arange(1, n_movies + 1, dtype=np.int32)
    return pd.DataFrame(
        {
            "movie_id": ids,
            "title": [
                f"Movie {i} ({y})"
                for i, y in zip(ids.tolist(), years.tolist(), strict=True)
            ],
            "genres": genres,
        }
    )
