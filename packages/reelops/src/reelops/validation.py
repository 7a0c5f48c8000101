"""Row-level validation with pandera: every input row ends up valid or quarantined.

Raw tables arrive as strings (see :mod:`reelops.datasets.raw_csv`). A table is first
converted to typed columns (unparseable values become missing), then validated by a
pandera schema with ``lazy=True``; every failure case names its row, so each row
that fails any check is moved to the quarantine table with all of its reasons.

pandera is imported by the functions that build or apply a schema, not with this
module: Kedro imports the ingestion nodes, hence this module, on every command.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from reelops.errors import ReelopsError
from reelops.raw_columns import LINE, PARSE_ERROR

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandera.pandas as pa

__all__ = [
    "QUARANTINE_COLUMNS",
    "ValidationRules",
    "movies_schema",
    "numeric_columns",
    "ratings_schema",
    "split_valid",
    "tags_schema",
]

#: Columns of every quarantine table: which file, which line, the raw record, why.
QUARANTINE_COLUMNS = ["source", "line", "record", "reason"]


class ValidationRules(BaseModel):
    """What a valid MovieLens row is (``conf/base/parameters_data_processing.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rating_values: list[float]
    min_timestamp: datetime
    max_timestamp: datetime | None = None
    genres: list[str]
    min_year: int = 1870
    max_year: int = 2100

    @field_validator("min_timestamp", "max_timestamp")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    def timestamp_bounds(self, now: datetime) -> tuple[int, int]:
        """Inclusive epoch-second bounds; the upper one defaults to ``now``."""
        upper = self.max_timestamp or now
        return int(self.min_timestamp.timestamp()), int(upper.timestamp())


def _positive_int(
    column: str, *, unique: bool = False, extra: Sequence[pa.Check] = ()
) -> pa.Column:
    import pandera.pandas as pa

    return pa.Column(
        float,
        [
            pa.Check(
                lambda s: (s > 0) & (s == np.floor(s)) & (s < 2**31),
                error="must be a positive integer",
            ),
            *extra,
        ],
        nullable=False,
        unique=unique,
        report_duplicates="exclude_first",
        name=column,
    )


def _timestamp(bounds: tuple[int, int]) -> pa.Column:
    import pandera.pandas as pa

    low, high = bounds
    lo_day = datetime.fromtimestamp(low, UTC).date()
    hi_day = datetime.fromtimestamp(high, UTC).date()
    return pa.Column(
        float,
        pa.Check.in_range(
            low, high, error=f"must be a unix time between {lo_day} and {hi_day}"
        ),
        nullable=False,
    )


def _known_movie(movie_ids: pd.Series) -> pa.Check:
    import pandera.pandas as pa

    known = pd.Index(movie_ids.unique())
    return pa.Check(
        lambda s: s.isin(known), error="must be a movie present in movies.csv"
    )


def ratings_schema(
    rules: ValidationRules, movie_ids: pd.Series, now: datetime
) -> pa.DataFrameSchema:
    """Schema of ``ratings.csv`` after :func:`numeric_columns`."""
    import pandera.pandas as pa

    values = sorted(rules.rating_values)
    grid = ", ".join(f"{v:g}" for v in values)
    return pa.DataFrameSchema(
        {
            "userId": _positive_int("userId"),
            "movieId": _positive_int("movieId", extra=[_known_movie(movie_ids)]),
            "rating": pa.Column(
                float,
                pa.Check.isin(values, error=f"must be one of {{{grid}}}"),
                nullable=False,
            ),
            "timestamp": _timestamp(rules.timestamp_bounds(now)),
        },
        unique=["userId", "movieId"],
        report_duplicates="exclude_first",
        name="ratings",
    )


def tags_schema(
    rules: ValidationRules, movie_ids: pd.Series, now: datetime
) -> pa.DataFrameSchema:
    """Schema of ``tags.csv`` after :func:`numeric_columns`."""
    import pandera.pandas as pa

    return pa.DataFrameSchema(
        {
            "userId": _positive_int("userId"),
            "movieId": _positive_int("movieId", extra=[_known_movie(movie_ids)]),
            "tag": pa.Column(
                str, pa.Check.str_length(min_value=1, error="must not be empty")
            ),
            "timestamp": _timestamp(rules.timestamp_bounds(now)),
        },
        name="tags",
    )


def movies_schema(rules: ValidationRules) -> pa.DataFrameSchema:
    """Schema of ``movies.csv`` after :func:`numeric_columns` and title parsing."""
    import pandera.pandas as pa

    allowed = set(rules.genres)
    listed = ", ".join(rules.genres)
    return pa.DataFrameSchema(
        {
            "movieId": _positive_int("movieId", unique=True),
            "title": pa.Column(
                str, pa.Check.str_length(min_value=1, error="must not be empty")
            ),
            "year": pa.Column(
                float,
                pa.Check.in_range(
                    rules.min_year,
                    rules.max_year,
                    error=f"must be a year between {rules.min_year} and "
                    f"{rules.max_year}",
                ),
                nullable=True,
            ),
            "genres": pa.Column(
                str,
                pa.Check(
                    lambda s: s.str.split("|").map(lambda g: set(g) <= allowed),
                    error=f"must be '|'-separated genres among {{{listed}}}",
                ),
            ),
        },
        name="movies",
    )


def numeric_columns(raw: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """A copy of ``raw`` with ``columns`` parsed as floats (unparseable -> NaN)."""
    typed = raw.copy()
    for col in columns:
        typed[col] = pd.to_numeric(raw[col].str.strip(), errors="coerce").astype(
            "float64"
        )
    return typed


def _reason(column: object, check: object, raw_value: object) -> str:
    got = f", got {raw_value!r}"
    check = str(check)
    if check == "not_nullable":
        return f"{column} is missing or not a number{got}"
    if check.startswith(("multiple_fields_uniqueness", "field_uniqueness")):
        return f"duplicate {column}{got}"
    if check.startswith(("coerce_dtype", "dtype")):
        return f"{column} has the wrong type{got}"
    return f"{column} {check}{got}"


def _failure_reasons(
    raw: pd.DataFrame, failures: pd.DataFrame, unique: Sequence[str] | None
) -> pd.Series:
    """Join every failure of a row into one ``; ``-separated reason per index."""
    cases = failures.dropna(subset=["index"])
    if len(cases) != len(failures):
        table = failures[failures["index"].isna()].iloc[0]
        raise ReelopsError(
            f"schema check '{table['check']}' failed on column "
            f"'{table['column']}' as a whole"
        )
    reasons: dict[int, list[str]] = {}
    pair = f"({', '.join(unique)}) pair" if unique else None
    for idx, column, check in zip(
        cases["index"].astype(int), cases["column"], cases["check"], strict=True
    ):
        if pair and str(check).startswith("multiple_fields_uniqueness"):
            text = f"duplicate {pair}, first seen earlier in the file"
        else:
            value = raw.at[idx, column] if column in raw.columns else None
            text = _reason(column, check, value)
        bucket = reasons.setdefault(idx, [])
        if text not in bucket:
            bucket.append(text)
    return pd.Series({k: "; ".join(v) for k, v in reasons.items()}, dtype=object)


def split_valid(
    raw: pd.DataFrame,
    typed: pd.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    source: str,
    columns: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``typed`` into (valid rows, quarantined rows with a reason each).

    ``raw`` is the string table the rows came from (same index); it supplies the
    line numbers and the raw values shown in reasons. ``len(valid) + len(quarantine)
    == len(raw)`` always holds.

    Raises:
        ReelopsError: a check failed for a whole column rather than for rows.
    """
    from pandera.errors import SchemaErrors

    parse_errors = raw[PARSE_ERROR].astype(str)
    reasons = parse_errors[parse_errors != ""].astype(object)
    candidates = typed.loc[parse_errors == "", list(schema.columns)]
    try:
        schema.validate(candidates, lazy=True)
    except SchemaErrors as exc:
        unique = schema.unique if isinstance(schema.unique, list) else None
        found = _failure_reasons(raw, exc.failure_cases, unique)
        reasons = pd.concat([reasons, found])
    bad = raw.index.isin(reasons.index)
    valid = typed.loc[~bad, list(columns)]
    bad_raw = raw.loc[bad]
    quarantine = pd.DataFrame(
        {
            "source": source,
            "line": bad_raw[LINE].astype("int64"),
            "record": [
                json.dumps(rec, ensure_ascii=False)
                for rec in bad_raw.drop(columns=[LINE, PARSE_ERROR]).to_dict("records")
            ],
            "reason": reasons.reindex(bad_raw.index).astype(str),
        },
        columns=QUARANTINE_COLUMNS,
    )
    return valid, quarantine.reset_index(drop=True)
