"""Ingestion stage: validate raw MovieLens tables into typed tables + quarantine."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from reelops.chunks import ChainedChunks, SplitChunks, count_rows, frames, split_chunks
from reelops.data_lineage import raw_data_sha256
from reelops.rating_validation import ratings_check
from reelops.raw_columns import PARSE_ERROR
from reelops.seen_keys import SeenKeys
from reelops.validation import (
    QUARANTINE_COLUMNS,
    movies_schema,
    numeric_columns,
    parse_rules,
    reference_time,
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
    "validate_rating_chunks",
    "validate_tag_chunks",
    "validate_tags",
]

#: Distinct quarantine reasons counted per source before the rarest are dropped.
_MAX_REASONS = 10_000

_TITLE_YEAR = r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$"


def validate_movies(
    raw_movies: pd.DataFrame, validation: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed movies (``movie_id, title, year, genres``) and their quarantine.

    The release year is parsed out of the title (``"Heat (1995)"`` -> ``Heat``, 1995);
    titles without a year keep a missing year.
    """
    rules = parse_rules(validation)
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


def validate_rating_chunks(
    raw_ratings: Iterable[pd.DataFrame],
    movies: pd.DataFrame,
    validation: dict[str, Any],
    now: str | None = None,
) -> tuple[SplitChunks, SplitChunks]:
    """Ratings validated chunk by chunk: lazy valid and quarantined rows.

    The rules of :func:`~reelops.rating_validation.validate_ratings`.

    Memory holds a chunk and the (user, movie) pairs seen so far (8 bytes each),
    not the file: each output validates the chunks as it is saved.
    """
    check = ratings_check(movies, validation, now)

    def make_check() -> Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]:
        seen = SeenKeys()
        return lambda raw: check(raw, seen)

    return split_chunks(raw_ratings, make_check)


def _tags_check(
    movies: pd.DataFrame, validation: dict[str, Any], now: str | None
) -> Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]:
    rules = parse_rules(validation)
    cols = ["userId", "movieId", "tag", "timestamp"]
    schema = tags_schema(rules, movies["movie_id"], reference_time(now))

    def check(raw_tags: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        typed = numeric_columns(raw_tags, ["userId", "movieId", "timestamp"])
        typed["tag"] = raw_tags["tag"].str.strip()
        valid, quarantine = split_valid(
            raw_tags, typed, schema, source="tags.csv", columns=cols
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

    return check


def validate_tags(
    raw_tags: pd.DataFrame,
    movies: pd.DataFrame,
    validation: dict[str, Any],
    now: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Typed tags (``user_id, movie_id, tag, timestamp``) and their quarantine."""
    return _tags_check(movies, validation, now)(raw_tags)


def validate_tag_chunks(
    raw_tags: Iterable[pd.DataFrame],
    movies: pd.DataFrame,
    validation: dict[str, Any],
    now: str | None = None,
) -> tuple[SplitChunks, SplitChunks]:
    """:func:`validate_tags` chunk by chunk: lazy valid and quarantined rows."""
    check = _tags_check(movies, validation, now)
    return split_chunks(raw_tags, lambda: check)


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
    movies_quarantine: pd.DataFrame | Iterable[pd.DataFrame],
    ratings_quarantine: pd.DataFrame | Iterable[pd.DataFrame],
    tags_quarantine: pd.DataFrame | Iterable[pd.DataFrame],
    links_quarantine: pd.DataFrame | Iterable[pd.DataFrame],
) -> ChainedChunks:
    """One quarantine for all sources (``source, line, record, reason``), lazily."""
    parts = [movies_quarantine, ratings_quarantine, tags_quarantine, links_quarantine]
    return ChainedChunks(parts, lambda frame: frame[QUARANTINE_COLUMNS])


def _quarantine_by_source(
    quarantine: pd.DataFrame | Iterable[pd.DataFrame],
) -> dict[str, tuple[int, Counter[str]]]:
    """Rows and reason counts per source, a chunk at a time.

    Reason counts are exact up to :data:`_MAX_REASONS` distinct reasons per source;
    beyond, the rarest are dropped as they come, so the top ones may be undercounted.
    """
    found: dict[str, tuple[int, Counter[str]]] = {}
    for frame in frames(quarantine):
        for source, group in frame.groupby("source", sort=False):
            rows, reasons = found.get(str(source), (0, Counter()))
            reasons.update(
                {str(k): int(v) for k, v in group["reason"].value_counts().items()}
            )
            if len(reasons) > _MAX_REASONS:
                reasons = Counter(dict(reasons.most_common(_MAX_REASONS // 2)))
            found[str(source)] = (rows + len(group), reasons)
    return found


def summarize_ingestion(
    *,
    raw_movies: pd.DataFrame | Iterable[pd.DataFrame],
    raw_ratings: pd.DataFrame | Iterable[pd.DataFrame],
    raw_tags: pd.DataFrame | Iterable[pd.DataFrame],
    raw_links: pd.DataFrame | Iterable[pd.DataFrame],
    movies: pd.DataFrame,
    ratings: pd.DataFrame | Iterable[pd.DataFrame],
    tags: pd.DataFrame | Iterable[pd.DataFrame],
    links: pd.DataFrame,
    quarantine: pd.DataFrame | Iterable[pd.DataFrame],
    raw_checksums: dict[str, str],
) -> dict[str, Any]:
    """Row accounting per source: input rows = valid rows + quarantined rows.

    Raw files are counted again, line by line, independently of validation.
    """
    pairs = {
        "movies": (raw_movies, movies),
        "ratings": (raw_ratings, ratings),
        "tags": (raw_tags, tags),
        "links": (raw_links, links),
    }
    by_source = _quarantine_by_source(quarantine)
    sources: dict[str, Any] = {}
    for name, (raw, valid) in pairs.items():
        n_raw, n_valid = count_rows(raw), count_rows(valid)
        n_quarantined, reasons = by_source.get(f"{name}.csv", (0, Counter()))
        sources[name] = {
            "input_rows": n_raw,
            "valid_rows": n_valid,
            "quarantined_rows": n_quarantined,
            "balanced": n_raw == n_valid + n_quarantined,
            "sha256": raw_checksums.get(name),
            "top_reasons": dict(
                sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            ),
        }
    return {
        "sources": sources,
        "balanced": all(s["balanced"] for s in sources.values()),
    }


def lineage_tags(raw_checksums: dict[str, str]) -> dict[str, str]:
    """MLflow tags: the sha256 of every raw file and one digest of them all."""
    combined = raw_data_sha256(raw_checksums)
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
