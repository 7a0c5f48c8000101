"""Parameters are checked against the nodes' typed models before any node runs.

In-process on the real pipelines and parameters (one mistake at a time), then as
users meet them: ``make validate-pipelines`` and ``kedro run --params`` in a scratch
project, each a one-line error naming the file.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reelops.config import catalog_names, make_config_loader
from reelops.errors import ConfigError, PipelineSpecError
from reelops.params import check_parameters, parameter_files
from reelops.pipeline_spec import build_pipelines, load_pipeline_files
from tests.conftest import QUIET_ENV, REPO, make_project, run_kedro

TRAINING = "conf/base/parameters_training.yml"
CANDIDATES = "bias, blend, ease, hybrid, item_knn, mf, popularity"


@pytest.fixture(scope="module")
def pipelines() -> dict[str, Any]:
    files = load_pipeline_files(REPO / "pipelines")
    return build_pipelines(files, catalog_names(REPO / "conf"))


@pytest.fixture(scope="module")
def parameters() -> dict[str, Any]:
    return dict(make_config_loader(REPO / "conf", "local")["parameters"])


def test_the_committed_parameters_pass(
    pipelines: dict[str, Any], parameters: dict[str, Any]
) -> None:
    check_parameters(pipelines, parameters, parameter_files(REPO / "conf", "local"))


def _set(params: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(params)
    *path, last = dotted.split(".")
    target = changed
    for part in path:
        target = target[part]
    target[last] = value
    return changed


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        pytest.param(
            "mf.estimator.name",
            "mff",
            f"{TRAINING}: parameter 'mf.estimator': unknown estimator 'mff': expected "
            "one of ['bias', 'blend', 'ease', 'hybrid', 'item_knn', 'mf', "
            "'popularity', 'rated_ease', 'svdpp'], got 'mff'",
            id="unknown-estimator",
        ),
        pytest.param(
            "mf.estimator.params",
            {"n_factorz": 8},
            f"{TRAINING}: parameter 'mf.estimator': unknown parameter(s) "
            "['n_factorz'] for estimator 'mf' (MatrixFactorization): expected a "
            "subset of [",
            id="unknown-hyperparameter",
        ),
        pytest.param(
            "hybrid.estimator.params.ranking_estimator.params",
            {"lambda": 1},
            f"{TRAINING}: parameter 'hybrid.estimator': unknown parameter(s) "
            "['lambda'] for estimator 'rated_ease' (RatedEASE)",
            id="unknown-nested-hyperparameter",
        ),
        pytest.param(
            "selection.baseline",
            "nope",
            f"{TRAINING}: parameter 'selection.baseline': 'nope' is not a candidate "
            f"(expected one of: {CANDIDATES})",
            id="baseline-not-a-candidate",
        ),
        pytest.param(
            "selection.primry_metric",
            "rmse",
            f"{TRAINING}: parameter 'selection': unknown key 'primry_metric' "
            "(expected one of: baseline, primary_metric, secondary_metric)",
            id="typo",
        ),
        pytest.param(
            "split.seed",
            "seven",
            f"{TRAINING}: parameter 'split': key 'seed': Input should be a valid "
            "integer, unable to parse string as an integer, got 'seven'",
            id="wrong-type",
        ),
        pytest.param(
            "monitoring_window",
            7,
            "conf/base/parameters_monitoring.yml: parameter 'monitoring_window': "
            "expected a mapping for WindowConfig, got int 7",
            id="not-a-mapping",
        ),
    ],
)
def test_each_mistake_is_one_line_naming_the_file(
    pipelines: dict[str, Any],
    parameters: dict[str, Any],
    key: str,
    value: Any,
    message: str,
) -> None:
    files = parameter_files(REPO / "conf", "local")
    with pytest.raises(ConfigError) as info:
        check_parameters(pipelines, _set(parameters, key, value), files)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_a_namespace_without_parameters_names_the_file_declaring_it(
    tmp_path: Path,
) -> None:
    # GIVEN a new candidate namespace in training.yml but no parameters for it
    shutil.copytree(REPO / "pipelines", tmp_path / "pipelines")
    training = tmp_path / "pipelines" / "training.yml"
    training.write_text(
        training.read_text().replace(
            "namespaces: [popularity,", "namespaces: [mf_big, popularity,"
        )
    )
    # WHEN the pipelines are built THEN training.yml is named, not a file including it
    with pytest.raises(PipelineSpecError) as info:
        build_pipelines(
            load_pipeline_files(tmp_path / "pipelines"), catalog_names(REPO / "conf")
        )
    assert str(info.value) == (
        f"{training}: node 'mf_big.fit_candidate_node' reads parameter "
        "'mf_big.estimator' that no parameters file defines"
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("params"))


def test_validate_pipelines_catches_an_unknown_estimator(project: Path) -> None:
    params = project / TRAINING
    original = params.read_text()
    block = "popularity:\n  estimator:\n    name: popularity\n"
    assert block in original
    params.write_text(
        original.replace(block, block.replace("name: popularity", "name: popularit"))
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "reelops.pipeline_check"],
            cwd=project,
            env={**QUIET_ENV, "PATH": "/usr/bin:/bin", "HOME": str(project)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        params.write_text(original)
    assert proc.returncode == 1
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .startswith(
            f"Error: {TRAINING}: parameter 'popularity.estimator': unknown estimator "
            "'popularit'"
        )
    )


def test_a_params_typo_stops_kedro_run_before_any_work(project: Path) -> None:
    proc = run_kedro(
        project,
        "run",
        "--pipeline",
        "training",
        "--params",
        "selection.primry_metric=rmse",
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"Error: {TRAINING} + --params: parameter 'selection': "
        "unknown key 'primry_metric' "
        "(expected one of: baseline, primary_metric, secondary_metric)"
    )
    # nothing ran: no node, no MLflow run, no log
    assert proc.stdout == ""
    assert not (project / "mlflow.db").exists()
    assert not re.search(r"\[ *1/", proc.stdout)
