"""recsys is a pure library: importing it pulls in no platform package."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("kedro", "mlflow", "bentoml", "whylogs", "hera", "reelops", "surprise")


def test_import_pulls_no_platform_package():
    code = (
        "import sys, recsys\n"
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_public_names_are_exported():
    import recsys

    assert sorted(recsys.__all__) == sorted(set(recsys.__all__))
    for name in recsys.__all__:
        assert hasattr(recsys, name), name
