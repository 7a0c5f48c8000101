"""Split stage: the ratings for training, split into train and test."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict

from reelops._pydantic import as_config
from reelops_contracts import RATING_COLUMNS

__all__ = ["SplitConfig", "split_ratings"]

_COLUMNS = list(RATING_COLUMNS)


class SplitConfig(BaseModel):
    """How ratings are split into train and test (``parameters_training.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Literal["hash", "random", "temporal", "leave_last_n"] = "hash"
    test_size: float = 0.2
    n: int = 1
    seed: int = 42


def split_ratings(
    ratings: pd.DataFrame, split: SplitConfig
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Split ratings into (train, test, summary) by the configured strategy."""
    from recsys import hash_split, leave_last_n_split, random_split, temporal_split

    cfg = as_config(SplitConfig, split, "parameters 'split'")
    data = ratings[_COLUMNS]
    if cfg.strategy == "hash":
        train, test = hash_split(data, test_size=cfg.test_size, seed=cfg.seed)
    elif cfg.strategy == "random":
        train, test = random_split(data, test_size=cfg.test_size, random_state=cfg.seed)
    elif cfg.strategy == "temporal":
        train, test = temporal_split(data, test_size=cfg.test_size)
    else:
        train, test = leave_last_n_split(data, n=cfg.n)
    summary = {
        "strategy": cfg.strategy,
        "seed": cfg.seed,
        "test_size": cfg.test_size,
        "n_train": len(train),
        "n_test": len(test),
        "n_train_users": int(train["user_id"].nunique()),
        "n_train_movies": int(train["movie_id"].nunique()),
    }
    return train.reset_index(drop=True), test.reset_index(drop=True), summary
