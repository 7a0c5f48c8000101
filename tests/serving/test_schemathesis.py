"""Property-based API tests from the OpenAPI document (schemathesis, in-process ASGI).

Every operation of ``/docs.json`` gets generated valid and invalid requests: no
answer is a 5xx, every status is documented, every body matches its schema, and
schema-violating requests are refused. Runs with a token configured, sending it.

``/feedback`` answers 422 to schema-valid ratings that break a rule of ingested
data the schema cannot express (a movie outside the catalog, a future timestamp, a
rating off the configured grid), so "schema-valid data is accepted" is not checked
there; every other check is.

(``schemathesis.pytest.from_fixture`` does not work with pytest 9 — it reads the
removed ``Function._nodeid`` — so the operations are driven with Hypothesis here.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

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
        config.write_text("profiling: {offload: false}\n")
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


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", OPERATIONS)
def test_api_conforms_to_its_openapi_document(
    api_schema: Any, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path]["POST"]
    excluded = [positive_data_acceptance] if path == "/feedback" else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call_and_validate(headers=AUTH, excluded_checks=excluded)
        assert response.status_code < 500

    check()


def test_probes_conform_too(api_schema: Any) -> None:
    for path in ("/healthz", "/livez", "/readyz", "/metrics"):
        operation = api_schema[path]["GET"]

        @given(case=operation.as_strategy())
        @settings(max_examples=1, deadline=None, database=None)
        def check(case: Any) -> None:
            case.call_and_validate()

        check()
