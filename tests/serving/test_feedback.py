"""/feedback: the rules of ingestion, idempotent commits, SQLite and PostgreSQL 15.

PostgreSQL: ``REELOPS_TEST_POSTGRES_URL`` when set; otherwise the fixture starts a
throw-away cluster (``initdb`` + ``pg_ctl``, PostgreSQL 15 binaries on PATH or in
/usr/lib/postgresql/*/bin) on 127.0.0.1 and a free port, as the ``postgres`` user
when the tests run as root.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sqlalchemy import create_engine, text

from reelops_serving.errors import FeedbackConflictError, FeedbackRejectedError
from reelops_serving.feedback import FeedbackRecord, FeedbackStore, FeedbackValidator
from tests.conftest import REPO, free_port
from tests.serving.conftest import validation_rules

NOW = 1_700_000_000.0


@pytest.fixture(scope="module")
def validator(tables: dict[str, Any]) -> FeedbackValidator:
    return FeedbackValidator(
        validation_rules(), tables["movies"]["movie_id"].to_numpy(), clock=lambda: NOW
    )


def ingestion_reason(row: dict[str, str], movies: pd.DataFrame) -> str:
    """Why ingestion quarantines ``row`` (the reelops pipeline's own node)."""
    from reelops.datasets.raw_csv import parse_csv_bytes
    from reelops.nodes.ingest import validate_ratings

    header = "userId,movieId,rating,timestamp"
    line = ",".join(row[c] for c in header.split(","))
    raw = parse_csv_bytes(
        f"{header}\n{line}\n".encode(), header.split(","), "ratings.csv"
    )
    _, quarantine = validate_ratings(raw, movies, validation_rules(), now="2023-11-14")
    return str(quarantine["reason"].iloc[0])


@pytest.mark.parametrize(
    "row",
    [
        {"userId": "1", "movieId": "1", "rating": "4.2", "timestamp": "1600000000"},
        {"userId": "-3", "movieId": "1", "rating": "4", "timestamp": "1600000000"},
        {"userId": "1", "movieId": "999999", "rating": "4", "timestamp": "1600000000"},
        {"userId": "1", "movieId": "1", "rating": "4", "timestamp": "5"},
        {"userId": "1", "movieId": "1", "rating": "4", "timestamp": "1800000000"},
        {"userId": "0", "movieId": "0", "rating": "9", "timestamp": "1"},
    ],
    ids=["off-grid", "negative-user", "unknown-movie", "too-old", "future", "all"],
)
def test_rejections_match_ingestion_word_for_word(
    validator: FeedbackValidator, tables: dict[str, Any], row: dict[str, str]
) -> None:
    expected = ingestion_reason(row, tables["movies"])
    with pytest.raises(FeedbackRejectedError) as caught:
        validator.validate(
            int(row["userId"]),
            int(row["movieId"]),
            float(row["rating"]),
            int(row["timestamp"]),
        )
    assert str(caught.value) == expected
    assert "\n" not in expected


def test_valid_feedback_gets_the_server_time_when_it_has_none(
    validator: FeedbackValidator,
) -> None:
    record = validator.validate(1, 1, 4.5, None)
    assert record == FeedbackRecord(
        user_id=1, movie_id=1, rating=4.5, timestamp=int(NOW)
    )


def check_store(url: str) -> None:
    """Idempotency, conflicts and commit-before-return, on any database."""
    store = FeedbackStore(url, clock=lambda: NOW).open()
    reader = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        record = FeedbackRecord(
            user_id=4, movie_id=10, rating=3.5, timestamp=1_650_000_000
        )
        assert store.save(record, model_version="m:v1") is True
        # committed: another connection sees it as soon as save returns
        with reader.connect() as conn:
            rows = conn.execute(
                text("SELECT user_id, rating, model_version FROM feedback")
            ).all()
        assert [tuple(r) for r in rows] == [(4, 3.5, "m:v1")]
        assert store.save(record, model_version="m:v2") is False
        message = (
            "feedback of user 4 for movie 10 at timestamp 1650000000 is already stored "
            "with rating 3.5, got 5: send another timestamp to record a new rating"
        )
        with pytest.raises(FeedbackConflictError) as caught:
            store.save(
                FeedbackRecord(
                    user_id=4, movie_id=10, rating=5.0, timestamp=1_650_000_000
                ),
                model_version="m:v1",
            )
        assert str(caught.value) == message
        assert store.save(
            FeedbackRecord(user_id=4, movie_id=10, rating=5.0, timestamp=1_650_000_001),
            model_version="m:v1",
        )
        # concurrent identical writes: exactly one creates the row
        same = FeedbackRecord(
            user_id=5, movie_id=11, rating=2.0, timestamp=1_650_000_000
        )
        results: list[bool] = []
        threads = [
            threading.Thread(
                target=lambda: results.append(store.save(same, model_version="m"))
            )
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 7 + [True]
        with reader.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM feedback")).scalar_one()
        assert count == 3
        assert store.ping()
    finally:
        store.close()
        reader.dispose()


def catalog_feedback(url: str) -> pd.DataFrame:
    """Load the ``feedback`` dataset of conf/base/catalog_serving.yml."""
    from kedro.io import DataCatalog

    entries = yaml.safe_load((REPO / "conf/base/catalog_serving.yml").read_text())
    return DataCatalog.from_config(
        {"feedback": entries["feedback"]}, credentials={"feedback_db": {"con": url}}
    ).load("feedback")


def test_the_store_tells_which_movies_each_user_rated(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}").open()
    for user, movie, ts in ((1, 10, 1), (1, 11, 2), (1, 10, 3), (2, 12, 1)):
        record = FeedbackRecord(user_id=user, movie_id=movie, rating=4.0, timestamp=ts)
        store.save(record, model_version="m:v1")
    assert store.rated_movies([1, 2, 3]) == {1: {10, 11}, 2: {12}}
    assert store.rated_movies([]) == {}
    store.close()


def test_sqlite_store_and_catalog_dataset(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'feedback.db'}"
    check_store(url)
    frame = catalog_feedback(url)
    assert list(frame.columns) == [
        "user_id",
        "movie_id",
        "rating",
        "timestamp",
        "received_at",
        "model_version",
    ]
    assert len(frame) == 3


# ----------------------------------------------------------------- PostgreSQL
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database: $REELOPS_TEST_POSTGRES_URL or a throw-away cluster."""
    if url := os.environ.get("REELOPS_TEST_POSTGRES_URL"):
        yield url
        return
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        pytest.fail(
            "PostgreSQL 15 binaries (initdb, pg_ctl) not found: install postgresql-15 "
            "or set REELOPS_TEST_POSTGRES_URL=postgresql+psycopg://user@host:port/db"
        )
    root = Path(tempfile.mkdtemp(prefix="reelops-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    run = {"capture_output": True, "timeout": 120}
    subprocess.run(
        [
            *prefix,
            initdb,
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ],
        check=True,
        **run,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *prefix,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        ],
        check=True,
        **run,
    )
    try:
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE reelops_test"))
        admin.dispose()
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/reelops_test"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


def test_postgres_store_and_catalog_dataset(postgres_url: str) -> None:
    with create_engine(postgres_url).begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS feedback"))
    check_store(postgres_url)
    assert len(catalog_feedback(postgres_url)) == 3


def test_service_stores_feedback_in_postgres(
    make_client: Any, postgres_url: str
) -> None:
    with create_engine(postgres_url).begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS feedback"))
    # A plain postgresql:// URL is served by psycopg 3.
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    client = make_client(REELOPS_FEEDBACK_DB_URL=plain)
    body = {"user_id": 42, "movie_id": 1, "rating": 5.0, "timestamp": 1_690_000_000}
    resp = client.post("/feedback", json=body)
    assert resp.status_code == 200
    assert resp.json()["created"] is True
    frame = catalog_feedback(postgres_url)
    assert frame[["user_id", "movie_id", "rating", "timestamp"]].to_dict("records") == [
        body
    ]
    assert frame["model_version"].iloc[0].startswith("reelops-recommender:")


def test_database_down_is_a_503_not_a_crash(make_client: Any) -> None:
    port = free_port()  # nothing listens there
    client = make_client(REELOPS_FEEDBACK_DB_URL=f"sqlite:///{tempfile.mkdtemp()}/f.db")
    from bentoml import get_current_service

    service = get_current_service()
    service.feedback_store = FeedbackStore(
        f"postgresql+psycopg://nobody@127.0.0.1:{port}/nothing"
    )
    resp = client.post(
        "/feedback",
        json={"user_id": 1, "movie_id": 1, "rating": 4.0, "timestamp": 1_690_000_000},
    )
    assert resp.status_code == 503
    assert "Traceback" not in resp.text
    assert "\n" not in resp.json()["error"]
    # AND /recommend still answers: only the feedback exclusions are lost
    assert client.post("/recommend", json={"user_id": 1, "k": 3}).status_code == 200


def test_recommend_leaves_out_what_the_user_rated_through_feedback(
    make_client: Any,
) -> None:
    client = make_client(REELOPS_FEEDBACK_DB_URL=f"sqlite:///{tempfile.mkdtemp()}/f.db")
    first = client.post("/recommend", json={"user_id": 3, "k": 5}).json()["items"]
    top = first[0]["movie_id"]
    unfiltered = {"user_id": 3, "k": 5, "exclude_seen": False}
    everything_before = client.post("/recommend", json=unfiltered).json()["items"]
    stored = client.post(
        "/feedback",
        json={"user_id": 3, "movie_id": top, "rating": 2.0, "timestamp": 1_690_000_000},
    )
    assert stored.status_code == 200
    again = client.post("/recommend", json={"user_id": 3, "k": 5}).json()["items"]
    assert top not in [i["movie_id"] for i in again]
    assert len(again) == 5
    batch = client.post("/recommend_batch", json={"user_ids": [3], "k": 5}).json()[
        "results"
    ][0]["items"]
    assert top not in [i["movie_id"] for i in batch]
    # exclude_seen=false asks for everything: the feedback changes nothing there
    everything = client.post("/recommend", json=unfiltered).json()["items"]
    assert everything == everything_before
