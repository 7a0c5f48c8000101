"""The contracts stay light, and serving stays free of the Kedro project."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("reelops", "kedro", "kedro_datasets", "kedro_mlflow", "mlflow", "pandera")


def loaded_after(module: str) -> set[str]:
    """Top-level modules a fresh interpreter holds after importing ``module``."""
    code = (
        f"import sys, {module}\n"
        "print('\\n'.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    return set(out.split())


def test_the_contracts_import_nothing_heavy() -> None:
    loaded = loaded_after("reelops_contracts")
    assert "pydantic" in loaded
    heavy = {"pandas", "numpy", "sqlalchemy", "pyarrow", "bentoml", *HEAVY}
    assert sorted(loaded & heavy) == []


def test_the_service_imports_no_kedro_mlflow_or_pandera() -> None:
    loaded = loaded_after("reelops_serving.service")
    assert "bentoml" in loaded and "reelops_contracts" in loaded
    assert sorted(loaded & set(HEAVY)) == []
