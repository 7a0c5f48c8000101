"""The corrupt-input corpus: every case behaves as tests/data/corrupt/cases.yml says."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from reelops.datasets.raw_csv import RawCSVDataset, parse_csv_bytes
from reelops.errors import SchemaMismatchError
from reelops.nodes import ingest
from reelops.rating_validation import validate_ratings

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


def case_file(case: str, name: str) -> Path:
    path = DATA / "corrupt" / case / f"{name}.csv"
    return path if path.exists() else DATA / "mini" / f"{name}.csv"


def load_case(case: str) -> dict[str, pd.DataFrame]:
    return {
        name: parse_csv_bytes(case_file(case, name).read_bytes(), cols, f"{name}.csv")
        for name, cols in COLUMNS.items()
    }


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
    ratings, q_ratings = validate_ratings(raw["ratings"], movies, RULES, NOW)
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


@pytest.mark.parametrize(
    "case", sorted(c for c, expected in CASES.items() if "error" not in expected)
)
def test_chunk_by_chunk_validation_flags_the_same_rows(case: str) -> None:
    # GIVEN the case's ratings read as the pipeline reads them, 5 records a chunk
    # (so that a pair repeated in a later chunk is one seen in an earlier chunk)
    raw = load_case(case)
    movies, _ = ingest.validate_movies(raw["movies"], RULES)
    chunks = RawCSVDataset(
        filepath=str(case_file(case, "ratings")),
        columns=COLUMNS["ratings"],
        chunk_rows=5,
    ).load()
    # WHEN each output is validated as it is consumed
    valid, quarantine = ingest.validate_rating_chunks(chunks, movies, RULES, NOW)
    chunked = [pd.concat(list(side), ignore_index=True) for side in (valid, quarantine)]
    # THEN both sides equal those of the whole file, and no row is lost
    whole = validate_ratings(raw["ratings"], movies, RULES, NOW)
    pd.testing.assert_frame_equal(chunked[0], whole[0])
    pd.testing.assert_frame_equal(chunked[1], whole[1])
    assert len(chunks) == len(raw["ratings"]) == len(chunked[0]) + len(chunked[1])


def test_an_unclosed_quote_quarantines_its_line_only() -> None:
    # GIVEN a rating and a movie whose quote does not close on their line
    raw = load_case("unclosed_quote")
    movies, q_movies = ingest.validate_movies(raw["movies"], RULES)
    _, q_ratings = validate_ratings(raw["ratings"], movies, RULES, NOW)
    # THEN each is quarantined with its raw text and line, and the next line is valid
    reason = "unclosed quote (a quoted field must end on its own line)"
    assert q_ratings[["line", "reason"]].values.tolist() == [[44, reason]]
    assert json.loads(q_ratings.at[0, "record"])["userId"] == '7,2,"4.0,964982703'
    assert q_movies[["line", "reason"]].values.tolist() == [[14, reason]]
    assert movies.set_index("movie_id").at[14, "title"] == "November Rain"


def test_an_oversized_record_is_quarantined_with_its_first_bytes() -> None:
    raw = load_case("oversized_field")
    movies, _ = ingest.validate_movies(raw["movies"], RULES)
    _, quarantine = validate_ratings(raw["ratings"], movies, RULES, NOW)
    record = json.loads(quarantine.at[0, "record"])["userId"]
    assert quarantine.at[0, "line"] == 44
    assert record == "7,2,4.0," + "9" * 192 + "\u2026"


def test_reasons_cut_long_values() -> None:
    # GIVEN a timestamp of 1,000 digits (a line under the record limit)
    header = ",".join(COLUMNS["ratings"])
    data = f"{header}\n1,1,4.0,{'9' * 1000}\n".encode()
    raw = parse_csv_bytes(data, COLUMNS["ratings"], "ratings.csv")
    movies, _ = ingest.validate_movies(load_case("header_only")["movies"], RULES)
    # WHEN validated THEN the reason quotes the first 40 characters and the length
    _, quarantine = validate_ratings(raw, movies, RULES, NOW)
    assert quarantine.at[0, "reason"] == (
        "timestamp must be a unix time between 1995-01-01 and 2026-01-01, got "
        f"{'9' * 40!r}... (1000 characters)"
    )


def test_quarantine_keeps_the_raw_record_and_line() -> None:
    raw = load_case("wrong_types")
    movies, _ = ingest.validate_movies(raw["movies"], RULES)
    _, quarantine = validate_ratings(raw["ratings"], movies, RULES, NOW)
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
    ratings, _ = validate_ratings(raw["ratings"], movies, RULES, NOW)
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
    _, quarantine = validate_ratings(raw["ratings"], movies, RULES)
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
