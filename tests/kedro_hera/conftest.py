"""Shared fixtures of the kedro-hera tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import argo_schema

FIXTURES = Path(__file__).parent / "fixtures"
BASIC = FIXTURES / "basic"
LEAKY = FIXTURES / "leaky"
MINIMAL = FIXTURES / "minimal"
# Low entropy on purpose: detect-secrets flags random-looking hex strings.
FIXED_SHA = "deadbeef" * 5


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # GIVEN no telemetry, a fixed git SHA and no ambient Argo or image settings
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("KEDRO_HERA_GIT_SHA", FIXED_SHA)
    for name in (
        "KEDRO_HERA_IMAGE_TAG",
        "ARGO_SERVER",
        "ARGO_TOKEN",
        "ARGO_NAMESPACE",
        "ARGO_SECURE",
        "ARGO_INSECURE_SKIP_VERIFY",
        "KEDRO_HERA_ARGO_SCHEMA",
    ):
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
def basic_copy(tmp_path: Path) -> Path:
    """A throw-away copy of the basic fixture project (argo/ included)."""
    target = tmp_path / "basic"
    shutil.copytree(BASIC, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.fixture
def schema_path() -> Path:
    return argo_schema()
