"""Ingestion stage: validate raw MovieLens tables into typed tables + quarantine."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from reelops._pydantic import parse_config
from reelops.raw_columns import PARSE_ERROR
from reelops.validation import (
    QUARANTINE_COLUMNS,
    ValidationRules,
    movies_schema,
    numeric_columns,
    ratings_schema,
    split_valid,
    tags_schema,
)

__all__ = [
    "collect_quarantine",
    "data_quality_tags",
    "lineage_tags",
    "summarize_ingestion",
    "validate_links",
    "validate_movies",
    "validate_ratings",
    "validate_tags",
]

_TITLE_YEAR = r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$"


def _rules(validation: dict[str, Any]) -> ValidationRules:
    return parse_config(ValidationRules, validation, "parameters 'validation'")


def _now(now: str | None) -> datetime:
    """The reference time for "future" timestamps: ``now`` if given, else the clock."""
    if now is None:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(now)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def validate_movies(
    raw_movies: pd.DataFrame, validation: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed movies (``movie_id, title, year, genres``) and their quarantine.

    The release year is parsed out of the title (``"Heat (1995)"`` -> ``Heat``, 1995);
    titles without a year keep a missing year.
    """
    rules = _rules(validation)
    typed = numeric_columns(raw_movies, ["movieId"])
    title = raw_movies["title"].str.strip()
    parts = title.str.extract(_TITLE_YEAR)
    typed["title"] = parts["name"].fillna(title).where(parts["name"] != "", title)
    typed["year"] = pd.to_numeric(parts["year"], errors="coerce").astype("float64")
    typed["genres"] = raw_movies["genres"].str.strip()
    valid, quarantine = split_valid(
        raw_movies,
        typed,
        movies_schema(rules),
        source="movies.csv",
        columns=["movieId", "title", "year", "genres"],
    )
    movies = pd.DataFrame(
        {
            "movie_id": valid["movieId"].astype("int32"),
            "title": valid["title"].astype(str),
            "year": valid["year"].astype("Int16"),
            "genres": valid["genres"].astype(str),
        }
    ).reset_index(drop=True)
    return movies, quarantine


