"""Feedback-union stage: the ratings training reads, and the data lineage they carry.

The validated ratings plus the feedback monitoring accepted (one partition per
monitored window); with feedback, the run's ``data.sha256`` becomes the digest of
both, so that promotion tells a model retrained on feedback from the one whose
drift alarm asked for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict

from reelops._pydantic import as_config
from reelops.data_lineage import raw_data_sha256
from reelops_contracts import RATING_COLUMNS

__all__ = ["FeedbackUnionConfig", "training_data_tags", "union_feedback"]

_RATING_COLUMNS = list(RATING_COLUMNS)


class FeedbackUnionConfig(BaseModel):
    """Whether accepted feedback is appended to the training ratings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True


def _frame_sha256(frame: pd.DataFrame) -> str:
    """A digest of a ratings frame's content (row order independent)."""
    ordered = frame[_RATING_COLUMNS].sort_values(_RATING_COLUMNS, kind="stable")
    rows = pd.util.hash_pandas_object(ordered.reset_index(drop=True), index=False)
    return hashlib.sha256(rows.to_numpy().tobytes()).hexdigest()


def union_feedback(
    ratings: pd.DataFrame,
    accepted_feedback: Mapping[str, pd.DataFrame],
    raw_checksums: dict[str, str],
    feedback_union: FeedbackUnionConfig,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The ratings training reads: validated ratings plus accepted feedback.

    Feedback partitions (one per monitoring window) may overlap; a rating sent
    twice counts once. A (user, movie) pair rated both in the ratings and in the
    feedback keeps its most recent rating.

    Args:
        ratings: Validated ratings (``user_id, movie_id, rating, timestamp``).
        accepted_feedback: Accepted feedback by partition (possibly none).
        raw_checksums: sha256 of every raw file (the data lineage of ``ratings``).
        feedback_union: ``enabled`` (false: the ratings alone).

    Returns:
        The ratings for training, and their lineage: ``sha256`` (the raw files'
        digest, combined with the feedback's when any feedback is appended),
        ``raw_sha256``, ``feedback_rows`` and ``feedback_sha256``.
    """
    cfg = as_config(FeedbackUnionConfig, feedback_union, "parameters 'feedback_union'")
    raw_sha = raw_data_sha256(raw_checksums)
    frames = [frame[_RATING_COLUMNS] for frame in accepted_feedback.values()]
    feedback = (
        pd.concat(frames, ignore_index=True).drop_duplicates()
        if cfg.enabled and frames
        else pd.DataFrame(columns=_RATING_COLUMNS)
    )
    base = ratings[_RATING_COLUMNS]
    if feedback.empty:
        lineage = {"sha256": raw_sha, "raw_sha256": raw_sha, "feedback_rows": 0}
        return base.reset_index(drop=True), {**lineage, "feedback_sha256": None}
    feedback = feedback.astype(base.dtypes.to_dict())
    combined = (
        pd.concat([base, feedback], ignore_index=True)
        .sort_values("timestamp", kind="stable")
        .drop_duplicates(["user_id", "movie_id"], keep="last")
        .sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
        .reset_index(drop=True)
    )
    feedback_sha = _frame_sha256(feedback)
    digest = hashlib.sha256(f"{raw_sha}\nfeedback={feedback_sha}\n".encode())
    return combined, {
        "sha256": digest.hexdigest(),
        "raw_sha256": raw_sha,
        "feedback_rows": len(feedback),
        "feedback_sha256": feedback_sha,
    }


def training_data_tags(training_data_lineage: dict[str, Any]) -> dict[str, str]:
    """MLflow ``data.*`` tags of a run trained on ratings plus feedback.

    Without feedback the run keeps the raw files' ``data.sha256`` (set by
    ingestion); with feedback, ``data.sha256`` becomes the combined digest, so that
    promotion tells a model retrained on feedback from the one whose drift alarm
    asked for it.
    """
    rows = int(training_data_lineage["feedback_rows"])
    if rows == 0:
        return {"feedback.rows": "0"}
    return {
        "sha256": training_data_lineage["sha256"],
        "sha256.raw": training_data_lineage["raw_sha256"],
        "feedback.rows": str(rows),
        "feedback.sha256": training_data_lineage["feedback_sha256"],
    }
