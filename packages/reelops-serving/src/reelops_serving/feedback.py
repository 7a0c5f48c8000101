"""``/feedback``: ratings from users, validated like ingested data, stored in SQL.

:class:`FeedbackValidator` applies the rules of ``ratings.csv``
(:func:`reelops_contracts.check_rating`, with the rules the model was packaged
with) to one record, so a rating rejected at ingestion is rejected here with the
same one-line reason. :class:`FeedbackStore` writes accepted records through
SQLAlchemy (a SQLite file by default, PostgreSQL in staging and prod) into the
table of :data:`reelops_contracts.FEEDBACK_TABLE`, the one monitoring reads; a
record is keyed by (user, movie, timestamp), so sending it again changes nothing,
and the write is committed before the call returns.

:meth:`FeedbackStore.rated_movies` answers ``/recommend`` (the movies to leave
out) through a :class:`~reelops_serving.exclusions.RatedMoviesCache` when
``cache_seconds`` is positive: exact on SQLite (``PRAGMA data_version`` tells of
other connections' commits), at most ``cache_seconds`` old on PostgreSQL, and a
store always sees its own writes.

A rating sent without a timestamp gets the server's clock, so its retry would be
a new record: such a request carries an ``Idempotency-Key``, stored with the
record in one transaction in a table of its own (``feedback_idempotency``, created
next to the feedback table, whose columns stay as monitoring reads them). A
retry with the same key answers the record stored the first time, even when the
first answer never reached the client (a timeout after the commit).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from reelops_contracts import (
    FEEDBACK_TABLE,
    RatingRejectedError,
    ValidationRules,
    check_rating,
)
from reelops_serving.errors import (
    FeedbackConflictError,
    FeedbackRejectedError,
    IdempotencyKeyError,
    IdempotencyKeyReusedError,
    ServingConfigError,
)
from reelops_serving.exclusions import RatedMoviesCache
from reelops_serving.schemas import IDEMPOTENCY_KEY_PATTERN

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence, Set

    import numpy as np
    from sqlalchemy.engine import Connection, Engine
    from sqlalchemy.pool import PoolProxiedConnection
    from sqlalchemy.types import TypeEngine

    from reelops_contracts.feedback import FeedbackColumn

__all__ = [
    "FeedbackRecord",
    "FeedbackStore",
    "FeedbackValidator",
    "IdempotencyKey",
    "feedback_table",
    "idempotency_table",
]

_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedbackRecord:
    """One accepted rating, as stored."""

    user_id: int
    movie_id: int
    rating: float
    timestamp: int


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's ``Idempotency-Key``, scoped to the caller (token) that sent it."""

    caller: str
    value: str

    @classmethod
    def from_header(cls, value: str | None, *, caller: str) -> IdempotencyKey | None:
        """The key of a header value (``None`` when there is no header).

        Raises:
            IdempotencyKeyError: The value is not 1 to 255 visible ASCII characters.
        """
        if value is None:
            return None
        if not _KEY_RE.match(value):
            raise IdempotencyKeyError(
                "invalid Idempotency-Key header: expected 1 to 255 visible ASCII "
                f"characters (e.g. a UUID), got {len(value)} characters"
            )
        return cls(caller=caller, value=value)


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
        self._rules = ValidationRules.model_validate(dict(validation))
        self._movie_ids = frozenset(int(m) for m in movie_ids)
        self._clock = clock

    def validate(
        self, user_id: int, movie_id: int, rating: float, timestamp: int | None
    ) -> FeedbackRecord:
        """The record to store, or why it is rejected.

        Raises:
            FeedbackRejectedError: A rule of ingested ratings is broken (the
                message is the reason the quarantine would record).
        """
        now = self._clock()
        ts = int(now) if timestamp is None else timestamp
        try:
            check_rating(
                self._rules,
                user_id=user_id,
                movie_id=movie_id,
                rating=rating,
                timestamp=ts,
                movie_ids=self._movie_ids,
                now=datetime.fromtimestamp(now, UTC),
            )
        except RatingRejectedError as exc:
            raise FeedbackRejectedError(str(exc)) from exc
        return FeedbackRecord(
            user_id=int(user_id),
            movie_id=int(movie_id),
            rating=float(rating),
            timestamp=int(ts),
        )


def _sql_type(column: FeedbackColumn) -> TypeEngine[Any]:
    if column.kind == "integer":
        return BigInteger()
    if column.kind == "float":
        return Float()
    return String(column.length)


def _sql_column(column: FeedbackColumn) -> Column[Any]:
    return Column(
        column.name,
        _sql_type(column),
        primary_key=column.primary_key,
        autoincrement=False,
        nullable=column.nullable,
    )


def feedback_table(metadata: MetaData | None = None) -> Table:
    """The feedback table (:data:`reelops_contracts.FEEDBACK_TABLE`) in SQLAlchemy."""
    return Table(
        FEEDBACK_TABLE.name,
        metadata or MetaData(),
        *(_sql_column(c) for c in FEEDBACK_TABLE.columns),
    )


