"""``FeedbackDataset``: the ratings users sent to ``POST /feedback``, read-only.

The service creates the table when it first starts; before that, or before any
feedback arrived, there is nothing to read, which is a state, not an error: loading
gives an empty frame with the table's columns and says "no feedback yet".

The table, its name and its columns, is :data:`reelops_contracts.FEEDBACK_TABLE`,
the one the service writes: it is not a setting (reading another table than the
service writes would look like "no feedback yet"); the database is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError

from reelops_contracts import FEEDBACK_TABLE

__all__ = ["FeedbackDataset"]

logger = logging.getLogger(__name__)


class FeedbackDataset(AbstractDataset[None, pd.DataFrame]):
    """The feedback table, oldest arrival first; no table yet is an empty frame.

    Example::

        feedback:
          type: reelops.datasets.feedback.FeedbackDataset
          credentials: feedback_db   # {con: <SQLAlchemy URL>}
    """

    def __init__(
        self,
        *,
        credentials: dict[str, Any],
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Read the feedback table over the connection ``credentials['con']``."""
        if not credentials.get("con"):
            raise DatasetError("FeedbackDataset needs credentials with a 'con' URL")
        self._con = str(credentials["con"])
        self._table = FEEDBACK_TABLE.name
        self.metadata = metadata

    def _where(self) -> str:
        from sqlalchemy.engine import make_url

        try:
            return make_url(self._con).render_as_string(hide_password=True)
        except Exception:  # an unparsable URL: name no part of it
            return "the configured database"

    def _describe(self) -> dict[str, Any]:
        return {"table": self._table, "con": self._where()}

    def _sqlite_file_missing(self) -> bool:
        """Whether the database is a SQLite file that does not exist (yet)."""
        from sqlalchemy.engine import make_url

        try:
            url = make_url(self._con)
        except Exception:  # an unparsable URL: create_engine says what is wrong
            return False
        database = url.database or ""
        if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
            return False
        return not Path(database).exists()

    def _no_feedback_yet(self) -> pd.DataFrame:
        logger.warning(
            "no feedback yet: no table '%s' at %s (the service creates it when it "
            "starts; POST /feedback fills it)",
            self._table,
            self._where(),
        )
        return pd.DataFrame({name: [] for name in FEEDBACK_TABLE.column_names})

    def load(self) -> pd.DataFrame:
        """Every row of the table, or no row when the table does not exist yet.

        A SQLite file that does not exist is not created (nor its directory): it
        has no table yet.
        """
        from sqlalchemy import create_engine, inspect, text

        if self._sqlite_file_missing():
            return self._no_feedback_yet()
        columns = ", ".join(FEEDBACK_TABLE.column_names)
        engine = create_engine(self._con)
        try:
            if not inspect(engine).has_table(self._table):
                return self._no_feedback_yet()
            query = text(
                f"SELECT {columns} FROM {self._table} "  # noqa: S608 - names, not data
                "ORDER BY received_at, user_id, movie_id"
            )
            with engine.connect() as conn:
                return pd.read_sql_query(query, conn)
        except Exception as exc:
            if isinstance(exc, DatasetError):
                raise
            raise DatasetError(
                f"cannot read feedback table '{self._table}' at {self._where()}: "
                f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            ) from exc
        finally:
            engine.dispose()

    def save(self, data: None) -> None:
        """Pipelines never write feedback: the service does."""
        raise DatasetError("the feedback table is read-only for pipelines")
