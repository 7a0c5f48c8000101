"""CI/CD workflows: valid for actionlint, and every step they run is a make target."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO, VENV_BIN

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
MAKE_STEP = re.compile(
    r"^make (?P<target>[a-z][a-z0-9-]*)(?: [A-Z_]+=(?:\$\{\{ [a-z.]+ \}\}|\S+))*$"
)


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, flags=re.MULTILINE))


def run_steps() -> list[tuple[str, str]]:
    steps = []
    for path in WORKFLOWS:
        doc = yaml.safe_load(path.read_text())
        for job in doc["jobs"].values():
            steps += [(path.name, s["run"]) for s in job["steps"] if "run" in s]
    return steps


def test_the_three_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {"pull-request.yml", "main.yml", "deploy.yml"}


def test_actionlint_passes() -> None:
    proc = subprocess.run(
        [str(VENV_BIN / "actionlint"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("workflow", "command"), run_steps())
def test_every_run_step_is_a_make_target(workflow: str, command: str) -> None:
    match = MAKE_STEP.match(command.strip())
    assert match, f"{workflow}: `{command}` is not a make target"
    assert match["target"] in make_targets(), (
        f"{workflow}: no make target {match['target']}"
    )


def test_every_workflow_target_runs_in_ci_or_in_a_test() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    used = {MAKE_STEP.match(c.strip())["target"] for _, c in run_steps()}
    # promote-prod and promote-sync run the same `kedro promote` code paths that
    # tests/promotion exercises in-process; the rest run in .ci/run as they are.
    exercised_by_tests = {"promote-prod", "promote-sync"}
    missing = {t for t in used if f"make {t}" not in ci} - exercised_by_tests
    assert not missing, f"targets CI never runs: {sorted(missing)}"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("promote-staging", "kedro promote --to staging"),
        ("promote-prod", "kedro promote --to prod"),
        ("promote-sync", "kedro promote --sync"),
        ("rollback ENV=prod", "kedro promote --rollback prod"),
    ],
)
def test_promotion_targets_call_kedro_promote(target: str, expected: str) -> None:
    proc = subprocess.run(
        ["make", "-n", *target.split()],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert expected in proc.stdout
