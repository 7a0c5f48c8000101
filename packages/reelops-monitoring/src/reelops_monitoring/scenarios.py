"""Injected drift: turn a real window of ratings into a drifted one.

Each injection is a pure function of a window (primary ratings) and a seed; a
:class:`Scenario` names one, with the reason the monitoring must give for it.

* :func:`inflate_ratings`: +0.5 stars for a share of the window's users, clipped
  at 5 (a rating widget change reaching some clients).
* :func:`shift_genre_mix`: a share of the ratings moved to movies of one genre
  (a catalogue or promotion change).
* :func:`add_new_users`: a surge of new users with a few ratings each (a campaign),
  their ratings drawn from the window's own, so only the users differ.
* :func:`null_timestamps`: every timestamp null (a broken upstream field).
* :func:`whole_stars`: half-star ratings rounded up to whole stars (a client that
  lost the half-star widget: a scale change).
* :func:`bot_burst`: one new user rating many movies in a few minutes, all with
  the same rating (a scraper or a vote-stuffing bot).
* :func:`shift_popularity`: a share of the ratings moved to the most-rated movies
  (a front page that promotes the blockbusters), ratings unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from reelops_monitoring.errors import InvalidInputError

if TYPE_CHECKING:
    from collections.abc import Callable

#: Injected users' ids start above this one (or above the window's largest, if
#: larger): no MovieLens user has an id that large, so an injected user is never
#: one the deployed model was trained on, whatever the window's own ids.
INJECTED_USER_IDS = 1_000_000_000

__all__ = [
    "INJECTED_USER_IDS",
    "RATING_SHIFT_REASONS",
    "Scenario",
    "add_new_users",
    "bot_burst",
    "default_scenarios",
    "inflate_ratings",
    "null_timestamps",
    "shift_genre_mix",
    "shift_popularity",
    "suite_scenarios",
    "whole_stars",
]

_RATING_MAX = 5.0
#: The reasons that name a shift of the ratings: new users' as given, known
#: users' residuals against the deployed model.
RATING_SHIFT_REASONS = (
    "drift in 'new_user_rating'",
    "drift in 'known_user_residual'",
    "drift in 'known_user_mean_residual'",
    "drift in 'known_user_weighted_residual'",
)


@dataclass(frozen=True)
class Scenario:
    """One injected drift and the reasons that count as detecting it.

    ``expected`` holds reason prefixes (as :class:`~reelops_monitoring.decision.
    Decision` words them); the drift is detected with the right reason when one
    of the decision's reasons starts with one of them.
    """

    name: str
    description: str
    expected: tuple[str, ...]
    inject: Callable[[pd.DataFrame, int], pd.DataFrame]

    def detected(self, reasons: tuple[str, ...] | list[str]) -> bool:
        """Whether ``reasons`` name this scenario's drift."""
        return any(r.startswith(self.expected) for r in reasons)


def inflate_ratings(
    window: pd.DataFrame, *, share: float, seed: int, delta: float = 0.5
) -> pd.DataFrame:
    """Add ``delta`` stars to every rating of ``share`` of the users, clipped at 5."""
    hit, rating = _users_ratings(window, share=share, seed=seed)
    return window.assign(
        rating=rating.where(~hit, np.minimum(rating + delta, _RATING_MAX))
    )


def _users_ratings(
    window: pd.DataFrame, *, share: float, seed: int
) -> tuple[pd.Series, pd.Series]:
    """Which rows belong to a random ``share`` of the users, and the ratings."""
    _check_share(share)
    rng = np.random.default_rng(seed)
    users = window["user_id"].unique()
    chosen = rng.choice(users, size=round(share * len(users)), replace=False)
    return window["user_id"].isin(chosen), window["rating"].astype("float64")


