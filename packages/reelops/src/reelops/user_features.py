"""Per-user features: activity (rating count and bucket), mean rating, period.

The features stage builds them for packaging, which ships each user's activity
bucket (light, regular, heavy) to serving; the replay buckets the users of its
simulated requests the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ACTIVITY_BUCKETS", "ACTIVITY_LABELS", "user_features"]

#: Ratings per user at which a user counts as light / regular / heavy.
ACTIVITY_BUCKETS = (0, 50, 200, np.inf)
ACTIVITY_LABELS = ("light", "regular", "heavy")


def user_features(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per user: activity (count, bucket), mean rating, first and last rating time."""
    grouped = ratings.groupby("user_id")
    out = grouped.agg(
        n_ratings=("rating", "size"),
        mean_rating=("rating", "mean"),
        first_timestamp=("timestamp", "min"),
        last_timestamp=("timestamp", "max"),
    )
    out["activity"] = pd.cut(
        out["n_ratings"], ACTIVITY_BUCKETS, labels=ACTIVITY_LABELS, right=False
    ).astype(str)
    out["mean_rating"] = out["mean_rating"].astype("float32")
    return out.reset_index()
