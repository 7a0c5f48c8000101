"""A real ``bentoml serve`` on 127.0.0.1: BentoML's client, raw HTTP, profiles, SIGTERM.

One server for the module (token configured, SQLite feedback and profiles in a temp
dir, a profile flushed every 5 requests); the last test stops it with SIGTERM and
checks the graceful shutdown flushed the remaining profile rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bentoml
import httpx
import pytest
import yaml

from tests.conftest import wait_http
from tests.serving.conftest import EASE_TAG, start_server, stop_server

pytestmark = pytest.mark.slow

TOKEN = "integration-token-42"  # pragma: allowlist secret
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def server(
    model_store: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("server")
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
        yield {"url": url, "proc": proc, "root": root}
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
        missing = http.post("/similar", json={"movie_id": 123456789}, headers=AUTH)
        assert missing.status_code == 404
        assert missing.json()["error"].startswith("unknown movie_id 123456789:")
        for probe in ("/healthz", "/livez", "/readyz"):
            assert http.get(probe).status_code == 200
        metrics = http.get("/metrics").text
        assert (
            'reelops_http_requests_total{endpoint="/recommend",method="POST",status="401"}'
            in metrics
        )
        assert f'model_tag="{EASE_TAG}"' in metrics
        assert "bentoml_service_request_duration_seconds" in metrics


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
    assert len(after) == len(before) + 1