def shift_genre_mix(
    window: pd.DataFrame,
    movies: pd.DataFrame,
    *,
    genre: str,
    share: float,
    seed: int,
    popularity: pd.Series | None = None,
) -> pd.DataFrame:
    """Point ``share`` of the ratings at movies of ``genre`` (ratings unchanged).

    The new movies are drawn among the movies listing ``genre``, weighted by
    ``popularity`` (``{movie_id: count}``, plus one) when given.

    Raises:
        InvalidInputError: If no movie lists ``genre``.
    """
    _check_share(share)
    candidates = movies.loc[
        movies["genres"]
        .astype("string")
        .str.split("|")
        .map(lambda gs: isinstance(gs, list) and genre in gs),
        "movie_id",
    ].to_numpy()
    if len(candidates) == 0:
        raise InvalidInputError(f"no movie lists genre '{genre}'")
    weights = np.ones(len(candidates))
    if popularity is not None:
        weights += popularity.reindex(candidates).fillna(0).to_numpy(dtype="float64")
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(window), size=round(share * len(window)), replace=False)
    movie_ids = window["movie_id"].to_numpy().copy()
    movie_ids[rows] = rng.choice(candidates, size=len(rows), p=weights / weights.sum())
    return window.assign(
        movie_id=pd.Series(movie_ids, index=window.index).astype(
            window["movie_id"].dtype
        )
    )


def shift_popularity(
    window: pd.DataFrame,
    popularity: pd.Series,
    *,
    share: float,
    seed: int,
    n_movies: int = 100,
) -> pd.DataFrame:
    """Point ``share`` of the ratings at the ``n_movies`` most-rated movies.

    ``popularity`` is ``{movie_id: count}`` (e.g. the training data's); the new
    movies are drawn uniformly among its ``n_movies`` largest counts, as a front
    page shows them side by side. Ratings are unchanged.

    Raises:
        InvalidInputError: If ``n_movies`` is below 1 or ``popularity`` is empty.
    """
    _check_share(share)
    if n_movies < 1:
        raise InvalidInputError(f"n_movies must be >= 1, got {n_movies} instead")
    head = popularity.nlargest(n_movies).index.to_numpy()
    if len(head) == 0:
        raise InvalidInputError("popularity is empty: expected movie counts")
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(window), size=round(share * len(window)), replace=False)
    movie_ids = window["movie_id"].to_numpy().copy()
    movie_ids[rows] = rng.choice(head, size=len(rows))
    return window.assign(
        movie_id=pd.Series(movie_ids, index=window.index).astype(
            window["movie_id"].dtype
        )
    )


def add_new_users(
    window: pd.DataFrame, *, share: float, seed: int, mean_ratings: float = 4.0
) -> pd.DataFrame:
    """Add new users bringing ``share`` x the window's ratings, a few each.

    Each new user gives a geometric number of ratings (mean ``mean_ratings``),
    re-drawn from the window's own ``(movie_id, rating)`` pairs, at times spread
    over the window; ids follow :data:`INJECTED_USER_IDS` (or the window's
    largest id, if larger).
    """
    _check_added(share)
    rng = np.random.default_rng(seed)
    n_new = max(1, round(share * len(window)))
    sizes: list[int] = []
    while sum(sizes) < n_new:
        sizes.append(min(int(rng.geometric(1 / mean_ratings)), n_new - sum(sizes)))
    first_id = _first_new_id(window)
    source = window.iloc[rng.integers(0, len(window), size=n_new)]
    stamps = window["timestamp"]
    added = pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(first_id, first_id + len(sizes)), sizes),
            "movie_id": source["movie_id"].to_numpy(),
            "rating": source["rating"].to_numpy(),
            "timestamp": rng.integers(int(stamps.min()), int(stamps.max()) + 1, n_new),
        }
    ).astype(window.dtypes.to_dict())
    return pd.concat([window, added], ignore_index=True)


def null_timestamps(window: pd.DataFrame) -> pd.DataFrame:
    """Every timestamp null, as a broken upstream field would deliver them."""
    return window.assign(timestamp=pd.array([None] * len(window), dtype="Int64"))


def whole_stars(window: pd.DataFrame, *, share: float, seed: int) -> pd.DataFrame:
    """Round ``share`` of the users' half-star ratings up to whole stars."""
    hit, rating = _users_ratings(window, share=share, seed=seed)
    return window.assign(rating=rating.where(~hit, np.ceil(rating)))


