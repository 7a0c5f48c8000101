"""Row-level validation with pandera: every input row ends up valid or quarantined.

Raw tables arrive as strings (see :mod:`reelops.datasets.raw_csv`). A table is first
converted to typed columns (unparseable values become missing), then validated by a
pandera schema with ``lazy=True``; every failure case names its row, so each row
that fails any check is moved to the quarantine table with all of its reasons.

pandera is imported by the functions that build or apply a schema, not with this
module: Kedro imports the ingestion nodes, hence this module, on every command.

The rules (:class:`reelops_contracts.ValidationRules`) and the words of every
reason come from :mod:`reelops_contracts.rules`, which the service applies to
feedback on numbers: a rating is refused with the same reason in both places.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from reelops._pydantic import parse_config
from reelops.errors import ReelopsError
from reelops.raw_columns import LINE, PARSE_ERROR
from reelops_contracts import ValidationRules
from reelops_contracts.rules import (
    ID_LIMIT,
    KNOWN_MOVIE,
    MISSING,
    PLAIN_INTEGER,
    POSITIVE_INTEGER,
    quote,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pandera.pandas as pa

    from reelops.seen_keys import SeenKeys

__all__ = [
    "PLAIN_INTEGER_COLUMNS",
    "QUARANTINE_COLUMNS",
    "movies_schema",
    "numeric_columns",
    "parse_rules",
    "ratings_schema",
    "reference_time",
    "repeated_pairs",
    "split_valid",
    "tags_schema",
]

#: Columns of every quarantine table: which file, which line, the raw record, why.
QUARANTINE_COLUMNS = ["source", "line", "record", "reason"]

#: MovieLens ids and timestamps: plain integers, digits only (surrounding blanks
#: aside). A sign, an exponent or a decimal point (``+613``, ``1e2``, ``4.0``) is
#: not read as a number of another form: the row is quarantined.
PLAIN_INTEGER_COLUMNS = frozenset(
    {"userId", "movieId", "timestamp", "imdbId", "tmdbId"}
)
_PLAIN_INTEGER = r"^[0-9]+$"
_PLAIN_DECIMAL = r"^[0-9]+(\.[0-9]+)?$"
#: Characters that ``json.dumps`` escapes in a string.
_JSON_ESCAPED = r'["\\\x00-\x1f]'


def _positive_int(
    column: str, *, unique: bool = False, extra: Sequence[pa.Check] = ()
) -> pa.Column:
    import pandera.pandas as pa

    return pa.Column(
        float,
        [
            pa.Check(
                lambda s: (s > 0) & (s == np.floor(s)) & (s < ID_LIMIT),
                error=POSITIVE_INTEGER,
            ),
            *extra,
        ],
        nullable=False,
        unique=unique,
        report_duplicates="exclude_first",
        name=column,
    )


def _timestamp(rules: ValidationRules, now: datetime) -> pa.Column:
    import pandera.pandas as pa

    low, high = rules.timestamp_bounds(now)
    return pa.Column(
        float,
        pa.Check.in_range(low, high, error=rules.timestamp_expectation(now)),
        nullable=False,
    )


def _known_movie(movie_ids: pd.Series) -> pa.Check:
    import pandera.pandas as pa

    known = pd.Index(movie_ids.unique())
    return pa.Check(lambda s: s.isin(known), error=KNOWN_MOVIE)


def ratings_schema(
    rules: ValidationRules, movie_ids: pd.Series, now: datetime
) -> pa.DataFrameSchema:
    """Schema of ``ratings.csv`` after :func:`numeric_columns`."""
    import pandera.pandas as pa

    values = sorted(rules.rating_values)
    return pa.DataFrameSchema(
        {
            "userId": _positive_int("userId"),
            "movieId": _positive_int("movieId", extra=[_known_movie(movie_ids)]),
            "rating": pa.Column(
                float,
                pa.Check.isin(values, error=rules.rating_expectation()),
                nullable=False,
            ),
            "timestamp": _timestamp(rules, now),
        },
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
            "timestamp": _timestamp(rules, now),
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
    """A copy of ``raw`` with ``columns`` parsed as floats (unparseable -> NaN).

    A column of :data:`PLAIN_INTEGER_COLUMNS` is parsed only where it holds digits.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    typed = raw.copy()
    for col in columns:
        text = pc.utf8_trim_whitespace(pa.array(raw[col].astype("str")))
        if col in PLAIN_INTEGER_COLUMNS:
            simple = pc.match_substring_regex(text, _PLAIN_INTEGER)
        else:
            simple = pc.match_substring_regex(text, _PLAIN_DECIMAL)
        values = pc.cast(
            pc.if_else(simple, text, pa.scalar(None, text.type)), pa.float64()
        ).to_numpy(zero_copy_only=False)
        if col not in PLAIN_INTEGER_COLUMNS:
            # Other forms ("1e0", "+4", "NaN"): whatever pandas reads as a number.
            other = ~simple.to_numpy(zero_copy_only=False)
            if other.any():
                values[other] = pd.to_numeric(
                    pd.Series(text.filter(pc.invert(simple)).to_pylist(), dtype=object),
                    errors="coerce",
                ).astype("float64")
        typed[col] = pd.Series(values, index=raw.index, dtype="float64")
    return typed


def _is_number(value: object) -> bool:
    try:
        return np.isfinite(float(str(value)))
    except ValueError:
        return False


