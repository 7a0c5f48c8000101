"""Result containers returned by ``recommend`` and ``similar_items``.

Both are frozen dataclasses of equal-length 1-D numpy arrays in long format (one
entry per (query, rank)), cheap to build on the serving path; ``to_frame()`` gives a
pandas DataFrame and ``to_records()`` a JSON-ready list of dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import pandas as pd

from recsys.exceptions import InvalidInputError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Recommendations", "SimilarItems"]


def _check_lengths(obj: Any) -> None:
    lengths = {f.name: len(getattr(obj, f.name)) for f in fields(obj)}
    if len(set(lengths.values())) > 1:
        msg = f"{type(obj).__name__} fields must have equal lengths, got {lengths}"
        raise InvalidInputError(msg)


def _records(obj: Any) -> list[dict[str, Any]]:
    columns = {f.name: getattr(obj, f.name).tolist() for f in fields(obj)}
    names = list(columns)
    return [
        dict(zip(names, row, strict=True))
        for row in zip(*columns.values(), strict=True)
    ]


@dataclass(frozen=True, eq=False)
class Recommendations:
    """Top-k recommendations for one or more users, one entry per (user, rank).

    Attributes
    ----------
    user_id : ndarray
        The requested user, repeated for each of their recommendations.
    rank : ndarray of int64
        1-based position in the user's list.
    movie_id : ndarray
        The recommended movie.
    score : ndarray of float64
        The model's ranking score (higher is better). For rating models it is the
        unclipped predicted rating; for fallback rows it is the movie's share of the
        training ratings.
    fallback : ndarray of bool
        True when the user was unknown at ``fit`` time and got the popularity list.
    """

    user_id: np.ndarray
    rank: np.ndarray
    movie_id: np.ndarray
    score: np.ndarray
    fallback: np.ndarray

    def __post_init__(self) -> None:
        _check_lengths(self)

    def __len__(self) -> int:
        return len(self.rank)

    def to_frame(self) -> pd.DataFrame:
        """Return the entries as a DataFrame with one column per attribute."""
        return pd.DataFrame({f.name: getattr(self, f.name) for f in fields(self)})

    def to_records(self) -> list[dict[str, Any]]:
        """Return the entries as a list of dicts of Python scalars (JSON-ready)."""
        return _records(self)


@dataclass(frozen=True, eq=False)
class SimilarItems:
    """The movies most similar to a query movie, one entry per rank.

    Attributes
    ----------
    movie_id : ndarray
        The query movie, repeated.
    rank : ndarray of int64
        1-based position.
    similar_movie_id : ndarray
        The similar movie (never the query itself).
    score : ndarray of float64
        The model's similarity (higher is more similar); for fallback rows, the
        movie's share of the training ratings.
    fallback : ndarray of bool
        True when the query movie was unknown at ``fit`` time and the most popular
        movies were returned instead.
    """

    movie_id: np.ndarray
    rank: np.ndarray
    similar_movie_id: np.ndarray
    score: np.ndarray
    fallback: np.ndarray

    def __post_init__(self) -> None:
        _check_lengths(self)

    def __len__(self) -> int:
        return len(self.rank)

    def to_frame(self) -> pd.DataFrame:
        """Return the entries as a DataFrame with one column per attribute."""
        return pd.DataFrame({f.name: getattr(self, f.name) for f in fields(self)})

    def to_records(self) -> list[dict[str, Any]]:
        """Return the entries as a list of dicts of Python scalars (JSON-ready)."""
        return _records(self)
