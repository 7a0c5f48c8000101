"""A real ``bentoml serve`` on 127.0.0.1: BentoML's client, raw HTTP, profiles, SIGTERM.

One server for the module (token configured, /metrics on a port of its own as in
the cluster, SQLite feedback and profiles in a temp dir, a profile flushed every 5
requests); floods of made-up paths and a 50 MB body leave its Prometheus files,
``/metrics`` and memory flat; the last test stops it with SIGTERM and checks the
graceful shutdown flushed the remaining profile rows.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bentoml
import httpx
import psutil
import pytest
import yaml

from reelops_serving.feedback import FeedbackRecord, FeedbackStore
from tests.conftest import free_port, wait_http
from tests.serving.conftest import EASE_TAG, start_server, stop_server

pytestmark = pytest.mark.slow

TOKEN = "integration-token-42"  # pragma: allowlist secret
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(
    model_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("server")
    metrics_port = free_port()
    config = root / "serving.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "environment": "dev",
                "model_tag": EASE_TAG,
                "feedback": {"url": f"sqlite:///{root / 'feedback.db'}"},
                "profiling": {
                    "path": str(root / "profiles"),
                    "flush_interval_seconds": 3600,
                    "flush_max_rows": 5,
                },
                "metrics": {"port": metrics_port, "host": "127.0.0.1"},
            }
        )
    )
    tokens = root / "tokens"
    tokens.write_text(f"{TOKEN}\n")
    env = {
        "REELOPS_SERVING_CONFIG": str(config),
        "REELOPS_API_TOKENS_FILE": str(tokens),
        "BENTOML_HOME": str(model_store),
    }
    proc, url = start_server(env, root / "server.log")
    try:
        wait_http(f"{url}/readyz", proc, timeout=240)
        yield {
            "url": url,
            "proc": proc,
            "root": root,
            "metrics_url": f"http://127.0.0.1:{metrics_port}/metrics",
            "prometheus_dir": model_store / "prometheus_multiproc_dir",
        }
    finally:
        stop_server(proc)


def profile_files(root: Path) -> list[Path]:
    return sorted((root / "profiles").rglob("requests-*"))


def test_bentoml_client_calls_every_endpoint(server: dict[str, Any]) -> None:
    with bentoml.SyncHTTPClient(server["url"], token=TOKEN, timeout=30) as client:
        assert client.is_ready()
        rec = client.recommend({"user_id": 1, "k": 3})
        assert rec["model_version"] == EASE_TAG
        assert len(rec["items"]) == 3
        batch = client.recommend_batch({"user_ids": [1, 999_999], "k": 2})
        assert [r["cold_start"] for r in batch["results"]] == [False, True]
        assert 0.5 <= client.predict({"user_id": 1, "movie_id": 1})["rating"] <= 5
        assert client.similar({"movie_id": 1, "k": 2})["title"] == "Toy Story"
        stored = client.feedback(
            {"user_id": 1, "movie_id": 1, "rating": 5.0, "timestamp": 1_700_000_000}
        )
        assert stored["created"] is True


def test_recommend_leaves_out_ratings_stored_by_any_worker(
    server: dict[str, Any],
) -> None:
    def top_movies(http: httpx.Client) -> list[int]:
        resp = http.post("/recommend", json={"user_id": 5, "k": 5}, headers=AUTH)
        assert resp.status_code == 200
        return [item["movie_id"] for item in resp.json()["items"]]

    with httpx.Client(base_url=server["url"], timeout=30) as http:
        # GIVEN user 5's recommendations, asked twice (the second from memory)
        first = top_movies(http)
        assert top_movies(http) == first
        # WHEN another worker stores a rating of the top movie in the same database
        other_worker = FeedbackStore(f"sqlite:///{server['root'] / 'feedback.db'}")
        other_worker.save(
            FeedbackRecord(5, first[0], 2.0, 1_690_000_000), model_version="m"
        )
        other_worker.close()
        # THEN the next /recommend leaves it out
        second = top_movies(http)
        assert first[0] not in second
        # AND a rating stored through this server is left out at once, too
        stored = http.post(
            "/feedback",
            json={
                "user_id": 5,
                "movie_id": second[0],
                "rating": 3.0,
                "timestamp": 1_690_000_000,
            },
            headers=AUTH,
        )
        assert stored.status_code == 200
        assert second[0] not in top_movies(http)


def test_raw_http_contract(server: dict[str, Any]) -> None:
    url = server["url"]
    with httpx.Client(base_url=url, timeout=30) as http:
        unauthorized = http.post("/recommend", json={"user_id": 1})
        assert unauthorized.status_code == 401
        assert unauthorized.json()["error"].startswith("missing bearer token")
        bad = http.post("/recommend", json={"user_id": 1, "k": "ten"}, headers=AUTH)
        assert bad.status_code == 400
        assert (
            bad.json()["error"]
            == "invalid request body: k: Input should be a valid integer"
        )
        # /predict takes an optional timestamp (EASE has no same-day term)
        pair = {"user_id": 1, "movie_id": 1}
        plain = http.post("/predict", json=pair, headers=AUTH).json()
        timed = {**pair, "timestamp": 1_700_000_000}
        assert http.post("/predict", json=timed, headers=AUTH).json() == plain
        future = http.post(
            "/predict", json={**pair, "timestamp": 4_102_444_800}, headers=AUTH
        )
        assert future.status_code == 422
        assert future.json()["error"].startswith(
            "timestamp must be at most 300 s after the server's clock (Unix seconds "
            "up to "
        )
        missing = http.post("/similar", json={"movie_id": 123456789}, headers=AUTH)
        assert missing.status_code == 404
        assert missing.json()["error"].startswith("unknown movie_id 123456789:")
        for probe in ("/healthz", "/livez", "/readyz"):
            assert http.get(probe).status_code == 200
        # /metrics (the model's git commit and run) is not on the API port...
        assert http.get("/metrics").status_code == 404
    # ...but on its own, merged across workers
    metrics = httpx.get(server["metrics_url"], timeout=30).text
    assert (
        'reelops_http_requests_total{endpoint="/recommend",method="POST",status="401"}'
        in metrics
    )
    assert f'model_tag="{EASE_TAG}"' in metrics
    # BentoML's own HTTP metrics (one label per raw path) are off
    assert "bentoml_service_request_total" not in metrics
    assert httpx.get(server["metrics_url"].replace("/metrics", "/x")).status_code == 404


def prometheus_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.db"))


def test_bogus_path_floods_leave_disk_and_metrics_flat(server: dict[str, Any]) -> None:
    # GIVEN the labels of the flood seen once: a made-up path, each method, 401
    # and 429 (callers without a key are limited per address after 20 requests)
    with httpx.Client(base_url=server["url"], timeout=30) as http:
        for _ in range(15):
            for method in ("GET", "POST", "BREW"):
                http.request(method, "/warm-up")
        disk = prometheus_bytes(server["prometheus_dir"])
        exposed = len(httpx.get(server["metrics_url"], timeout=30).content)
        # WHEN 300 requests without a key go to made-up 200-character paths
        for i in range(300):
            path = f"/{uuid.uuid4().hex}/{'x' * 160}"
            resp = http.request(("GET", "POST", f"M{i}")[i % 3], path)
            assert resp.status_code in (401, 404, 429)
    # THEN the Prometheus files and /metrics stay flat (counter digits aside)
    grown = prometheus_bytes(server["prometheus_dir"]) - disk
    exposed_grown = len(httpx.get(server["metrics_url"], timeout=30).content) - exposed
    print(f"flood of 300 made-up paths: files +{grown} B, /metrics +{exposed_grown} B")
    assert grown == 0
    assert exposed_grown < 512


def worker_rss(proc: Any) -> int:
    """Resident memory of the server's worker (the process serving requests)."""
    matching = [
        p
        for p in psutil.Process(proc.pid).children(recursive=True)
        if "_bentoml_impl.worker.service" in " ".join(p.cmdline())
    ]
    # the request profiler is the worker's child and inherits its command line
    pids = {p.pid for p in matching}
    workers = [p for p in matching if p.ppid() not in pids]
    assert len(workers) == 1, workers
    return int(workers[0].memory_info().rss)