def _reason(column: object, check: object, raw_value: object) -> str:
    got = f", got {quote(raw_value)}"
    check = str(check)
    if check == "not_nullable":
        if column in PLAIN_INTEGER_COLUMNS and _is_number(raw_value):
            return f"{column} {PLAIN_INTEGER}{got}"
        return f"{column} {MISSING}{got}"
    if check.startswith(("multiple_fields_uniqueness", "field_uniqueness")):
        return f"duplicate {column}{got}"
    if check.startswith(("coerce_dtype", "dtype")):
        return f"{column} has the wrong type{got}"
    return f"{column} {check}{got}"


def _failure_reasons(raw: pd.DataFrame, failures: pd.DataFrame) -> pd.Series:
    """Join every failure of a row into one ``; ``-separated reason per index."""
    cases = failures.dropna(subset=["index"])
    if len(cases) != len(failures):
        table = failures[failures["index"].isna()].iloc[0]
        raise ReelopsError(
            f"schema check '{table['check']}' failed on column "
            f"'{table['column']}' as a whole"
        )
    reasons: dict[int, list[str]] = {}
    for idx, column, check in zip(
        cases["index"].astype(int), cases["column"], cases["check"], strict=True
    ):
        value = raw.at[idx, column] if column in raw.columns else None
        text = _reason(column, check, value)
        bucket = reasons.setdefault(idx, [])
        if text not in bucket:
            bucket.append(text)
    return pd.Series({k: "; ".join(v) for k, v in reasons.items()}, dtype=object)


def repeated_pairs(
    typed: pd.DataFrame, seen: SeenKeys, columns: tuple[str, str]
) -> pd.Series:
    """Why rows repeat a pair of ids seen before (in ``seen`` or earlier in ``typed``).

    Only rows whose two ids are valid (positive integers below 2**31) count; their
    pairs are added to ``seen``, so that a file validated chunk by chunk, in order,
    with one ``seen``, flags the same rows as the whole file at once: every
    occurrence of a pair but the first.
    """
    first, second = (typed[c].to_numpy(dtype="float64") for c in columns)
    ok = (first > 0) & (first < ID_LIMIT) & (second > 0) & (second < ID_LIMIT)
    keys = (first[ok].astype("int64") << 31) | second[ok].astype("int64")
    repeated = seen.add(keys)
    index = typed.index[ok][repeated]
    reason = f"duplicate ({', '.join(columns)}) pair, first seen earlier in the file"
    return pd.Series(reason, index=index, dtype="str")


def _records(fields: pd.DataFrame) -> pd.Series:
    """Each row's raw fields as a JSON object (``json.dumps``, non-ASCII kept)."""
    text = fields.astype("str")
    record = pd.Series("{", index=fields.index, dtype="str")
    plain = pd.Series(True, index=fields.index)
    for k, col in enumerate(text.columns):
        key = ("" if k == 0 else ", ") + json.dumps(str(col)) + ': "'
        record = record + key + text[col] + '"'
        plain &= ~text[col].str.contains(_JSON_ESCAPED, regex=True)
    record = record + "}"
    if not plain.all():
        rows = fields.loc[~plain].astype(object).to_dict("records")
        record.loc[~plain] = pd.Series(
            [json.dumps(r, ensure_ascii=False) for r in rows],
            index=record.index[~plain],
            dtype="str",
        )
    return record


def split_valid(
    raw: pd.DataFrame,
    typed: pd.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    source: str,
    columns: Sequence[str],
    also: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``typed`` into (valid rows, quarantined rows with a reason each).

    ``raw`` is the string table the rows came from (same index); it supplies the
    line numbers and the raw values shown in reasons. ``also`` holds further
    reasons by index (e.g. :func:`repeated_pairs`), added to those of the schema
    for rows that could be parsed. ``len(valid) + len(quarantine) == len(raw)``
    always holds.

    Raises:
        ReelopsError: a check failed for a whole column rather than for rows.
    """
    from pandera.errors import SchemaErrors

    parse_errors = raw[PARSE_ERROR].astype(str)
    unparsed = parse_errors != ""
    reasons = parse_errors[unparsed].astype(object)
    candidates = typed.loc[~unparsed, list(schema.columns)]
    found = pd.Series(dtype=object)
    try:
        schema.validate(candidates, lazy=True)
    except SchemaErrors as exc:
        found = _failure_reasons(raw, exc.failure_cases)
    if also is not None and len(also):
        also = also[also.index.isin(candidates.index)]
        both = found.index.intersection(also.index)
        found.loc[both] = found.loc[both] + "; " + also.loc[both]
        found = pd.concat([found, also.drop(both)])
    reasons = pd.concat([reasons, found])
    bad = raw.index.isin(reasons.index)
    valid = typed.loc[~bad, list(columns)]
    bad_raw = raw.loc[bad]
    quarantine = pd.DataFrame(
        {
            "source": pd.Series(source, index=bad_raw.index, dtype="str"),
            "line": bad_raw[LINE].astype("int64"),
            "record": _records(bad_raw.drop(columns=[LINE, PARSE_ERROR])),
            "reason": reasons.reindex(bad_raw.index).astype("str"),
        },
        columns=QUARANTINE_COLUMNS,
    )
    return valid, quarantine.reset_index(drop=True)


def parse_rules(validation: Mapping[str, Any] | None) -> ValidationRules:
    """The ``validation`` parameters as rules (a one-line error names the key)."""
    return parse_config(ValidationRules, validation, "parameters 'validation'")


def reference_time(now: str | None) -> datetime:
    """The reference time for "future" timestamps: ``now`` if given, else the clock."""
    if now is None:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(now)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
