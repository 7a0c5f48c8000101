"""Hyperparameters are stated in config, and tuning reaches it only through a diff.

``parameters_training.yml`` names every hyperparameter of every candidate (no
estimator default decides a value a reviewer cannot see), and ``make tuned`` is the
one, explicit, step by which the tuning pipeline's proposal changes them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from recsys import make_estimator
from reelops.config import make_config_loader
from reelops.errors import ConfigError
from reelops.tuned import apply_tuned
from tests.conftest import REPO

TRAINING = REPO / "conf/base/parameters_training.yml"
#: The committed candidates: the namespaces of pipelines/training.yml.
CANDIDATES = [
    namespace
    for instance in yaml.safe_load((REPO / "pipelines/training.yml").read_text())[
        "instances"
    ]
    for namespace in instance["namespaces"]
]
#: Nested estimator specs, checked recursively; random_state comes from `seed`.
NESTED = {"estimators", "rating_estimator", "ranking_estimator"}


def unstated(spec: dict[str, Any], where: str) -> list[str]:
    """Hyperparameters of ``spec``'s estimator that the spec leaves to a default."""
    params = spec.get("params") or {}
    expected = make_estimator(spec["name"], {}).get_params(deep=False)
    missing = [
        f"{where}.{key}"
        for key in sorted(expected)
        if key != "random_state" and key not in params
    ]
    for key in NESTED & set(params):
        value = params[key]
        for i, inner in enumerate(value if isinstance(value, list) else [value]):
            missing += unstated(inner, f"{where}.{key}[{i}]")
    return missing


@pytest.fixture(scope="module")
def parameters() -> dict[str, Any]:
    return dict(make_config_loader(REPO / "conf", "local")["parameters"])


@pytest.mark.parametrize("candidate", CANDIDATES)
def test_every_hyperparameter_is_stated_in_config(
    parameters: dict[str, Any], candidate: str
) -> None:
    assert unstated(parameters[candidate]["estimator"], candidate) == []


def test_the_blend_and_the_hybrid_reuse_the_candidates_values(
    parameters: dict[str, Any],
) -> None:
    blend = parameters["blend"]["estimator"]["params"]["estimators"]
    assert blend[1] == parameters["mf"]["estimator"]
    hybrid = parameters["hybrid"]["estimator"]["params"]
    assert hybrid["ranking_estimator"] == parameters["ease"]["estimator"]
    assert hybrid["rating_estimator"] == parameters["blend"]["estimator"]


def test_the_proposal_sets_values_in_place_and_keeps_comments() -> None:
    # GIVEN the committed parameters and a proposal for two searched estimators
    before = TRAINING.read_text()
    proposal = {
        "tuned_params": {"rated_ease": {"lambda_reg": 50.0}, "mf": {"reg": 0.05}}
    }
    # WHEN it is applied
    after, changes = apply_tuned(before, proposal)
    # THEN exactly those two lines change, comments included
    assert sorted(changes) == [
        ("ease", "lambda_reg", 25.0, 50.0),
        ("mf", "reg", 0.08, 0.05),
    ]
    diff = [
        (a, b)
        for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
        if a != b
    ]
    assert diff == [
        (
            "      reg: 0.08                 # L2 on the factors",
            "      reg: 0.05                 # L2 on the factors",
        ),
        (
            "      lambda_reg: 25.0          # L2 of the item-item closed form",
            "      lambda_reg: 50.0          # L2 of the item-item closed form",
        ),
    ]
    # and the blend's MF follows the mf candidate (it is an interpolation)
    assert "${mf.estimator}" in after
    # applying it again changes nothing
    assert apply_tuned(after, proposal) == (after, [])


@pytest.mark.parametrize(
    ("proposal", "message"),
    [
        (
            {"tuned_params": {"svdpp": {"n_factors": 8}}},
            "tuning proposal: no candidate of parameters_training.yml uses estimator "
            "'svdpp' (expected one of: bias, blend, hybrid, item_knn, mf, "
            "popularity, rated_ease)",
        ),
        (
            {"best": {}},
            "tuning proposal: expected a mapping 'tuned_params' of estimator name to "
            "hyperparameters, got {'best': {}}",
        ),
    ],
)
def test_a_bad_proposal_is_one_line(proposal: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        apply_tuned(TRAINING.read_text(), proposal)


def run_tuned(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelops.tuned"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_make_tuned_prints_the_diff_it_wrote(tmp_path: Path) -> None:
    # GIVEN a project with a tuning proposal
    (tmp_path / "conf/base").mkdir(parents=True)
    params = tmp_path / "conf/base/parameters_training.yml"
    params.write_text(TRAINING.read_text())
    assert run_tuned(tmp_path).stderr == (
        "Error: no tuning proposal at data/08_reporting/tuning/tuned_parameters.yml: "
        "run `kedro run --pipeline tuning` first\n"
    )
    proposal = tmp_path / "data/08_reporting/tuning/tuned_parameters.yml"
    proposal.parent.mkdir(parents=True)
    proposal.write_text(yaml.safe_dump({"tuned_params": {"bias": {"reg_user": 7.5}}}))
    # WHEN `make tuned` runs
    done = run_tuned(tmp_path)
    # THEN the file holds the value and the diff was printed for review
    assert done.returncode == 0, done.stderr
    assert "-      reg_user: 15.0\n+      reg_user: 7.5\n" in done.stdout
    assert done.stdout.endswith(
        "1 value(s) changed in conf/base/parameters_training.yml: review the diff, "
        "then commit it in a pull request\n"
    )
    assert (
        yaml.safe_load(params.read_text())["bias"]["estimator"]["params"]["reg_user"]
        == 7.5
    )