@contextlib.contextmanager
def peak_rss(proc: Any) -> Iterator[list[int]]:
    """The worker's highest resident memory while the block runs, sampled."""
    peak = [worker_rss(proc)]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], worker_rss(proc))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def test_a_50_mb_body_is_a_413_with_flat_memory(server: dict[str, Any]) -> None:
    # GIVEN the worker's memory after a normal batch
    with httpx.Client(base_url=server["url"], timeout=120, headers=AUTH) as http:
        assert (
            http.post("/recommend_batch", json={"user_ids": [1, 2]}).status_code == 200
        )
        before = worker_rss(server["proc"])
        # WHEN an authenticated client sends 50 MB, announced and then streamed
        # (a list of 25 million ids: parsing it took the worker past 1.6 GiB)
        body = b'{"user_ids": [' + b"1," * (25 * 1024 * 1024) + b"1]}"

        def stream() -> Iterator[bytes]:
            for start in range(0, len(body), 1024 * 1024):
                yield body[start : start + 1024 * 1024]

        json_type = {"Content-Type": "application/json"}
        with peak_rss(server["proc"]) as peak:
            announced = http.post("/recommend_batch", content=body, headers=json_type)
            streamed = http.post(
                "/recommend_batch", content=stream(), headers=json_type
            )
    # THEN both are 413s and the worker's memory never grew with the body
    print(
        f"50 MB body: worker rss {before / 2**20:.0f} MiB, peak {peak[0] / 2**20:.0f} MiB"
    )
    assert announced.status_code == streamed.status_code == 413
    assert announced.json()["error"].startswith("request body too large: at most")
    assert peak[0] - before < 20 * 2**20


def test_a_profile_file_appears_after_traffic(server: dict[str, Any]) -> None:
    before = len(profile_files(server["root"]))
    with httpx.Client(base_url=server["url"], timeout=30, headers=AUTH) as http:
        for user in range(1, 6):
            assert (
                http.post("/recommend", json={"user_id": user, "k": 2}).status_code
                == 200
            )
    deadline = time.monotonic() + 30
    while len(profile_files(server["root"])) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(profile_files(server["root"])) > before


def test_sigterm_drains_and_flushes_the_last_profile(server: dict[str, Any]) -> None:
    # GIVEN requests whose profile rows are still buffered (fewer than 5)
    with httpx.Client(base_url=server["url"], timeout=30, headers=AUTH) as http:
        for _ in range(2):
            assert (
                http.post("/recommend", json={"user_id": 7, "k": 1}).status_code == 200
            )
    before = profile_files(server["root"])
    # WHEN the server is asked to stop
    code = stop_server(server["proc"], timeout=60)
    # THEN it exits cleanly and the shutdown hook wrote the buffered rows
    assert code == 0, (server["root"] / "server.log").read_text()[-3000:]
    after = profile_files(server["root"])
    # (a size-triggered flush of earlier tests' rows may land in between: more
    # than one new file under a loaded machine)
    assert len(after) > len(before)
