"""``/feedback``: ratings from users, validated like ingested data, stored in SQL.

:class:`FeedbackValidator` applies the pandera rules of ``ratings.csv``
(:mod:`reelops.validation`, with the rules the model was packaged with) to one
record, so a rating rejected at ingestion is rejected here with the same one-line
reason. :class:`FeedbackStore` writes accepted records through SQLAlchemy (a SQLite
file by default, PostgreSQL in staging and prod); a record is keyed by
(user, movie, timestamp), so sending it again changes nothing, and the write is
committed before the call returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from reelops_serving.errors import (
    FeedbackConflictError,
    FeedbackRejectedError,
    ServingConfigError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import numpy as np
    from sqlalchemy.engine import Engine

__all__ = ["FeedbackRecord", "FeedbackStore", "FeedbackValidator", "feedback_table"]

logger = logging.getLogger(__name__)

_RAW_COLUMNS = ["userId", "movieId", "rating", "timestamp"]


@dataclass(frozen=True)
class FeedbackRecord:
    """One accepted rating, as stored."""

    user_id: int
    movie_id: int
    rating: float
    timestamp: int


class FeedbackValidator:
    """The rules of ingested ratings, applied to one feedback record.

    Args:
        validation: The ``validation`` parameters the model was packaged with.
        movie_ids: The catalog's movie ids (a rating of another movie is invalid).
        clock: Seconds since the epoch (the default timestamp and "future" bound).
    """

    def __init__(
        self,
        validation: Mapping[str, Any],
        movie_ids: np.ndarray,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # reelops.validation holds the ingestion rules and their messages.
        from reelops.raw_columns import LINE, PARSE_ERROR
        from reelops.validation import ValidationRules

        self._rules = ValidationRules.model_validate(dict(validation))
        self._movie_ids = pd.Series(movie_ids, dtype="int64")
        self._clock = clock
        self._line, self._parse_error = LINE, PARSE_ERROR

    def validate(
        self, user_id: int, movie_id: int, rating: float, timestamp: int | None
    ) -> FeedbackRecord:
        """The record to store, or why it is rejected.

        Raises:
            FeedbackRejectedError: A rule of ingested ratings is broken (the
                message is the reason the quarantine would record).
        """
        from reelops.validation import numeric_columns, ratings_schema, split_valid

        now = self._clock()
        ts = int(now) if timestamp is None else timestamp
        raw = pd.DataFrame(
            {
                "userId": [str(user_id)],
                "movieId": [str(movie_id)],
                # The raw text a reason quotes, as a client would write it (9, 4.5).
                "rating": [str(rating).removesuffix(".0")],
                "timestamp": [str(ts)],
                self._line: [1],
                self._parse_error: [""],
            }
        )
        schema = ratings_schema(
            self._rules, self._movie_ids, datetime.fromtimestamp(now, UTC)
        )
        valid, quarantine = split_valid(
            raw,
            numeric_columns(raw, _RAW_COLUMNS),
            schema,
            source="feedback",
            columns=_RAW_COLUMNS,
        )
        if len(quarantine):
            raise FeedbackRejectedError(str(quarantine["reason"].iloc[0]))
        row = valid.iloc[0]
        return FeedbackRecord(
            user_id=int(row["userId"]),
            movie_id=int(row["movieId"]),
            rating=float(row["rating"]),
            timestamp=int(row["timestamp"]),
        )


def feedback_table(name: str = "feedback", metadata: MetaData | None = None) -> Table:
    """The feedback table: ratings' columns, arrival time and serving model."""
    return Table(
        name,
        metadata or MetaData(),
        Column("user_id", BigInteger, primary_key=True, autoincrement=False),
        Column("movie_id", BigInteger, primary_key=True, autoincrement=False),
        Column("timestamp", BigInteger, primary_key=True, autoincrement=False),
        Column("rating", Float, nullable=False),
        Column("received_at", BigInteger, nullable=False),
        Column("model_version", String(128), nullable=False),
    )


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError and ValueError
        raise ServingConfigError(
            "feedback.url: expected a SQLAlchemy URL such as "
            "postgresql+psycopg://user@host/db or sqlite:///feedback.db"
        ) from exc
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)


class FeedbackStore:
    """Idempotent writes of feedback records (keyed by user, movie, timestamp).

    Args:
        url: SQLAlchemy URL (``postgresql://`` uses psycopg 3).
        table: Table name; created at :meth:`open` when missing.
        clock: Seconds since the epoch (``received_at``).
    """

    def __init__(
        self,
        url: str,
        *,
        table: str = "feedback",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = _engine(url)
        self._table = feedback_table(table)
        self._clock = clock

    @property
    def dialect(self) -> str:
        """The database dialect (``sqlite``, ``postgresql``, ...)."""
        return self._engine.dialect.name

    def open(self) -> FeedbackStore:
        """Create the table if it is missing; returns ``self``."""
        self._table.metadata.create_all(self._engine)
        return self

    def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def save(self, record: FeedbackRecord, *, model_version: str) -> bool:
        """Store ``record``; True if new, False if it was already stored.

        The transaction is committed when this returns.

        Raises:
            FeedbackConflictError: The same (user, movie, timestamp) is stored
                with another rating.
        """
        values = {
            "user_id": record.user_id,
            "movie_id": record.movie_id,
            "timestamp": record.timestamp,
            "rating": record.rating,
            "received_at": int(self._clock()),
            "model_version": model_version[:128],
        }
        keys = ["user_id", "movie_id", "timestamp"]
        with self._engine.begin() as conn:
            if self.dialect in ("postgresql", "sqlite"):
                insert = (
                    postgresql.insert if self.dialect == "postgresql" else sqlite.insert
                )
                stmt = (
                    insert(self._table)
                    .values(**values)
                    .on_conflict_do_nothing(index_elements=keys)
                    .returning(self._table.c.user_id)
                )
                is_new = conn.execute(stmt).first() is not None
            else:  # pragma: no cover - other dialects: rely on the primary key
                try:
                    with conn.begin_nested():
                        conn.execute(self._table.insert().values(**values))
                    is_new = True
                except IntegrityError:
                    is_new = False
            if is_new:
                return True
            stored = conn.execute(
                select(self._table.c.rating).where(
                    self._table.c.user_id == record.user_id,
                    self._table.c.movie_id == record.movie_id,
                    self._table.c.timestamp == record.timestamp,
                )
            ).scalar_one()
        if float(stored) != record.rating:
            raise FeedbackConflictError(
                f"feedback of user {record.user_id} for movie {record.movie_id} at "
                f"timestamp {record.timestamp} is already stored with rating "
                f"{float(stored):g}, got {record.rating:g}: send another timestamp "
                "to record a new rating"
            )
        return False

    def rated_movies(self, user_ids: Sequence[int]) -> dict[int, set[int]]:
        """The movies each of ``user_ids`` rated through ``/feedback`` (any time).

        ``/recommend`` leaves them out: the model knows the ratings it was trained
        on, not the feedback that arrived since.

        Raises:
            SQLAlchemyError: The database did not answer.
        """
        users = sorted({int(u) for u in user_ids})
        if not users:
            return {}
        query = select(self._table.c.user_id, self._table.c.movie_id).where(
            self._table.c.user_id.in_(users)
        )
        rated: dict[int, set[int]] = {}
        with self._engine.connect() as conn:
            for user_id, movie_id in conn.execute(query):
                rated.setdefault(int(user_id), set()).add(int(movie_id))
        return rated

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()
