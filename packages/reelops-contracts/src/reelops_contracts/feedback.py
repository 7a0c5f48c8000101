"""The feedback table: written by the service, read by monitoring and retraining.

One definition for both sides: its name is not a setting (a service writing one
table while monitoring reads another would look like "no feedback yet"); which
database it lives in is (the service's ``feedback.url`` and the ``feedback_db``
credentials of the pipelines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FEEDBACK_TABLE", "FeedbackColumn", "FeedbackTable"]


@dataclass(frozen=True)
class FeedbackColumn:
    """One column of the feedback table.

    Attributes:
        name: The column name.
        kind: ``integer`` (64-bit), ``float`` (double) or ``string``.
        primary_key: Part of the key a record is stored under once.
        nullable: Whether the column may be NULL.
        length: Longest value of a ``string`` column.
    """

    name: str
    kind: Literal["integer", "float", "string"]
    primary_key: bool = False
    nullable: bool = False
    length: int | None = None


@dataclass(frozen=True)
class FeedbackTable:
    """The table ``POST /feedback`` fills, in the ratings' column names.

    Attributes:
        name: The table name.
        columns: Every column, in the order readers select them.
        idempotency_table: The table of ``Idempotency-Key`` claims beside it.
    """

    name: str
    columns: tuple[FeedbackColumn, ...]
    idempotency_table: str

    @property
    def column_names(self) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(c.name for c in self.columns)

    @property
    def primary_key(self) -> tuple[str, ...]:
        """The columns a record is keyed by (user, movie, timestamp)."""
        return tuple(c.name for c in self.columns if c.primary_key)


#: The feedback table: a rating's columns, its arrival time and the serving model.
FEEDBACK_TABLE = FeedbackTable(
    name="feedback",
    columns=(
        FeedbackColumn("user_id", "integer", primary_key=True),
        FeedbackColumn("movie_id", "integer", primary_key=True),
        FeedbackColumn("rating", "float"),
        FeedbackColumn("timestamp", "integer", primary_key=True),
        FeedbackColumn("received_at", "integer"),
        FeedbackColumn("model_version", "string", length=128),
    ),
    idempotency_table="feedback_idempotency",
)
