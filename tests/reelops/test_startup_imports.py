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


# The whole `kedro` command line, plugins included: what is imported when it ends.
CLI_PROBE = """
import atexit, json, sys
heavy = json.loads(sys.argv[1])
atexit.register(
    lambda: print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(heavy))))
)
sys.argv = ["kedro", *json.loads(sys.argv[2])]
from kedro.framework.cli import main
main()
"""


def kedro_imports(*args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", CLI_PROBE, json.dumps(HEAVY), json.dumps(args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return done, json.loads(done.stdout.splitlines()[-1])


def test_kedro_registry_list_with_every_plugin_imports_no_heavy_library() -> None:
    # WHEN the real command line runs, kedro-mlflow's CLI plugin included
    done, heavy = kedro_imports("registry", "list")
    # THEN it lists the pipelines, and MLflow was never imported (reelops.startup)
    assert done.returncode == 0, done.stderr
    assert "- __default__" in done.stdout
    assert heavy == []
    assert done.stderr == ""  # nor did MLflow's type-hint notice reach the console


def test_kedro_mlflows_own_commands_still_load_when_used() -> None:
    done, heavy = kedro_imports("mlflow", "--help")
    assert done.returncode == 0, done.stderr
    assert "Use mlflow-specific commands inside kedro project." in done.stdout
    assert "mlflow" in heavy
