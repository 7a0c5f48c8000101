"""What every ``kedro`` command imports from this project stays light.

Kedro imports the settings (hence the hooks), every ``kedro.project_commands``
entry point, and, for most commands, the pipeline registry (hence every node
module) before it does anything. Each library below takes from a few hundred
milliseconds to seconds to import on a 2-core machine (``bench/startup.py``), and
is needed only once a pipeline or a command actually runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = [
    "hera",
    "matplotlib",
    "mlflow",
    "numba",
    "pandera",
    "recsys",
    "scipy",
    "sklearn",
    "whylogs",
]

# What Kedro does for `kedro registry list`, minus Kedro's own CLI and the
# third-party plugins (kedro-mlflow's entry point imports MLflow by itself).
PROBE = """
import json, sys
import reelops.settings
import reelops.promotion.cli
import kedro_hera.cli
from reelops.pipeline_registry import register_pipelines
pipelines = register_pipelines()
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[1])))
print(json.dumps({"pipelines": len(pipelines), "heavy": heavy}))
"""


def test_settings_plugins_and_pipeline_registry_import_no_heavy_library() -> None:
    # GIVEN a fresh interpreter in the project directory
    # WHEN it loads what Kedro loads before running any command
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(HEAVY)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(done.stdout.splitlines()[-1])
    # THEN every pipeline is built and none of the heavy libraries is imported
    assert report["pipelines"] > 1
    assert report["heavy"] == []
