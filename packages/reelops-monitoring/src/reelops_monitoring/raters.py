"""Per-user screening of a window's raters: one-value floods are quarantined.

Drift tests judge distributions, and one user is an outlier of a distribution, not
a shift of it: a bot giving 200 ratings of 5.0 moves a window's rating histogram
by less than the spread between real windows. :func:`screen_raters` looks at each
user instead: a user with at least ``min_ratings`` ratings in the window, more than
``max_top_share`` of them one value, is flagged (vote stuffing, a scraper, a stuck
client). Real MovieLens users rarely rate that way (``bench/monitoring.py``,
``raters``): among the users who arrived before 2008, a user with 30 ratings or
more in a window (quarters; 200, 1,000 or 5,000 ratings in time order) gave at
most 85 % of them one value. Among the later users one did: 346 movies in a row
at 2.5 stars within an hour, which flags 2 of 217 windows of 200 ratings (a
human looking at it is what the flag asks for).

A flagged user's ratings are quarantined (kept apart, never trained on) and the
rest of the window is judged without them; the flag pages a human (a bot is not
fixed by retraining). What this does not catch: a bot whose ratings vary (random
or item-mean fillers), or a flood of varied extreme ratings; real users rate 300
movies in a minute at a mean of 1.3 stars too, so neither rate nor mean marks a
bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from reelops_monitoring.errors import MissingColumnError

if TYPE_CHECKING:
    from reelops_monitoring.config import RatersConfig

__all__ = ["FlaggedRater", "RaterScreen", "screen_raters", "top_shares"]

_COLUMNS = ("user_id", "rating")


@dataclass(frozen=True)
class FlaggedRater:
    """One user whose ratings in the window are nearly all one value."""

    user_id: int
    n_ratings: int
    top_rating: float
    top_share: float

    def reason(self, max_top_share: float) -> str:
        """One line: who, how many ratings, which value, and the limit."""
        return (
            f"suspicious rater quarantined: user {self.user_id} gave "
            f"{self.n_ratings:,} ratings, {self.top_share:.0%} of them "
            f"{self.top_rating:g} (limit {max_top_share:.0%} of one value); "
            "a human should look, retraining does not fix it"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "user_id": self.user_id,
            "n_ratings": self.n_ratings,
            "top_rating": self.top_rating,
            "top_share": round(self.top_share, 6),
        }


@dataclass(frozen=True)
class RaterScreen:
    """The users :func:`screen_raters` flagged, and the limits it applied."""

    flagged: tuple[FlaggedRater, ...]
    min_ratings: int
    max_top_share: float
    n_users: int

    @property
    def user_ids(self) -> frozenset[int]:
        """The flagged users."""
        return frozenset(r.user_id for r in self.flagged)

    def reasons(self) -> tuple[str, ...]:
        """One line per flagged user."""
        return tuple(r.reason(self.max_top_share) for r in self.flagged)

    def split(self, window: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``window`` without the flagged users' rows, and those rows (quarantine)."""
        hit = window["user_id"].isin(list(self.user_ids))
        return window[~hit], window[hit]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the limits, the users screened and the flagged ones."""
        return {
            "min_ratings": self.min_ratings,
            "max_top_share": self.max_top_share,
            "users_screened": self.n_users,
            "flagged": [r.to_dict() for r in self.flagged],
        }

    @classmethod
    def from_dict(cls, found: dict[str, Any]) -> RaterScreen:
        """The inverse of :meth:`to_dict`."""
        return cls(
            flagged=tuple(FlaggedRater(**r) for r in found["flagged"]),
            min_ratings=int(found["min_ratings"]),
            max_top_share=float(found["max_top_share"]),
            n_users=int(found["users_screened"]),
        )


def top_shares(window: pd.DataFrame, min_ratings: int) -> pd.DataFrame:
    """The statistic the screen limits, per user with ``min_ratings`` or more.

    ``n_ratings``, ``top_rating`` (the user's most common value) and
    ``top_share`` (its share of the user's ratings), indexed by ``user_id``.
    """
    rated = window[list(_COLUMNS)].dropna()
    counts = rated.groupby(["user_id", "rating"]).size()
    sizes = counts.groupby(level="user_id").sum()
    ordered = counts.sort_values(ascending=False, kind="stable")
    top = ordered[~ordered.index.get_level_values("user_id").duplicated()]
    found = pd.DataFrame(
        {
            "n_ratings": sizes.loc[top.index.get_level_values("user_id")].to_numpy(),
            "top_rating": top.index.get_level_values("rating").to_numpy(),
            "top_share": top.to_numpy()
            / sizes.loc[top.index.get_level_values("user_id")].to_numpy(),
        },
        index=pd.Index(top.index.get_level_values("user_id"), name="user_id"),
    )
    return found[found["n_ratings"] >= min_ratings]


def screen_raters(window: pd.DataFrame, config: RatersConfig) -> RaterScreen:
    """Flag the users whose ratings in ``window`` are nearly all one value.

    Args:
        window: Ratings with ``user_id`` and ``rating`` (rows with a null in
            either are not counted: the quality checks report those).
        config: ``min_ratings`` and ``max_top_share``.

    Returns:
        The flagged users, most ratings first (ties by id).

    Raises:
        MissingColumnError: If ``window`` lacks ``user_id`` or ``rating``.
    """
    missing = [c for c in _COLUMNS if c not in window.columns]
    if missing:
        raise MissingColumnError(
            f"ratings window lacks column(s) {missing}: expected {list(_COLUMNS)}, "
            f"got {list(window.columns)}"
        )
    shares = top_shares(window, config.min_ratings)
    over = shares[shares["top_share"] > config.max_top_share]
    flagged = [
        FlaggedRater(int(user), int(n), float(value), float(share))
        for user, n, value, share in zip(
            over.index.to_numpy(),
            over["n_ratings"].to_numpy(),
            over["top_rating"].to_numpy(),
            over["top_share"].to_numpy(),
            strict=True,
        )
    ]
    flagged.sort(key=lambda r: (-r.n_ratings, r.user_id))
    return RaterScreen(
        flagged=tuple(flagged),
        min_ratings=config.min_ratings,
        max_top_share=config.max_top_share,
        n_users=int(window["user_id"].dropna().nunique()),
    )
