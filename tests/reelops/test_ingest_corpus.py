"""The corrupt-input corpus: every case behaves as tests/data/corrupt/cases.yml says."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from reelops.datasets.raw_csv import parse_csv_bytes
from reelops.errors import SchemaMismatchError
from reelops.nodes import ingest

DATA = Path(__file__).resolve().parents[1] / "data"
CASES: dict[str, dict[str, Any]] = yaml.safe_load(
    (DATA / "corrupt" / "cases.yml").read_text()
)
RULES = yaml.safe_load(
    (
        Path(__file__).resolve().parents[2] / "conf/base/parameters_data_processing.yml"
    ).read_text()
)["validation"]
COLUMNS = {
    "movies": ["movieId", "title", "genres"],
    "ratings": ["userId", "movieId", "rating", "timestamp"],
}
NOW = "2026-01-01"


def load_case(case: str) -> dict[str, pd.DataFrame]:
    frames = {}
    for name, cols in COLUMNS.items():
        path = DATA / "corrupt" / case / f"{name}.csv"
        if not path.exists():
            path = DATA / "mini" / f"{name}.csv"
        frames[name] = parse_csv_bytes(path.read_bytes(), cols, f"{name}.csv")
    return frames


def test_every_case_directory_is_documented() -> None:
    dirs = {p.name for p in (DATA / "corrupt").iterdir() if p.is_dir()}
    assert dirs == set(CASES)
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrupt_case(case: str) -> None:
    expected = CASES[case]
    if "error" in expected:
        # THEN ingestion stops with the documented one-line message
        with pytest.raises(SchemaMismatchError, match=re.escape(expected["error"])):
            load_case(case)
        return
    # GIVEN the raw tables of the case WHEN validated
    raw = load_case(case)
    movies, q_movies = ingest.validate_movies(raw["movies"], RULES)
    ratings, q_ratings = ingest.validate_ratings(raw["ratings"], movies, RULES, NOW)
    # THEN the counts are as documented and no row is lost
    assert {"movies": len(movies), "ratings": len(ratings)} == expected["valid"]
    assert {"movies": len(q_movies), "ratings": len(q_ratings)} == expected[
        "quarantined"
    ]
    assert len(raw["movies"]) == len(movies) + len(q_movies)
    assert len(raw["ratings"]) == len(ratings) + len(q_ratings)
    reasons = set(pd.concat([q_movies, q_ratings])["reason"])
    for reason in expected.get("reasons", []):
        assert reason in reasons, f"{reason!r} not in {sorted(reasons)}"
    quarantine = pd.concat([q_movies, q_ratings])
    assert (quarantine["reason"] != "").all()
    assert quarantine["line"].between(2, 10_000).all()


def test_quarantine_keeps_the_raw_record_and_line() -> None:
    raw = load_case("wrong_types")
    movies, _ = ingest.validate_movies(raw["movies"], RULES)
    _, quarantine = ingest.validate_ratings(raw["ratings"], movies, RULES, NOW)
    row = quarantine.set_index("line").loc[45]
    assert row["source"] == "ratings.csv"
    assert yaml.safe_load(row["record"]) == {
        "userId": "7",
        "movieId": "2",
        "rating": "four",
        "timestamp": "964982703",
    }


def test_valid_tables_are_typed_and_renamed() -> None:
    raw = load_case("mixed_line_endings")
    movies, _ = ingest.validate_movies(raw["movies"], RULES)
    ratings, _ = ingest.validate_ratings(raw["ratings"], movies, RULES, NOW)
    assert list(ratings.columns) == ["user_id", "movie_id", "rating", "timestamp"]
    assert [str(t) for t in ratings.dtypes] == ["int32", "int32", "float32", "int64"]
    assert list(movies.columns) == ["movie_id", "title", "year", "genres"]


def test_titles_are_split_into_name_and_year() -> None:
    raw = load_case("header_only")
    movies, _ = ingest.validate_movies(raw["movies"], RULES)
    by_id = movies.set_index("movie_id")
    assert by_id.loc[3, "title"] == "Charlie, the Return"
    assert by_id.loc[3, "year"] == 1997
    assert by_id.loc[6, "title"] == "Foxtrot Files"
    assert pd.isna(by_id.loc[6, "year"])


def test_future_bound_defaults_to_the_time_of_the_run() -> None:
    raw = load_case("bad_timestamps")
    movies, _ = ingest.validate_movies(raw["movies"], RULES)
    _, quarantine = ingest.validate_ratings(raw["ratings"], movies, RULES)
    assert len(quarantine) == 3
    assert "and 2026-01-01" not in " ".join(quarantine["reason"])


def test_bad_validation_parameters_fail_with_one_line() -> None:
    raw = load_case("header_only")
    with pytest.raises(
        Exception,
        match=re.escape(
            "parameters 'validation': unknown key 'ratings_values' (expected one of:"
            " genres, max_timestamp, max_year, min_timestamp, min_year, rating_values)"
        ),
    ):
        ingest.validate_movies(raw["movies"], {**RULES, "ratings_values": [1.0]})