def idempotency_table(metadata: MetaData | None = None) -> Table:
    """Idempotency keys of ``/feedback``: each key's request and the record stored."""
    return Table(
        FEEDBACK_TABLE.idempotency_table,
        metadata or MetaData(),
        Column("caller", String(64), primary_key=True),
        Column("idempotency_key", String(255), primary_key=True),
        Column("user_id", BigInteger, nullable=False),
        Column("movie_id", BigInteger, nullable=False),
        Column("rating", Float, nullable=False),
        Column("requested_timestamp", BigInteger, nullable=True),
        Column("timestamp", BigInteger, nullable=False),
        Column("received_at", BigInteger, nullable=False),
    )


def _request_text(user_id: int, movie_id: int, rating: float, ts: int | None) -> str:
    when = "no timestamp" if ts is None else f"timestamp {ts}"
    return f"(user {user_id}, movie {movie_id}, rating {rating:g}, {when})"


def _on_disk_sqlite(engine: Engine) -> bool:
    """Whether ``engine`` is a SQLite file (other connections can commit to it)."""
    database = engine.url.database
    return engine.dialect.name == "sqlite" and database not in (None, "", ":memory:")


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
        url: SQLAlchemy URL (``postgresql://`` uses psycopg 3). The feedback
            table and its idempotency-key table are created at :meth:`open`
            when missing.
        clock: Seconds since the epoch (``received_at``).
        cache_seconds: Keep each user's rated movies in memory
            (:meth:`rated_movies`): exact on SQLite, at most this old elsewhere;
            0: ask the database every time.
        cache_max_users: Users the cache holds at most.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] = time.time,
        cache_seconds: float = 0.0,
        cache_max_users: int = 100_000,
    ) -> None:
        self._engine = _engine(url)
        self._table = feedback_table()
        self._keys = idempotency_table(self._table.metadata)
        self._clock = clock
        # Built once: every /recommend asks it, and building a statement costs
        # more than SQLite answering it (SQLAlchemy caches the compiled form).
        self._rated_query = select(self._table.c.user_id, self._table.c.movie_id).where(
            self._table.c.user_id.in_(bindparam("users", expanding=True))
        )
        # One user (every /recommend): an equality, whose SQL is rendered once; an
        # expanding IN is rendered again on every call (~a third of the lookup).
        self._rated_by_one = select(
            self._table.c.user_id, self._table.c.movie_id
        ).where(self._table.c.user_id == bindparam("user"))
        self._probe: PoolProxiedConnection | None = None
        self._cache: RatedMoviesCache | None = None
        if cache_seconds > 0:
            self._cache = RatedMoviesCache(
                self._read_rated_movies,
                max_age_seconds=cache_seconds,
                max_users=cache_max_users,
                version=self._data_version if _on_disk_sqlite(self._engine) else None,
            )

    @property
    def dialect(self) -> str:
        """The database dialect (``sqlite``, ``postgresql``, ...)."""
        return self._engine.dialect.name

    def open(self) -> FeedbackStore:
        """Create the tables that are missing; returns ``self``."""
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

    def _insert(self, conn: Connection, table: Table, values: dict[str, Any]) -> bool:
        """Insert ``values`` unless its primary key is taken; True if inserted."""
        if self.dialect in ("postgresql", "sqlite"):
            insert = (
                postgresql.insert if self.dialect == "postgresql" else sqlite.insert
            )
            keys = [c.name for c in table.primary_key.columns]
            stmt = (
                insert(table)
                .values(**values)
                .on_conflict_do_nothing(index_elements=keys)
                .returning(*table.primary_key.columns)
            )
            return conn.execute(stmt).first() is not None
        try:  # pragma: no cover - other dialects: rely on the primary key
            with conn.begin_nested():
                conn.execute(table.insert().values(**values))
        except IntegrityError:  # pragma: no cover
            return False
        return True  # pragma: no cover

    def _write(
        self,
        conn: Connection,
        record: FeedbackRecord,
        *,
        model_version: str,
        received_at: int,
    ) -> bool:
        """Write ``record`` in the open transaction; True if new.

        Raises:
            FeedbackConflictError: The same (user, movie, timestamp) is stored
                with another rating.
        """
        values = {
            "user_id": record.user_id,
            "movie_id": record.movie_id,
            "timestamp": record.timestamp,
            "rating": record.rating,
            "received_at": received_at,
            "model_version": model_version[:128],
        }
        if self._insert(conn, self._table, values):
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

    def save(self, record: FeedbackRecord, *, model_version: str) -> bool:
        """Store ``record``; True if new, False if it was already stored.

        The transaction is committed when this returns.

        Raises:
            FeedbackConflictError: The same (user, movie, timestamp) is stored
                with another rating.
        """
        with self._engine.begin() as conn:
            created = self._write(
                conn,
                record,
                model_version=model_version,
                received_at=int(self._clock()),
            )
        self._remember(record)
        return created

    def _claim_of(
        self, conn: Connection, claim: Mapping[str, Any]
    ) -> tuple[FeedbackRecord, int | None]:
        """The record stored under the caller's key, and the timestamp it was sent."""
        keys = self._keys.c
        user_id, movie_id, rating, requested, timestamp = conn.execute(
            select(
                keys.user_id,
                keys.movie_id,
                keys.rating,
                keys.requested_timestamp,
                keys.timestamp,
            ).where(
                keys.caller == claim["caller"],
                keys.idempotency_key == claim["idempotency_key"],
            )
        ).one()
        stored = FeedbackRecord(
            int(user_id), int(movie_id), float(rating), int(timestamp)
        )
        return stored, None if requested is None else int(requested)

    def save_once(
        self,
        record: FeedbackRecord,
        *,
        key: IdempotencyKey,
        requested_timestamp: int | None,
        model_version: str,
    ) -> tuple[FeedbackRecord, bool]:
        """Store ``record`` under ``key`` once: the stored record and whether new.

        The key is claimed first, then the record written, in one transaction
        committed when this returns. A key claimed before by the same request
        (user, movie, rating and the timestamp as sent, or none) answers the
        record stored then, with ``False``; a concurrent retry waits for the first
        attempt's transaction.

        Raises:
            IdempotencyKeyReusedError: The caller used ``key`` for another request.
            FeedbackConflictError: The same (user, movie, timestamp) is stored
                with another rating (nothing is stored, the key stays free).
        """
        received_at = int(self._clock())
        claim = {
            "caller": key.caller[:64],
            "idempotency_key": key.value,
            "user_id": record.user_id,
            "movie_id": record.movie_id,
            "rating": record.rating,
            "requested_timestamp": requested_timestamp,
            "timestamp": record.timestamp,
            "received_at": received_at,
        }
        with self._engine.begin() as conn:
            if self._insert(conn, self._keys, claim):
                created = self._write(
                    conn, record, model_version=model_version, received_at=received_at
                )
                stored = None
            else:
                created, stored = False, self._claim_of(conn, claim)
        if stored is None:
            self._remember(record)
            return record, created
        first, first_timestamp = stored
        was = (first.user_id, first.movie_id, first.rating, first_timestamp)
        sent = (record.user_id, record.movie_id, record.rating, requested_timestamp)
        if was != sent:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was already used for another rating "
                f"{_request_text(*was)}, got {_request_text(*sent)}: send a new "
                "key with a new rating"
            )
        return first, False

    def rated_movies(self, user_ids: Sequence[int]) -> Mapping[int, Set[int]]:
        """The movies each of ``user_ids`` rated through ``/feedback`` (any time).

        ``/recommend`` leaves them out: the model knows the ratings it was trained
        on, not the feedback that arrived since. Users without any are left out.
        With ``cache_seconds``, answers come from memory when the cache can vouch
        for them (see :mod:`reelops_serving.exclusions`).

        Raises:
            SQLAlchemyError: The database did not answer.
        """
        if self._cache is not None:
            return self._cache.lookup(user_ids)
        return self._read_rated_movies(user_ids)

    def _read_rated_movies(self, user_ids: Sequence[int]) -> dict[int, set[int]]:
        users = sorted({int(u) for u in user_ids})
        if not users:
            return {}
        query, params = (
            (self._rated_by_one, {"user": users[0]})
            if len(users) == 1
            else (self._rated_query, {"users": users})
        )
        rated: dict[int, set[int]] = {}
        with self._engine.connect() as conn:
            for user_id, movie_id in conn.execute(query, params):
                rated.setdefault(int(user_id), set()).add(int(movie_id))
        return rated

    def _data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` on a connection kept for it.

        The connection never writes, so the number changes whenever any other
        connection (this store's included) commits.

        Raises:
            SQLAlchemyError: SQLite did not answer.
        """
        statement = "PRAGMA data_version"
        try:
            if self._probe is None:
                self._probe = self._engine.raw_connection()
            cursor = self._probe.cursor()
            cursor.execute(statement)
            row = cursor.fetchone()
            cursor.close()
            if row is None:
                raise self._engine.dialect.loaded_dbapi.Error("no data_version")
        except self._engine.dialect.loaded_dbapi.Error as exc:
            self._release_probe()
            raise OperationalError(statement, None, exc) from exc
        return int(row[0])

    def _release_probe(self) -> None:
        if self._probe is not None:
            probe, self._probe = self._probe, None
            probe.close()

    def _remember(self, record: FeedbackRecord) -> None:
        """Tell the cache about a committed record (this store reads its writes)."""
        if self._cache is not None:
            self._cache.add(record.user_id, record.movie_id)

    def close(self) -> None:
        """Release every pooled connection."""
        self._release_probe()
        self._engine.dispose()
