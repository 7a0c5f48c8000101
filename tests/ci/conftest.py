"""Fixtures of the CI checks: the bench scripts, loaded as modules."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def load_bench(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """``load_bench("monitoring")``: ``bench/monitoring.py`` as a module.

    ``bench/`` is on the path while the test runs (the scripts import each
    other), and the module is registered as ``bench_<name>`` (dataclasses look
    their module up).
    """
    monkeypatch.syspath_prepend(str(REPO / "bench"))

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(
            f"bench_{name}", REPO / "bench" / f"{name}.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, f"bench_{name}", module)
        spec.loader.exec_module(module)
        return module

    return load