def bot_burst(
    window: pd.DataFrame, *, share: float, seed: int, rating: float = 5.0
) -> pd.DataFrame:
    """Add one new user rating ``share`` x the window's ratings' worth of movies.

    The movies are drawn (without repeats where the window has enough) from the
    window's own, all rated ``rating``, one every few seconds from a random
    time of the window; the id follows :data:`INJECTED_USER_IDS` (or the
    window's largest id, if larger).
    """
    _check_added(share)
    rng = np.random.default_rng(seed)
    n_new = max(1, round(share * len(window)))
    pool = window["movie_id"].unique()
    movie_ids = rng.choice(pool, size=n_new, replace=n_new > len(pool))
    stamps = window["timestamp"]
    start = int(rng.integers(int(stamps.min()), int(stamps.max()) + 1))
    added = pd.DataFrame(
        {
            "user_id": _first_new_id(window),
            "movie_id": movie_ids,
            "rating": rating,
            "timestamp": start + 3 * np.arange(n_new),
        }
    ).astype(window.dtypes.to_dict())
    return pd.concat([window, added], ignore_index=True)


def _first_new_id(window: pd.DataFrame) -> int:
    return max(int(window["user_id"].max()), INJECTED_USER_IDS) + 1


def suite_scenarios(
    movies: pd.DataFrame, *, popularity: pd.Series
) -> tuple[Scenario, ...]:
    """:func:`default_scenarios` and the scale, bot and popularity scenarios.

    ``popularity`` (``{movie_id: count}``) weighs the genre shift's movies and
    names the popularity shift's most-rated ones.
    """
    return (
        *default_scenarios(movies, popularity=popularity),
        Scenario(
            name="whole_stars",
            description="every half-star rating rounded up to a whole star",
            expected=(
                *RATING_SHIFT_REASONS,
                "drift in 'half_star'",
                "drift in 'known_user_half_star_shift'",
            ),
            inject=lambda w, seed: whole_stars(w, share=1.0, seed=seed),
        ),
        Scenario(
            name="bot_burst",
            description="one new user adding 20% more ratings, all 5 stars, 3 s apart",
            expected=(
                "suspicious rater quarantined",
                "drift in 'new_user_rating'",
                "drift in 'new_user_ratings'",
                "drift in 'new_user'",
            ),
            inject=lambda w, seed: bot_burst(w, share=0.2, seed=seed),
        ),
        Scenario(
            name="popularity_shift",
            description="30% of the ratings moved to the 100 most-rated movies",
            expected=(
                "drift in 'popular_movie'",
                "drift in 'known_user_popular_shift'",
                "drift in 'genre'",
                *RATING_SHIFT_REASONS[1:],
            ),
            inject=lambda w, seed: shift_popularity(
                w, popularity, share=0.3, seed=seed
            ),
        ),
    )


def default_scenarios(
    movies: pd.DataFrame,
    *,
    popularity: pd.Series | None = None,
    inflation_share: float = 1.0,
    genre: str = "Horror",
    genre_share: float = 0.3,
    surge_share: float = 0.5,
) -> tuple[Scenario, ...]:
    """The four injected drifts of the monitoring benchmark and tests."""
    return (
        Scenario(
            name="rating_inflation",
            description=f"+0.5 stars for {inflation_share:.0%} of the users",
            expected=RATING_SHIFT_REASONS,
            inject=lambda w, seed: inflate_ratings(w, share=inflation_share, seed=seed),
        ),
        Scenario(
            name="genre_shift",
            description=f"{genre_share:.0%} of the ratings moved to {genre} movies",
            expected=("drift in 'genre'",),
            inject=lambda w, seed: shift_genre_mix(
                w,
                movies,
                genre=genre,
                share=genre_share,
                seed=seed,
                popularity=popularity,
            ),
        ),
        Scenario(
            name="new_user_surge",
            description=f"new users adding {surge_share:.0%} more ratings, ~4 each",
            expected=("drift in 'new_user'", "drift in 'new_user_ratings'"),
            inject=lambda w, seed: add_new_users(w, share=surge_share, seed=seed),
        ),
        Scenario(
            name="broken_timestamps",
            description="every timestamp null",
            expected=("quality check failed: timestamp",),
            inject=lambda w, seed: null_timestamps(w),
        ),
    )


def _check_added(share: float) -> None:
    """Added ratings, as a share of the window's, must be positive (any size)."""
    if share <= 0:
        raise InvalidInputError(f"share must be > 0, got {share} instead")


def _check_share(share: float) -> None:
    if not 0 < share <= 1:
        raise InvalidInputError(f"share must be in (0, 1], got {share} instead")
