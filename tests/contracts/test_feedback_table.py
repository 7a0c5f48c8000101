"""One feedback table: the service writes the table monitoring reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import inspect

from reelops.datasets.feedback import FeedbackDataset
from reelops_contracts import FEEDBACK_TABLE, RATING_COLUMNS
from reelops_serving.feedback import FeedbackRecord, FeedbackStore, feedback_table

if TYPE_CHECKING:
    from pathlib import Path


def test_the_table_holds_a_ratings_columns_then_arrival_and_model() -> None:
    assert FEEDBACK_TABLE.name == "feedback"
    assert FEEDBACK_TABLE.column_names[:4] == RATING_COLUMNS
    assert FEEDBACK_TABLE.column_names[4:] == ("received_at", "model_version")
    assert FEEDBACK_TABLE.primary_key == ("user_id", "movie_id", "timestamp")


def test_the_services_sql_table_is_the_contract() -> None:
    table = feedback_table()
    assert table.name == FEEDBACK_TABLE.name
    assert tuple(c.name for c in table.columns) == FEEDBACK_TABLE.column_names
    assert tuple(c.name for c in table.primary_key.columns) == (
        FEEDBACK_TABLE.primary_key
    )
    assert [c.name for c in table.columns if c.nullable] == []


def test_what_the_service_stores_is_what_monitoring_reads(tmp_path: Path) -> None:
    # GIVEN the service's store, as it starts, with one accepted rating
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    store = FeedbackStore(url, clock=lambda: 1_700_000_123).open()
    record = FeedbackRecord(user_id=7, movie_id=3, rating=4.5, timestamp=1_650_000_000)
    assert store.save(record, model_version="reelops-recommender:v1")
    store.close()
    # WHEN the pipelines' dataset reads the same database
    frame = FeedbackDataset(credentials={"con": url}).load()
    # THEN it reads the contract's table and finds the rating
    assert list(frame.columns) == list(FEEDBACK_TABLE.column_names)
    assert frame.to_dict("records") == [
        {
            "user_id": 7,
            "movie_id": 3,
            "rating": 4.5,
            "timestamp": 1_650_000_000,
            "received_at": 1_700_000_123,
            "model_version": "reelops-recommender:v1",
        }
    ]


def test_the_table_name_is_not_a_setting(tmp_path: Path) -> None:
    # GIVEN a store opened on an empty database
    url = f"sqlite:///{tmp_path / 'feedback.db'}"
    FeedbackStore(url).open().close()
    # THEN it created exactly the contract's tables
    from sqlalchemy import create_engine

    engine = create_engine(url)
    assert sorted(inspect(engine).get_table_names()) == sorted(
        [FEEDBACK_TABLE.name, FEEDBACK_TABLE.idempotency_table]
    )
    engine.dispose()


def test_a_database_file_that_does_not_exist_is_no_feedback_yet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a SQLite URL whose file (and directory) nothing created yet
    missing = tmp_path / "data" / "01_raw" / "feedback.db"
    dataset = FeedbackDataset(credentials={"con": f"sqlite:///{missing}"})
    # WHEN loaded
    with caplog.at_level("WARNING"):
        frame = dataset.load()
    # THEN there is no row, the contract's columns, one warning, and nothing created
    assert frame.empty
    assert list(frame.columns) == list(FEEDBACK_TABLE.column_names)
    assert caplog.messages == [
        f"no feedback yet: no table 'feedback' at sqlite:///{missing} (the service "
        "creates it when it starts; POST /feedback fills it)"
    ]
    assert not missing.parent.exists()
