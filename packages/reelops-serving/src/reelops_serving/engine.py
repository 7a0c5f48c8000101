"""The recommendation logic behind the API, free of HTTP and of BentoML.

:class:`RecommenderEngine` wraps a packaged serving bundle
(:class:`~reelops_contracts.ServingBundle`): it asks the recsys
estimator for rankings and ratings, maps movie ids to the catalog (title, year,
genres), filters by genre, answers unknown users with the popularity fallback and
movies the model has no similarity for with movies that share their genres.
Everything is precomputed once, so a request is a few numpy operations plus the
estimator's own work; with ``top_n``, the estimator's rankings of every known user
are precomputed too (:mod:`reelops_serving.topn`) and a request only filters one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from reelops_contracts import GENRES
from reelops_serving.errors import (
    FutureTimestampError,
    ModelBundleError,
    RequestError,
    UnknownMovieError,
)
from reelops_serving.schemas import MAX_FUTURE_SECONDS, MovieItem
from reelops_serving.topn import TopNTable, first_k

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from numpy.typing import NDArray

    from reelops_contracts import ServingBundle

__all__ = [
    "PredictQuery",
    "Ranked",
    "RecommenderEngine",
    "check_rating_moment",
    "predict_frames",
]

#: Bucket of users the model never saw (``user_features`` has light/regular/heavy).
UNKNOWN_ACTIVITY = "unknown"
_GENRE_BIT = {genre: np.uint32(1 << i) for i, genre in enumerate(GENRES)}


@dataclass(frozen=True, eq=False)
class Ranked:
    """Catalog rows and scores, best first, for one query."""

    rows: NDArray[np.int64]
    scores: NDArray[np.float64]
    fallback: bool


class PredictQuery(NamedTuple):
    """One rating question: a user, a movie and, optionally, the rating moment."""

    user_id: int
    movie_id: int
    timestamp: int | None = None


def check_rating_moment(timestamp: int, *, now: float) -> int:
    """``timestamp``, unless it is more than ``MAX_FUTURE_SECONDS`` after ``now``.

    Raises:
        FutureTimestampError: It is (the message names the latest accepted).
    """
    latest = int(now) + MAX_FUTURE_SECONDS
    if timestamp > latest:
        raise FutureTimestampError(
            f"timestamp must be at most {MAX_FUTURE_SECONDS} s after the server's "
            f"clock (Unix seconds up to {latest}), got {timestamp}"
        )
    return timestamp


def predict_frames(
    queries: Sequence[PredictQuery],
) -> list[tuple[list[int], pd.DataFrame]]:
    """The estimator inputs of ``queries``, with the positions each one answers.

    Queries without a timestamp make a ``user_id, movie_id`` frame (what the
    estimator has always been asked); those with one a frame with a ``timestamp``
    column too. A kind with no query makes no frame.
    """
    untimed = [i for i, q in enumerate(queries) if q.timestamp is None]
    timed = [i for i, q in enumerate(queries) if q.timestamp is not None]
    kinds = (
        (untimed, ["user_id", "movie_id"]),
        (timed, ["user_id", "movie_id", "timestamp"]),
    )
    return [
        (
            positions,
            pd.DataFrame(
                np.asarray(
                    [queries[i][: len(columns)] for i in positions], dtype=np.int64
                ),
                columns=columns,
            ),
        )
        for positions, columns in kinds
        if positions
    ]


def _genre_mask(genres: Sequence[str]) -> np.uint32:
    mask = np.uint32(0)
    for genre in genres:
        mask |= _GENRE_BIT.get(genre, np.uint32(0))
    return mask


class RecommenderEngine:
    """Recommendations, predictions and similar movies from one bundle.

    Args:
        bundle: The packaged model (estimator, catalog, users, metadata).
        top_n: Precompute each known user's best ``top_n`` movies when loading
            (0: never). Single-user requests (seen movies excluded) are answered
            from it when at least ``k`` of the user's movies pass the filters;
            every other request goes to the model.
        top_n_max_users: Precompute only when the model has at most this many
            users (the table holds ~12 bytes per user and ``top_n``).

    Raises:
        ModelBundleError: The bundle's estimator is not fitted or its catalog is
            empty.
    """

    def __init__(
        self, bundle: ServingBundle, *, top_n: int = 0, top_n_max_users: int = 0
    ) -> None:
        est = bundle.estimator
        if not hasattr(est, "movie_ids_") or not hasattr(est, "recommend"):
            raise ModelBundleError(
                f"model {bundle.tag}: expected a fitted recsys estimator, got "
                f"{type(est).__name__}"
            )
        movies = bundle.movies.sort_values("movie_id").reset_index(drop=True)
        if movies.empty:
            raise ModelBundleError(f"model {bundle.tag}: the catalog is empty")
        self.tag = bundle.tag
        self.metadata: dict[str, Any] = dict(bundle.metadata)
        self.labels: dict[str, str] = dict(bundle.labels)
        self._est = est
        self._movie_ids = movies["movie_id"].to_numpy(dtype=np.int64)
        self._titles: list[str] = movies["title"].astype(str).tolist()
        self._years: list[int | None] = [
            None if pd.isna(y) else int(y) for y in movies["year"].tolist()
        ]
        self._genres: list[list[str]] = [
            g.split("|") if g else [] for g in movies["genres"].astype(str).tolist()
        ]
        self._mask = np.array([_genre_mask(g) for g in self._genres], dtype=np.uint32)
        self._popularity = movies["n_ratings"].to_numpy(dtype=np.int64)
        model_movies = np.asarray(est.movie_ids_, dtype=np.int64)
        rows = np.searchsorted(self._movie_ids, model_movies)
        rows = np.minimum(rows, len(self._movie_ids) - 1)
        known = self._movie_ids[rows] == model_movies
        #: Catalog row of each model movie position (-1: not in the catalog).
        self._model_rows = np.where(known, rows, -1).astype(np.int64)
        self._model_movies = model_movies
        self._user_ids = np.asarray(est.user_ids_, dtype=np.int64)
        self._activity = dict(
            zip(
                bundle.users["user_id"].astype(int).tolist(),
                bundle.users["activity"].astype(str).tolist(),
                strict=True,
            )
        )
        self._has_similarity = callable(getattr(est, "similar_items", None))
        self.top_n: TopNTable | None = None
        if top_n > 0 and len(self._user_ids) <= top_n_max_users:
            self.top_n = self._build_top_n(top_n)

    # ------------------------------------------------------------------ catalog
    @property
    def n_movies(self) -> int:
        """Number of movies in the catalog."""
        return len(self._movie_ids)

    @property
    def movie_ids(self) -> NDArray[np.int64]:
        """The catalog's movie ids, sorted."""
        return self._movie_ids

    @property
    def estimator_name(self) -> str:
        """Class name of the estimator."""
        return type(self._est).__name__

    def activity(self, user_id: int) -> str:
        """The user's activity bucket (light/regular/heavy), or ``unknown``."""
        return self._activity.get(user_id, UNKNOWN_ACTIVITY)

    def is_known_user(self, user_id: int) -> bool:
        """Whether the model saw the user in training."""
        return bool(self._known_users(np.array([user_id], dtype=np.int64))[0])

    def _known_users(self, users: NDArray[np.int64]) -> NDArray[np.bool_]:
        if not len(self._user_ids):
            return np.zeros(len(users), dtype=bool)
        pos = np.minimum(
            np.searchsorted(self._user_ids, users), len(self._user_ids) - 1
        )
        return self._user_ids[pos] == users

    def row(self, movie_id: int) -> int:
        """The catalog row of ``movie_id``.

        Raises:
            UnknownMovieError: The movie is not in the catalog.
        """
        pos = int(np.searchsorted(self._movie_ids, movie_id))
        if pos >= len(self._movie_ids) or int(self._movie_ids[pos]) != movie_id:
            raise UnknownMovieError(
                f"unknown movie_id {movie_id}: not in the catalog of model {self.tag}"
            )
        return pos

    def items(self, ranked: Ranked) -> list[MovieItem]:
        """The response items of ``ranked`` (trusted data: no re-validation)."""
        return [
            MovieItem.model_construct(
                movie_id=int(self._movie_ids[row]),
                title=self._titles[row],
                year=self._years[row],
                genres=self._genres[row],
                score=float(score),
            )
            for row, score in zip(
                ranked.rows.tolist(), ranked.scores.tolist(), strict=True
            )
        ]

    def title(self, row: int) -> str:
        """The title of the movie at catalog ``row``."""
        return self._titles[row]

    # ---------------------------------------------------------------- queries
    def warm_up(self) -> None:
        """Run every query path once, before the service reports ready.

        The estimator's numba kernels compile on their first call, which can take
        seconds: no request should pay for it.
        """
        user = int(self._user_ids[0]) if len(self._user_ids) else 1
        self.recommend([user, 0], 10)
        self.recommend([user], 10, genres=(GENRES[0],))
        known = self._model_rows[self._model_rows >= 0]
        movie = int(self._movie_ids[known[0] if len(known) else 0])
        self.predict(user, movie)
        self.similar(movie, 10)

    def recommend(
        self,
        user_ids: Sequence[int],
        k: int,
        *,
        exclude_seen: bool = True,
        genres: Sequence[str] = (),
        exclude: Mapping[int, Collection[int]] | None = None,
    ) -> list[Ranked]:
        """Top ``k`` catalog movies for each user, in the order of ``user_ids``.

        Unknown users get the estimator's popularity fallback (``fallback``
        True). With ``genres``, only movies having at least one of them count;
        ``exclude`` names more movies to leave out per user (the ones rated since
        the model was trained). The estimator is asked for more candidates until
        ``k`` remain or the whole catalog was ranked.
        """
        if k < 1:
            raise RequestError(f"k must be an integer >= 1, got {k}")
        ids = np.asarray(user_ids, dtype=np.int64)
        if len(ids) == 1:  # the common case: skip np.unique's sort
            unique, inverse = ids, np.zeros(1, dtype=np.int64)
        else:
            unique, inverse = np.unique(ids, return_inverse=True)
        wanted = _genre_mask(genres)
        banned = {
            int(u): np.fromiter(m, dtype=np.int64)
            for u, m in (exclude or {}).items()
            if m
        }
        if self.top_n is not None and exclude_seen and len(unique) == 1:
            user = int(unique[0])
            found = self._from_top_n(self.top_n, user, k, wanted, banned.get(user))
            if found is not None:
                return [found] * len(ids)
        ranked = self._from_model(unique, k, exclude_seen, wanted, banned)
        return [ranked[i] for i in inverse.reshape(-1).tolist()]

    def _from_model(
        self,
        users: NDArray[np.int64],
        k: int,
        exclude_seen: bool,
        wanted: np.uint32,
        banned: Mapping[int, NDArray[np.int64]],
    ) -> list[Ranked]:
        """Ask the estimator for more candidates until ``k`` remain per user."""
        n_model = len(self._model_movies)
        extra = max((len(m) for m in banned.values()), default=0)
        fetch = min(k + extra, n_model)
        if wanted:
            hits = (self._mask[self._model_rows] & wanted) != 0
            share = max(float(np.mean(hits & (self._model_rows >= 0))), 1e-6)
            fetch = min(n_model, max(k, math.ceil(k / share * 1.5) + 10) + extra)
        while True:
            per_user = self._rank(
                users, fetch, exclude_seen, wanted, k=k, banned=banned
            )
            short = any(len(r.rows) < k for r in per_user)
            if not short or fetch >= n_model:
                return per_user
            fetch = min(n_model, fetch * 4)

    def _from_top_n(
        self,
        table: TopNTable,
        user_id: int,
        k: int,
        wanted: np.uint32,
        banned: NDArray[np.int64] | None,
    ) -> Ranked | None:
        """The model's answer from the precomputed table, or None.

        None when fewer than ``k`` movies of the user's top N pass the filters.
        """
        rows, scores, known = table.block(user_id)
        keep: NDArray[np.bool_] | None = None
        if wanted:
            keep = (self._mask[rows] & wanted) != 0
        if banned is not None:
            allowed = ~np.isin(self._movie_ids[rows], banned)
            keep = allowed if keep is None else keep & allowed
        if keep is None:
            if len(rows) < k:
                return None
            return Ranked(rows[:k].astype(np.int64), scores[:k], not known)
        picked = first_k(keep, k)
        if picked is None:
            return None
        return Ranked(rows[picked].astype(np.int64), scores[picked], not known)

    def _build_top_n(self, size: int) -> TopNTable:
        """Every known user's top ``size`` (seen movies excluded), from the model.

        One user per call, as ``/recommend`` asks the model: a model scoring users
        with BLAS may round a user's scores differently within a block of users.
        The rows are filtered as every answer of the model is (movies outside the
        catalog and non-finite scores dropped), genres and exclusions left for the
        request. Unknown users get the ranking the model gives one of them.
        """
        users = self._user_ids
        unknown = 0 if not len(users) or users[0] > 0 else int(users[-1]) + 1
        rankings = []
        for user in [*users.tolist(), unknown]:
            ranked = self._rank(
                np.array([user], dtype=np.int64),
                size,
                True,
                np.uint32(0),
                k=size,
                banned={},
            )[0]
            rankings.append((ranked.rows, ranked.scores))
        return TopNTable.from_rankings(users, rankings, size=size)

    def _rank(
        self,
        users: NDArray[np.int64],
        fetch: int,
        exclude_seen: bool,
        wanted: np.uint32,
        *,
        k: int,
        banned: Mapping[int, NDArray[np.int64]],
    ) -> list[Ranked]:
        recs = self._est.recommend(users, fetch, exclude_seen=exclude_seen)
        positions = np.searchsorted(self._model_movies, recs.movie_id)
        positions = np.minimum(positions, len(self._model_movies) - 1)
        rows = self._model_rows[positions]
        keep = (rows >= 0) & np.isfinite(recs.score)
        if wanted:
            keep &= (self._mask[np.maximum(rows, 0)] & wanted) != 0
        for user_id, movies in banned.items():
            mine = recs.user_id == user_id
            keep[mine] &= ~np.isin(recs.movie_id[mine], movies)
        starts = np.searchsorted(users, recs.user_id[recs.rank == 1])
        bounds = [*np.flatnonzero(recs.rank == 1).tolist(), len(recs.rank)]
        known = self._known_users(users)
        out = [
            Ranked(np.empty(0, np.int64), np.empty(0), not bool(known[i]))
            for i in range(len(users))
        ]
        for n, user_pos in enumerate(starts.tolist()):
            block = slice(bounds[n], bounds[n + 1])
            sel = keep[block]
            out[user_pos] = Ranked(
                rows=rows[block][sel][:k],
                scores=np.asarray(recs.score[block][sel][:k], dtype=np.float64),
                fallback=not bool(known[user_pos]),
            )
        return out

    def predict(
        self, user_id: int, movie_id: int, *, timestamp: int | None = None
    ) -> tuple[float, bool]:
        """Predicted rating and whether the bias fallback answered.

        ``timestamp`` (Unix seconds of the rating moment) reaches the estimator
        as a ``timestamp`` column: a time-aware model adds the user's offset of
        that day; without it the model is asked as it always was.

        Raises:
            UnknownMovieError: The movie is not in the catalog.
        """
        return self.predict_many([PredictQuery(user_id, movie_id, timestamp)])[0]

    def predict_many(
        self, queries: Sequence[PredictQuery | tuple[int, int]]
    ) -> list[tuple[float, bool]]:
        """:meth:`predict` of many queries (``(user_id, movie_id[, timestamp])``).

        One model call for the queries without a timestamp (no ``timestamp``
        column: exactly the call of a single :meth:`predict`), one for those with.

        Raises:
            UnknownMovieError: A movie is not in the catalog.
        """
        asked = [PredictQuery(*q) for q in queries]
        for query in asked:
            self.row(query.movie_id)
        out: list[tuple[float, bool]] = [(math.nan, False)] * len(asked)
        for positions, frame in predict_frames(asked):
            ratings, fallback = self._est.predict_with_fallback(frame)
            for i, rating, fell_back in zip(
                positions, ratings.tolist(), fallback.tolist(), strict=True
            ):
                out[i] = (rating, fell_back)
        return out

    def similar(self, movie_id: int, k: int) -> Ranked:
        """The ``k`` movies most similar to ``movie_id`` (itself excluded).

        The model's item similarity when it has one for the movie; otherwise the
        movies sharing the most genres with it (Jaccard), most popular first,
        with ``fallback`` True.

        Raises:
            UnknownMovieError: The movie is not in the catalog.
        """
        row = self.row(movie_id)
        if self._has_similarity:
            pos = int(np.searchsorted(self._model_movies, movie_id))
            if pos < len(self._model_movies) and self._model_movies[pos] == movie_id:
                found = self._est.similar_items(movie_id, k)
                if len(found) and not bool(found.fallback[0]):
                    sim_pos = np.searchsorted(
                        self._model_movies, found.similar_movie_id
                    )
                    rows = self._model_rows[sim_pos]
                    keep = (rows >= 0) & np.isfinite(found.score)
                    if keep.any():
                        return Ranked(
                            rows=rows[keep][:k],
                            scores=np.asarray(found.score[keep][:k], dtype=np.float64),
                            fallback=False,
                        )
        return self._similar_by_genre(row, k)

    def _similar_by_genre(self, row: int, k: int) -> Ranked:
        query = self._mask[row]
        inter = np.bitwise_count(self._mask & query).astype(np.float64)
        union = np.bitwise_count(self._mask | query).astype(np.float64)
        jaccard = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        jaccard[row] = -1.0
        order = np.lexsort((-self._popularity, -jaccard))[:k]
        order = order[jaccard[order] >= 0]
        return Ranked(rows=order.astype(np.int64), scores=jaccard[order], fallback=True)
