"""Feature stage: id maps, normalized ratings, movie and user features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from reelops.user_features import user_features
from reelops_contracts import RATING_SCALE

__all__ = [
    "build_id_maps",
    "build_movie_features",
    "build_rating_features",
    "build_user_features",
]

_RATING_MIN, _RATING_MAX = min(RATING_SCALE), max(RATING_SCALE)


def build_id_maps(ratings: pd.DataFrame, movies: pd.DataFrame) -> pd.DataFrame:
    """Contiguous indices for users and movies (``entity, raw_id, index``).

    Users are numbered in ascending id order among the users who rated; movies
    across the whole catalog, so that serving knows every movie.
    """
    users = np.sort(ratings["user_id"].unique())
    items = np.sort(movies["movie_id"].unique())
    return pd.concat(
        [
            pd.DataFrame(
                {"entity": "user", "raw_id": users, "index": range(len(users))}
            ),
            pd.DataFrame(
                {"entity": "movie", "raw_id": items, "index": range(len(items))}
            ),
        ],
        ignore_index=True,
    ).astype({"raw_id": "int64", "index": "int64"})


def _index(id_maps: pd.DataFrame, entity: str) -> pd.Series:
    part = id_maps[id_maps["entity"] == entity]
    return pd.Series(part["index"].to_numpy(), index=part["raw_id"].to_numpy())


def build_rating_features(ratings: pd.DataFrame, id_maps: pd.DataFrame) -> pd.DataFrame:
    """Ratings with contiguous indices, the rating scaled to [0, 1] and user-centred."""
    user_mean = ratings.groupby("user_id")["rating"].transform("mean")
    return pd.DataFrame(
        {
            "user_id": ratings["user_id"].to_numpy(),
            "movie_id": ratings["movie_id"].to_numpy(),
            "user_index": ratings["user_id"].map(_index(id_maps, "user")).to_numpy(),
            "movie_index": ratings["movie_id"].map(_index(id_maps, "movie")).to_numpy(),
            "rating": ratings["rating"].to_numpy(),
            "rating_normalized": (
                (ratings["rating"] - _RATING_MIN) / (_RATING_MAX - _RATING_MIN)
            ).to_numpy(dtype="float32"),
            "rating_user_centred": (ratings["rating"] - user_mean).to_numpy(
                dtype="float32"
            ),
            "timestamp": ratings["timestamp"].to_numpy(),
        }
    )


def build_movie_features(movies: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    """Per movie: title, release year, genre one-hot, popularity and mean rating."""
    stats = ratings.groupby("movie_id")["rating"].agg(
        n_ratings="size", mean_rating="mean"
    )
    genres = movies.set_index("movie_id")["genres"].str.get_dummies(sep="|")
    genres.columns = [
        "genre_" + c.lower().replace("-", "_").replace(" ", "_").strip("()")
        for c in genres.columns
    ]
    out = movies.set_index("movie_id")[["title", "year", "genres"]].join(stats)
    out["n_ratings"] = out["n_ratings"].fillna(0).astype("int64")
    out["mean_rating"] = out["mean_rating"].astype("float32")
    out["popularity_rank"] = (
        out["n_ratings"].rank(ascending=False, method="first").astype("int64")
    )
    return out.join(genres.astype("int8")).reset_index()


def build_user_features(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per user: activity (count, bucket), mean rating, first and last rating time.

    See :func:`~reelops.user_features.user_features`.
    """
    return user_features(ratings)
