"""Property-based API tests from the OpenAPI document (schemathesis, in-process ASGI).

Every operation of ``/docs.json`` gets generated valid and invalid requests: no
answer is a 5xx, every status is documented, every body matches its schema, and
schema-violating requests are refused. Runs with a token configured, sending it:
5 operations x 2 modes x 100 cases = 1,000 cases (each asserted to have run),
plus bodies in other media types (forms, multipart, text), which must be 415s.
Rate limits are raised for the run: a 429 would answer instead of the endpoint
(schemathesis also sends each case without the token and expects a 401).

``/feedback`` answers 422 to schema-valid ratings that break a rule of ingested
data the schema cannot express (a movie outside the catalog, a future timestamp, a
rating off the configured grid), so "schema-valid data is accepted" is not checked
there; every other check is. Likewise ``/predict`` answers 422 to a timestamp more
than 300 s after the server's clock (a bound that moves with the clock), and only
those cases skip that check (and must be 422s, or 404s for a movie not in the
catalog, which is checked first).

(``schemathesis.pytest.from_fixture`` does not work with pytest 9 — it reads the
removed ``Function._nodeid`` — so the operations are driven with Hypothesis here.)
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from reelops_serving.schemas import MAX_FUTURE_SECONDS
from tests.serving.conftest import EASE_TAG, _forget_bentoml_metrics

TOKEN = "schemathesis-token-123"  # pragma: allowlist secret
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def api_schema(
    model_store: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    from reelops_serving.service import Recommender

    tmp = tmp_path_factory.mktemp("schemathesis")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REELOPS_API_TOKENS_FILE", raising=False)
        config = tmp / "serving.yaml"
        config.write_text(
            "profiling: {offload: false}\n"
            "rate_limit: {requests_per_second: 1000000, burst: 1000000, "
            "unauthenticated_per_second: 1000000, unauthenticated_burst: 1000000}\n"
        )
        mp.setenv("REELOPS_SERVING_CONFIG", str(config))
        mp.setenv("REELOPS_ENV", "local")
        mp.setenv("REELOPS_MODEL_TAG", EASE_TAG)
        mp.setenv("REELOPS_API_TOKENS", TOKEN)
        mp.setenv("REELOPS_FEEDBACK_DB_URL", f"sqlite:///{tmp / 'feedback.db'}")
        mp.setenv("REELOPS_PROFILE_PATH", str(tmp / "profiles"))
        _forget_bentoml_metrics()
        app = Recommender.to_asgi()
        yield schemathesis.openapi.from_asgi("/docs.json", app, headers=AUTH)


OPERATIONS = ["/recommend", "/recommend_batch", "/predict", "/similar", "/feedback"]
#: Cases per operation and mode: 5 x 2 x 100 = 1,000 in all.
CASES = 100
FUZZ_SETTINGS = settings(
    max_examples=CASES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def timestamp_in_the_future(body: Any) -> bool:
    """Whether ``body`` has a timestamp (``3`` or ``3.0``) past what /predict takes."""
    stamp = body.get("timestamp") if isinstance(body, dict) else None
    return (
        isinstance(stamp, int | float)
        and not isinstance(stamp, bool)
        and stamp > time.time() + MAX_FUTURE_SECONDS
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", OPERATIONS)
def test_api_conforms_to_its_openapi_document(
    api_schema: Any, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path]["POST"]
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @FUZZ_SETTINGS
    def check(case: Any) -> None:
        future = path == "/predict" and timestamp_in_the_future(case.body)
        excluded = [positive_data_acceptance] if path == "/feedback" or future else []
        response = case.call_and_validate(headers=AUTH, excluded_checks=excluded)
        statuses.append(response.status_code)
        assert response.status_code < 500
        if future and mode is GenerationMode.POSITIVE:  # 404 first: unknown movie
            assert response.status_code in (404, 422), response.text

    check()
    print(f"{path} {mode.value}: {len(statuses)} cases, {dict(Counter(statuses))}")
    assert len(statuses) >= CASES
    assert not [s for s in statuses if s >= 500]


MEDIA_TYPES = [
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
    "application/xml",
]


@pytest.mark.parametrize("path", OPERATIONS)
def test_bodies_in_other_media_types_are_415s(api_schema: Any, path: str) -> None:
    app = api_schema.app

    @given(
        media_type=st.sampled_from(MEDIA_TYPES),
        body=st.binary(max_size=256)
        | st.builds(
            lambda name, value: (
                f'--x\r\nContent-Disposition: form-data; name="{name}"'
                f"\r\n\r\n{value}\r\n--x--\r\n".encode()
            ),
            st.sampled_from(["user_id", "user_ids", "movie_id", "rating", "k"]),
            st.integers(-5, 10**6),
        ),
    )
    @settings(max_examples=40, deadline=None, derandomize=True, database=None)
    def check(media_type: str, body: bytes) -> None:
        with asgi.get_client(app) as http:
            response = http.post(
                path, data=body, headers={**AUTH, "Content-Type": media_type}
            )
        assert response.status_code == 415, response.text

    check()


def test_probes_conform_too(api_schema: Any) -> None:
    for path in ("/healthz", "/livez", "/readyz", "/metrics"):
        operation = api_schema[path]["GET"]

        @given(case=operation.as_strategy())
        @settings(max_examples=1, deadline=None, database=None)
        def check(case: Any) -> None:
            case.call_and_validate()

        check()
