"""EDA stage: the shape of the ratings data, as a JSON summary and PNG plots."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from reelops._types import Figure

__all__ = [
    "eda_metrics",
    "plot_eda",
    "summarize_ratings",
]


def _quantiles(counts: pd.Series) -> dict[str, float]:
    q = counts.quantile([0.1, 0.5, 0.9, 0.99])
    return {
        "min": int(counts.min()),
        "p10": float(q[0.1]),
        "median": float(q[0.5]),
        "mean": round(float(counts.mean()), 4),
        "p90": float(q[0.9]),
        "p99": float(q[0.99]),
        "max": int(counts.max()),
    }


def _top_share(counts: pd.Series, share: float) -> float:
    """Fraction of all ratings held by the most-rated ``share`` of entities."""
    ordered = counts.sort_values(ascending=False).to_numpy()
    top = max(1, round(len(ordered) * share))
    return round(float(ordered[:top].sum() / ordered.sum()), 4)


def summarize_ratings(ratings: pd.DataFrame, movies: pd.DataFrame) -> dict[str, Any]:
    """Counts, sparsity, distributions, long tail, genre mix and activity over time."""
    n_ratings = len(ratings)
    per_user = ratings.groupby("user_id").size()
    per_movie = ratings.groupby("movie_id").size()
    n_users, n_movies = len(per_user), len(per_movie)
    density = n_ratings / (n_users * n_movies) if n_users and n_movies else 0.0
    dist = ratings["rating"].value_counts().sort_index()
    rated = movies[movies["movie_id"].isin(per_movie.index)]
    genres = rated["genres"].str.split("|").explode().value_counts()
    when = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
    per_year = when.dt.year.value_counts().sort_index()
    return {
        "n_ratings": n_ratings,
        "n_users": n_users,
        "n_movies_rated": n_movies,
        "n_movies_catalog": len(movies),
        "density": round(density, 6),
        "sparsity": round(1.0 - density, 6),
        "rating": {
            "mean": round(float(ratings["rating"].mean()), 4),
            "std": round(float(ratings["rating"].std()), 4),
            "distribution": {f"{k:g}": int(v) for k, v in dist.items()},
        },
        "ratings_per_user": _quantiles(per_user),
        "ratings_per_movie": {
            **_quantiles(per_movie),
            "movies_with_one_rating": int((per_movie == 1).sum()),
            "top_10pct_share_of_ratings": _top_share(per_movie, 0.10),
            "top_1pct_share_of_ratings": _top_share(per_movie, 0.01),
        },
        "genres_of_rated_movies": {str(k): int(v) for k, v in genres.items()},
        "activity": {
            "first_rating": when.min().isoformat() if n_ratings else None,
            "last_rating": when.max().isoformat() if n_ratings else None,
            "ratings_per_year": {str(k): int(v) for k, v in per_year.items()},
        },
    }


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.subplots()
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig, ax


def _long_tail(counts: pd.Series, what: str) -> Figure:
    fig, ax = _figure(f"Ratings per {what} (long tail)")
    ordered = np.sort(counts.to_numpy())[::-1]
    ax.loglog(np.arange(1, len(ordered) + 1), ordered, lw=1.5)
    ax.set_xlabel(f"{what} rank (most active first)")
    ax.set_ylabel("ratings")
    return fig


def plot_eda(ratings: pd.DataFrame, movies: pd.DataFrame) -> dict[str, Figure]:
    """Five PNG plots of the ratings.

    Rating distribution, per-user and per-movie long tails, genre mix, and activity
    over time.
    """
    figs: dict[str, Figure] = {}
    fig, ax = _figure("Rating distribution")
    dist = ratings["rating"].value_counts().sort_index()
    ax.bar([f"{v:g}" for v in dist.index], dist.to_numpy(), color="#3b75af")
    ax.set_xlabel("rating")
    ax.set_ylabel("ratings")
    figs["rating_distribution"] = fig
    figs["ratings_per_user"] = _long_tail(ratings.groupby("user_id").size(), "user")
    figs["ratings_per_movie"] = _long_tail(ratings.groupby("movie_id").size(), "movie")
    rated = movies[movies["movie_id"].isin(ratings["movie_id"].unique())]
    genres = rated["genres"].str.split("|").explode().value_counts()
    fig, ax = _figure("Genre mix of rated movies")
    ax.barh(genres.index[::-1], genres.to_numpy()[::-1], color="#e1812c")
    ax.set_xlabel("movies")
    fig.tight_layout()
    figs["genre_mix"] = fig
    when = pd.to_datetime(ratings["timestamp"], unit="s", utc=True)
    monthly = when.dt.to_period("M").value_counts().sort_index()
    fig, ax = _figure("Ratings per month")
    months = pd.PeriodIndex(monthly.index).to_timestamp()
    ax.plot(months, monthly.to_numpy(), lw=1.0)
    ax.set_ylabel("ratings")
    figs["activity_over_time"] = fig
    return figs


def eda_metrics(eda_summary: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The headline EDA figures as MLflow metrics (step 0)."""
    keys = ("n_ratings", "n_users", "n_movies_rated", "sparsity")
    return {k: {"value": float(eda_summary[k]), "step": 0} for k in keys}