def validate_ratings(
    raw_ratings: pd.DataFrame,
    movies: pd.DataFrame,
    validation: dict[str, Any],
    now: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed ratings (``user_id, movie_id, rating, timestamp``) and their quarantine.

    A row is quarantined for: a field that is missing or not a number, a non-positive
    or non-integer id, a rating off the configured grid, a timestamp outside
    ``[min_timestamp, max_timestamp or now]``, a movie absent from the valid movies,
    a repeated (user, movie) pair (the first occurrence stays valid), a malformed
    record or bytes that are not UTF-8.
    """
    rules = _rules(validation)
    cols = ["userId", "movieId", "rating", "timestamp"]
    schema = ratings_schema(rules, movies["movie_id"], _now(now))
    valid, quarantine = split_valid(
        raw_ratings,
        numeric_columns(raw_ratings, cols),
        schema,
        source="ratings.csv",
        columns=cols,
    )
    ratings = pd.DataFrame(
        {
            "user_id": valid["userId"].astype("int32"),
            "movie_id": valid["movieId"].astype("int32"),
            "rating": valid["rating"].astype("float32"),
            "timestamp": valid["timestamp"].astype("int64"),
        }
    ).reset_index(drop=True)
    return ratings, quarantine


def validate_tags(
    raw_tags: pd.DataFrame,
    movies: pd.DataFrame,
    validation: dict[str, Any],
    now: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed tags (``user_id, movie_id, tag, timestamp``) and their quarantine."""
    rules = _rules(validation)
    cols = ["userId", "movieId", "tag", "timestamp"]
    typed = numeric_columns(raw_tags, ["userId", "movieId", "timestamp"])
    typed["tag"] = raw_tags["tag"].str.strip()
    valid, quarantine = split_valid(
        raw_tags,
        typed,
        tags_schema(rules, movies["movie_id"], _now(now)),
        source="tags.csv",
        columns=cols,
    )
    tags = pd.DataFrame(
        {
            "user_id": valid["userId"].astype("int32"),
            "movie_id": valid["movieId"].astype("int32"),
            "tag": valid["tag"].astype(str),
            "timestamp": valid["timestamp"].astype("int64"),
        }
    ).reset_index(drop=True)
    return tags, quarantine


def validate_links(
    raw_links: pd.DataFrame, movies: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed links (``movie_id, imdb_id, tmdb_id``; tmdb may be missing)."""
    import pandera.pandas as pa

    cols = ["movieId", "imdbId", "tmdbId"]
    typed = numeric_columns(raw_links, cols)
    known = pd.Index(movies["movie_id"].unique())
    positive = pa.Check.gt(0, error="must be a positive integer")
    schema = pa.DataFrameSchema(
        {
            "movieId": pa.Column(
                float,
                [
                    positive,
                    pa.Check(
                        lambda s: s.isin(known),
                        error="must be a movie present in movies.csv",
                    ),
                ],
                unique=True,
                report_duplicates="exclude_first",
            ),
            "imdbId": pa.Column(float, positive),
            "tmdbId": pa.Column(float, positive, nullable=True),
        },
        name="links",
    )
    blank_tmdb = (raw_links["tmdbId"].str.strip() == "") & (
        raw_links[PARSE_ERROR] == ""
    )
    typed.loc[~blank_tmdb & typed["tmdbId"].isna(), "tmdbId"] = -1.0
    valid, quarantine = split_valid(
        raw_links, typed, schema, source="links.csv", columns=cols
    )
    links = pd.DataFrame(
        {
            "movie_id": valid["movieId"].astype("int32"),
            "imdb_id": valid["imdbId"].astype("int64"),
            "tmdb_id": valid["tmdbId"].astype("Int64"),
        }
    ).reset_index(drop=True)
    return links, quarantine


def collect_quarantine(
    movies_quarantine: pd.DataFrame,
    ratings_quarantine: pd.DataFrame,
    tags_quarantine: pd.DataFrame,
    links_quarantine: pd.DataFrame,
) -> pd.DataFrame:
    """One quarantine table for all sources (``source, line, record, reason``)."""
    parts = [movies_quarantine, ratings_quarantine, tags_quarantine, links_quarantine]
    return pd.concat(parts, ignore_index=True)[QUARANTINE_COLUMNS]


def summarize_ingestion(
    *,
    raw_movies: pd.DataFrame,
    raw_ratings: pd.DataFrame,
    raw_tags: pd.DataFrame,
    raw_links: pd.DataFrame,
    movies: pd.DataFrame,
    ratings: pd.DataFrame,
    tags: pd.DataFrame,
    links: pd.DataFrame,
    quarantine: pd.DataFrame,
    raw_checksums: dict[str, str],
) -> dict[str, Any]:
    """Row accounting per source: input rows = valid rows + quarantined rows."""
    pairs = {
        "movies": (raw_movies, movies),
        "ratings": (raw_ratings, ratings),
        "tags": (raw_tags, tags),
        "links": (raw_links, links),
    }
    sources: dict[str, Any] = {}
    for name, (raw, valid) in pairs.items():
        q = quarantine[quarantine["source"] == f"{name}.csv"]
        sources[name] = {
            "input_rows": len(raw),
            "valid_rows": len(valid),
            "quarantined_rows": len(q),
            "balanced": len(raw) == len(valid) + len(q),
            "sha256": raw_checksums.get(name),
            "top_reasons": q["reason"].value_counts().head(5).to_dict(),
        }
    return {
        "sources": sources,
        "balanced": all(s["balanced"] for s in sources.values()),
    }


def lineage_tags(raw_checksums: dict[str, str]) -> dict[str, str]:
    """MLflow tags: the sha256 of every raw file and one digest of them all."""
    combined = hashlib.sha256(
        "".join(f"{k}={v}\n" for k, v in sorted(raw_checksums.items())).encode()
    ).hexdigest()
    return {**{f"sha256.{k}": v for k, v in raw_checksums.items()}, "sha256": combined}


def data_quality_tags(
    ingest_report: dict[str, Any], quality: dict[str, Any]
) -> dict[str, str]:
    """MLflow tags saying whether the data passed its quality check.

    A source fails when more than ``max_quarantine_share`` of its rows were
    quarantined; promotion refuses models trained on data that failed.
    """
    limit = float(quality["max_quarantine_share"])
    tags: dict[str, str] = {}
    failed = []
    for name, source in sorted(ingest_report["sources"].items()):
        share = source["quarantined_rows"] / max(source["input_rows"], 1)
        tags[f"quarantine_share.{name}"] = f"{share:.6f}"
        if share > limit:
            failed.append(f"{name} {share:.2%} > {limit:.2%}")
    tags["quality"] = "failed" if failed else "passed"
    if failed:
        tags["quality.failures"] = "; ".join(failed)
    return tags
