"""/feedback: the rules of ingestion, idempotent commits, SQLite and PostgreSQL 15.

PostgreSQL: ``REELOPS_TEST_POSTGRES_URL`` when set; otherwise the fixture starts a
throw-away cluster (``initdb`` + ``pg_ctl``, PostgreSQL 15 binaries on PATH or in
/usr/lib/postgresql/*/bin) on 127.0.0.1 and a free port, as the ``postgres`` user
when the tests run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from reelops_serving.errors import (
    FeedbackConflictError,
    FeedbackRejectedError,
    IdempotencyKeyError,
    IdempotencyKeyReusedError,
)
from reelops_serving.feedback import (
    FeedbackRecord,
    FeedbackStore,
    FeedbackValidator,
    IdempotencyKey,
    feedback_table,
)
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
    from reelops.rating_validation import validate_ratings

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


def check_idempotent_store(url: str) -> None:
    """Idempotency keys: a retry answers the first record, once, on any database."""
    store = FeedbackStore(url, clock=lambda: NOW).open()
    reader = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    key = IdempotencyKey(caller="tok-aaaaaaaaaaaa", value="2f1c0d3e-key")
    try:
        # GIVEN a rating sent without a timestamp (the server's clock: 1_650_000_000)
        first = FeedbackRecord(
            user_id=8, movie_id=20, rating=4.0, timestamp=1_650_000_000
        )
        stored, created = store.save_once(
            first, key=key, requested_timestamp=None, model_version="m:v1"
        )
        assert (stored, created) == (first, True)
        # WHEN it is retried later (the server's clock has moved on)
        retry = FeedbackRecord(
            user_id=8, movie_id=20, rating=4.0, timestamp=1_650_000_099
        )
        stored, created = store.save_once(
            retry, key=key, requested_timestamp=None, model_version="m:v1"
        )
        # THEN the retry answers the first record and nothing new is stored
        assert (stored, created) == (first, False)
        with reader.connect() as conn:
            count = conn.execute(text("SELECT count(*) FROM feedback")).scalar_one()
        assert count == 1
        # AND the same key with another rating is refused, naming both
        message = (
            "this Idempotency-Key was already used for another rating (user 8, movie "
            "20, rating 4, no timestamp), got (user 8, movie 20, rating 2.5, no "
            "timestamp): send a new key with a new rating"
        )
        other = FeedbackRecord(
            user_id=8, movie_id=20, rating=2.5, timestamp=1_650_000_099
        )
        with pytest.raises(IdempotencyKeyReusedError, match=re.escape(message)):
            store.save_once(other, key=key, requested_timestamp=None, model_version="m")
        # AND keys are per caller: another token's same key is another rating
        theirs = IdempotencyKey(caller="tok-bbbbbbbbbbbb", value=key.value)
        assert store.save_once(
            other, key=theirs, requested_timestamp=None, model_version="m"
        ) == (other, True)
        # AND a conflict stores nothing, so the key stays free for the right rating
        conflicting = FeedbackRecord(
            user_id=8, movie_id=20, rating=1.0, timestamp=1_650_000_000
        )
        fresh = IdempotencyKey(caller=key.caller, value="fresh")
        with pytest.raises(FeedbackConflictError):
            store.save_once(
                conflicting,
                key=fresh,
                requested_timestamp=1_650_000_000,
                model_version="m",
            )
        fine = FeedbackRecord(
            user_id=8, movie_id=21, rating=1.0, timestamp=1_650_000_000
        )
        assert store.save_once(
            fine, key=fresh, requested_timestamp=1_650_000_000, model_version="m"
        ) == (fine, True)
        # AND concurrent retries of one key store exactly one record
        concurrent = IdempotencyKey(caller=key.caller, value="concurrent")
        results: list[tuple[FeedbackRecord, bool]] = []

        def send(ts: int) -> None:
            record = FeedbackRecord(user_id=9, movie_id=30, rating=3.0, timestamp=ts)
            results.append(
                store.save_once(
                    record, key=concurrent, requested_timestamp=None, model_version="m"
                )
            )

        threads = [
            threading.Thread(target=send, args=(1_650_000_000 + i,)) for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(created for _, created in results) == [False] * 7 + [True]
        assert len({record for record, _ in results}) == 1
        with reader.connect() as conn:
            rows = conn.execute(
                text("SELECT count(*) FROM feedback WHERE user_id = 9")
            ).scalar_one()
        assert rows == 1
    finally:
        store.close()
        reader.dispose()


def test_idempotency_keys_are_visible_ascii_up_to_255_characters() -> None:
    assert IdempotencyKey.from_header(None, caller="c") is None
    assert IdempotencyKey.from_header("a" * 255, caller="c") == IdempotencyKey(
        caller="c", value="a" * 255
    )
    message = (
        "invalid Idempotency-Key header: expected 1 to 255 visible ASCII characters "
        "(e.g. a UUID), got {n} characters"
    )
    for value in ("", "a" * 256, "with space", "tab\t"):
        with pytest.raises(
            IdempotencyKeyError, match=re.escape(message.format(n=len(value)))
        ):
            IdempotencyKey.from_header(value, caller="c")


def test_an_existing_database_gets_the_idempotency_table(tmp_path: Path) -> None:
    # GIVEN a database made before idempotency keys, holding one rating
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = feedback_table()
    engine = create_engine(url)
    old.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            old.insert().values(
                user_id=1,
                movie_id=1,
                timestamp=1,
                rating=4.0,
                received_at=1,
                model_version="m",
            )
        )
    engine.dispose()
    # WHEN the service opens it
    store = FeedbackStore(url).open()
    record = FeedbackRecord(user_id=2, movie_id=2, rating=3.0, timestamp=2)
    key = IdempotencyKey(caller="", value="k")
    # THEN keys work, and the feedback table keeps the columns monitoring reads
    assert store.save_once(record, key=key, requested_timestamp=2, model_version="m")[1]
    store.close()
    frame = catalog_feedback(url)
    assert list(frame.columns) == [
        "user_id",
        "movie_id",
        "rating",
        "timestamp",
        "received_at",
        "model_version",
    ]
    assert len(frame) == 2


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
    # one user (every /recommend) takes the equality query: the same answers
    assert store.rated_movies([1]) == {1: {10, 11}}
    assert store.rated_movies([1, 1]) == {1: {10, 11}}
    assert store.rated_movies([3]) == {}
    assert store.rated_movies([]) == {}
    store.close()


@contextlib.contextmanager
def reads_of_rated_movies() -> Iterator[list[str]]:
    """The rated-movies queries any engine sends while the block runs."""
    reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("SELECT feedback.user_id, feedback.movie_id"):
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield reads
    finally:
        event.remove(Engine, "before_cursor_execute", count)


def test_two_workers_on_one_sqlite_file_see_each_others_ratings_at_once(
    tmp_path: Path,
) -> None:
    # GIVEN two workers on one SQLite file, one caching for an hour
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    mine = FeedbackStore(url, cache_seconds=3600).open()
    theirs = FeedbackStore(url).open()
    try:
        with reads_of_rated_movies() as reads:
            assert mine.rated_movies([1]) == {}
            assert mine.rated_movies([1]) == {}
            assert len(reads) == 1  # the second answer came from memory
            # WHEN the other worker stores a rating of user 1
            theirs.save(FeedbackRecord(1, 10, 4.0, 1), model_version="m")
            # THEN the very next lookup sees it (PRAGMA data_version)
            assert mine.rated_movies([1]) == {1: {10}}
            assert len(reads) == 2
            # AND a worker's own write is seen too, and the other's stay exact
            mine.save(FeedbackRecord(1, 11, 4.0, 2), model_version="m")
            assert mine.rated_movies([1, 2]) == {1: {10, 11}}
            assert theirs.rated_movies([1]) == {1: {10, 11}}
    finally:
        mine.close()
        theirs.close()


def test_a_cached_lookup_of_an_unreadable_database_raises(tmp_path: Path) -> None:
    (tmp_path / "a-directory.db").mkdir()
    store = FeedbackStore(
        f"sqlite:///{tmp_path / 'a-directory.db'}", cache_seconds=3600
    )
    with pytest.raises(SQLAlchemyError, match="unable to open database file"):
        store.rated_movies([1])
    store.close()


def test_sqlite_idempotency_keys(tmp_path: Path) -> None:
    check_idempotent_store(f"sqlite:///{tmp_path / 'keys.db'}")


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
        conn.execute(text("DROP TABLE IF EXISTS feedback_idempotency"))
    check_store(postgres_url)
    assert len(catalog_feedback(postgres_url)) == 3


def test_postgres_idempotency_keys(postgres_url: str) -> None:
    with create_engine(postgres_url).begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS feedback"))
        conn.execute(text("DROP TABLE IF EXISTS feedback_idempotency"))
    check_idempotent_store(postgres_url)


def test_two_workers_on_postgres_see_each_others_ratings_within_the_bound(
    postgres_url: str,
) -> None:
    with create_engine(postgres_url).begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS feedback"))
        conn.execute(text("DROP TABLE IF EXISTS feedback_idempotency"))
    # GIVEN two workers on one PostgreSQL database, one caching for 3 s
    mine = FeedbackStore(postgres_url, cache_seconds=3.0).open()
    theirs = FeedbackStore(postgres_url).open()
    try:
        assert mine.rated_movies([1]) == {}
        # WHEN the other worker stores a rating of user 1
        theirs.save(FeedbackRecord(1, 10, 4.0, 1), model_version="m")
        # THEN for up to 3 s the cache may answer what it read (the stated bound)
        assert mine.rated_movies([1]) == {}
        # AND its own writes are seen at once
        mine.save(FeedbackRecord(1, 11, 4.0, 2), model_version="m")
        assert mine.rated_movies([1]) == {1: {11}}
        # AND past the bound, everything committed is
        time.sleep(3.05)
        assert mine.rated_movies([1]) == {1: {10, 11}}
        assert theirs.rated_movies([1]) == {1: {10, 11}}
    finally:
        mine.close()
        theirs.close()


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


def test_recommend_leaves_out_a_rating_another_worker_just_stored(
    make_client: Any, tmp_path: Path
) -> None:
    # GIVEN a service on a SQLite file, whose answer for user 3 is cached
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    client = make_client(REELOPS_FEEDBACK_DB_URL=url)
    body = {"user_id": 3, "k": 5}
    top = client.post("/recommend", json=body).json()["items"][0]["movie_id"]
    assert client.post("/recommend", json=body).json()["items"][0]["movie_id"] == top
    # WHEN another worker (another store on the same file) stores a rating of it
    other_worker = FeedbackStore(url).open()
    other_worker.save(
        FeedbackRecord(user_id=3, movie_id=top, rating=1.0, timestamp=1_690_000_000),
        model_version="m",
    )
    other_worker.close()
    # THEN the very next /recommend leaves it out
    again = client.post("/recommend", json=body).json()["items"]
    assert top not in [i["movie_id"] for i in again]
    assert len(again) == 5


def lookups_unavailable(client: Any) -> float:
    found = re.search(
        r'^reelops_feedback_lookups_total\{outcome="unavailable"\} (\S+)$',
        client.get("/metrics").text,
        re.M,
    )
    return float(found.group(1)) if found else 0.0


def test_a_lookup_failure_is_counted_and_the_answer_still_given(
    make_client: Any, tmp_path: Path
) -> None:
    # GIVEN a service whose (cached) feedback database cannot be opened
    client = make_client()
    from bentoml import get_current_service

    (tmp_path / "a-directory.db").mkdir()
    get_current_service().feedback_store = FeedbackStore(
        f"sqlite:///{tmp_path / 'a-directory.db'}", cache_seconds=3600
    )
    before = lookups_unavailable(client)
    # WHEN /recommend asks for a user's rated movies
    resp = client.post("/recommend", json={"user_id": 3, "k": 5})
    # THEN it answers without the exclusions, and the failure is counted
    assert resp.status_code == 200
    assert len(resp.json()["items"]) == 5
    assert lookups_unavailable(client) == before + 1


# ------------------------------------------------------------- retries (ASGI)
def stored_rows(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT user_id, movie_id, rating, timestamp FROM feedback")
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_feedback_without_a_timestamp_needs_an_idempotency_key(client: Any) -> None:
    body = {"user_id": 1, "movie_id": 1, "rating": 4.0}
    resp = client.post("/feedback", json=body)
    assert resp.status_code == 400
    assert resp.json() == {
        "error": "feedback without a timestamp needs an Idempotency-Key header (a "
        "new UUID per rating, the same on retries), or send the timestamp"
    }
    bad = client.post("/feedback", json=body, headers={"Idempotency-Key": "a b"})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("invalid Idempotency-Key header:")


def test_a_retried_feedback_is_stored_once(make_client: Any, tmp_path: Path) -> None:
    # GIVEN a service whose clock we move
    url = f"sqlite:///{tmp_path / 'retries.db'}"
    client = make_client(REELOPS_FEEDBACK_DB_URL=url)
    from bentoml import get_current_service

    now = [1_700_000_000.0]
    get_current_service().validator._clock = lambda: now[0]
    body = {"user_id": 3, "movie_id": 1, "rating": 3.5}
    key = {"Idempotency-Key": "5b0c4a52-1b8e-4f0e-8a47-0f6b1d2c3e4f"}
    # WHEN a rating without timestamp is sent, then retried a minute later
    first = client.post("/feedback", json=body, headers=key)
    now[0] += 60
    retry = client.post("/feedback", json=body, headers=key)
    # THEN the retry answers the first record, which is stored once
    assert first.status_code == retry.status_code == 200
    assert first.json() == {**body, "timestamp": 1_700_000_000, "created": True}
    assert retry.json() == {**body, "timestamp": 1_700_000_000, "created": False}
    assert stored_rows(url) == [(3, 1, 3.5, 1_700_000_000)]
    # AND the key cannot be reused for another rating
    other = client.post("/feedback", json={**body, "rating": 1.0}, headers=key)
    assert other.status_code == 422
    assert other.json()["error"].startswith(
        "this Idempotency-Key was already used for another rating (user 3, movie 1, "
        "rating 3.5, no timestamp), got (user 3, movie 1, rating 1, no timestamp)"
    )


def test_a_feedback_committed_after_its_timeout_is_stored_once_on_retry(
    make_client: Any, tmp_path: Path
) -> None:
    # GIVEN a database slower than the service's 2 s timeout, once
    url = f"sqlite:///{tmp_path / 'slow.db'}"
    client = make_client(REELOPS_FEEDBACK_DB_URL=url)
    from bentoml import get_current_service

    service = get_current_service()
    now = [1_700_000_000.0]
    service.validator._clock = lambda: now[0]
    store = service.feedback_store
    real_save_once = store.save_once
    finished = threading.Event()

    def slow_save_once(*args: Any, **kwargs: Any) -> Any:
        store.save_once = real_save_once  # only the first call is slow
        time.sleep(2.5)
        try:
            return real_save_once(*args, **kwargs)
        finally:
            finished.set()

    store.save_once = slow_save_once
    body = {"user_id": 4, "movie_id": 1, "rating": 5.0}
    key = {"Idempotency-Key": "timeout-then-retry"}
    # WHEN the client times out (504) while the write goes on and commits
    timed_out = client.post("/feedback", json=body, headers=key)
    assert timed_out.status_code == 504
    assert finished.wait(10)
    assert stored_rows(url) == [(4, 1, 5.0, 1_700_000_000)]
    # AND it retries later with the same key
    now[0] += 30
    retry = client.post("/feedback", json=body, headers=key)
    # THEN the retry answers the committed record and stores nothing more
    assert retry.status_code == 200
    assert retry.json() == {**body, "timestamp": 1_700_000_000, "created": False}
    assert stored_rows(url) == [(4, 1, 5.0, 1_700_000_000)]
