"""Bodies refused before they are read: 413 over the limit, 415 when not JSON (ASGI).

The real server's memory under a 50 MB body is measured in test_server.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

MiB = 1024 * 1024
TOO_LARGE = "request body too large: at most {limit} bytes for {path}, got {got}"


def test_a_body_over_the_limit_is_a_413_before_it_is_read(client: Any) -> None:
    # GIVEN a 50 MB body announced by its Content-Length
    body = b'{"user_id": 1, "pad": "' + b"x" * (50 * MiB) + b'"}'
    # WHEN it is sent to a single-user endpoint and to the batch endpoint
    single = client.post(
        "/recommend", content=body, headers={"Content-Type": "application/json"}
    )
    batch = client.post(
        "/recommend_batch", content=body, headers={"Content-Type": "application/json"}
    )
    # THEN both are refused with a one-line 413 naming the limit of the route
    assert single.status_code == batch.status_code == 413
    assert single.json() == {
        "error": TOO_LARGE.format(limit=65536, path="/recommend", got=len(body))
    }
    assert batch.json() == {
        "error": TOO_LARGE.format(limit=MiB, path="/recommend_batch", got=len(body))
    }


def test_a_chunked_body_is_refused_once_it_passes_the_limit(client: Any) -> None:
    # GIVEN a body streamed without Content-Length, counted as it is read
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for _ in range(50):
            sent.append(1)
            yield b" " * MiB

    # WHEN it is sent to /recommend (limit 64 KiB)
    resp = client.post(
        "/recommend", content=chunks(), headers={"Content-Type": "application/json"}
    )
    # THEN it is a 413 for more than the limit
    assert resp.status_code == 413
    assert resp.json() == {
        "error": TOO_LARGE.format(limit=65536, path="/recommend", got="more than 65536")
    }


def test_bodies_within_the_limits_are_served(client: Any) -> None:
    # a batch body padded to 512 KiB is over the single limit, under the batch one
    padded = b'{"user_ids": [1, 2], "k": 2}' + b" " * (512 * 1024)
    headers = {"Content-Type": "application/json"}
    assert (
        client.post("/recommend_batch", content=padded, headers=headers).status_code
        == 200
    )
    assert client.post("/recommend", content=padded, headers=headers).status_code == 413

    def small() -> Iterator[bytes]:
        yield b'{"user_id": 1,'
        yield b' "k": 2}'

    assert (
        client.post("/recommend", content=small(), headers=headers).status_code == 200
    )


def test_the_limits_come_from_the_configuration(
    make_client: Any, tmp_path: Any
) -> None:
    config = tmp_path / "limits.yaml"
    config.write_text("profiling: {offload: false}\nlimits: {max_body_bytes: 1024}\n")
    client = make_client(REELOPS_SERVING_CONFIG=str(config))
    body = b'{"user_id": 1}' + b" " * 1024
    resp = client.post(
        "/recommend", content=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 413
    assert "at most 1024 bytes" in resp.json()["error"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # the fuzz case that was a 500: multipart without a boundary
        ("multipart/form-data", b"--x\r\n"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="user_id"\r\n\r\n1\r\n--x--\r\n',
        ),
        # a form was parsed and accepted ("1" became the integer 1)
        ("application/x-www-form-urlencoded", b"user_id=1"),
        ("text/plain", b'{"user_id": 1}'),
        ("application/vnd.bentoml+pickle", b"\x80\x05N."),
    ],
    ids=["multipart-no-boundary", "multipart", "form", "text", "pickle"],
)
def test_api_bodies_other_than_json_are_a_415(
    client: Any, content_type: str, body: bytes
) -> None:
    media_type = content_type.partition(";")[0]
    for path in ("/recommend", "/recommend_batch", "/feedback"):
        resp = client.post(path, content=body, headers={"Content-Type": content_type})
        assert resp.status_code == 415, (path, resp.text)
        assert resp.json() == {
            "error": f"unsupported Content-Type '{media_type}': send a JSON body "
            "with 'Content-Type: application/json'"
        }


def test_json_with_parameters_or_without_content_type_is_read(client: Any) -> None:
    body = b'{"user_id": 1, "k": 2}'
    for headers in (
        {"Content-Type": "application/json; charset=utf-8"},
        {"Content-Type": "Application/JSON"},
        {},
    ):
        resp = client.post("/recommend", content=body, headers=headers)
        assert resp.status_code == 200, (headers, resp.text)
    # a wrong method stays a 405, whatever its Content-Type
    assert (
        client.get("/recommend", headers={"Content-Type": "text/plain"}).status_code
        == 405
    )
