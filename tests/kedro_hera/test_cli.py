"""The kedro argo commands, through click and through the real kedro CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project

from kedro_hera.cli import commands

from .conftest import BASIC, FIXED_SHA, LEAKY, MINIMAL


def _invoke(project: Path, *args: str) -> Any:
    return CliRunner().invoke(commands, ["argo", *args], obj=bootstrap_project(project))


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*.yaml"))
    }


def test_commands_is_a_group_holding_argo() -> None:
    assert "argo" in commands.commands
    assert set(commands.commands["argo"].commands) == {  # type: ignore[attr-defined]
        "compile",
        "check",
        "image",
        "lint",
        "submit",
        "init-run",
        "end-run",
    }


def test_compile_writes_every_env_and_reports_pod_counts(basic_copy: Path) -> None:
    # GIVEN an empty argo/ directory
    golden = _tree(basic_copy / "argo")
    for path in (basic_copy / "argo").rglob("*.yaml"):
        path.unlink()
    # WHEN compiling every env
    result = _invoke(basic_copy, "compile", "--all-envs")
    # THEN the golden files come back and the report shows nodes vs tasks
    assert result.exit_code == 0, result.output
    assert _tree(basic_copy / "argo") == golden
    assert (
        "prod         train                            7     3  argo/prod/train.yaml"
        in (result.output)
    )
    assert "4 WorkflowTemplate(s) and 2 CronWorkflow(s) for env(s) prod, staging" in (
        result.output
    )


def test_compile_twice_changes_nothing(basic_copy: Path) -> None:
    result = _invoke(basic_copy, "compile", "--env", "prod", "--env", "staging")
    assert result.exit_code == 0, result.output
    assert "0 file(s) changed." in result.output


def test_compile_prunes_files_no_longer_generated(basic_copy: Path) -> None:
    leftover = basic_copy / "argo" / "staging" / "prepare.yaml"
    leftover.write_text((basic_copy / "argo" / "staging" / "train.yaml").read_text())
    hand_written = basic_copy / "argo" / "staging" / "notes.yaml"
    hand_written.write_text("kept: true\n")
    result = _invoke(basic_copy, "compile", "--env", "staging")
    assert result.exit_code == 0, result.output
    assert not leftover.exists()
    assert hand_written.exists()
    # AND compiling every env removes the files of an env that is gone
    gone = basic_copy / "argo" / "qa" / "train.yaml"
    gone.parent.mkdir()
    gone.write_text((basic_copy / "argo" / "staging" / "train.yaml").read_text())
    assert _invoke(basic_copy, "compile").exit_code == 0
    assert not gone.exists()


def test_compile_of_one_pipeline_keeps_the_others(basic_copy: Path) -> None:
    result = _invoke(basic_copy, "compile", "--env", "prod", "--pipeline", "prepare")
    assert result.exit_code == 0, result.output
    assert (basic_copy / "argo" / "prod" / "train.yaml").exists()


def test_env_and_all_envs_are_exclusive(basic_copy: Path) -> None:
    result = _invoke(basic_copy, "compile", "--env", "prod", "--all-envs")
    assert result.exit_code == 2
    assert "use either --env or --all-envs, not both" in result.output


def test_preflight_failure_is_a_one_line_click_error() -> None:
    result = _invoke(LEAKY, "compile", "--env", "dev")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: pipeline 'leaky': dataset 'features' flows from task "
        "'build-features-node' to task 'train-model-node' but is a MemoryDataset in the "
        "catalog of env 'dev'; expected a persisted dataset"
    ]


def test_check_passes_then_names_the_stale_file(basic_copy: Path) -> None:
    assert _invoke(basic_copy, "check").exit_code == 0
    params = basic_copy / "conf" / "base" / "parameters_train.yml"
    params.write_text(params.read_text().replace("top_k: 10", "top_k: 12"))
    result = _invoke(basic_copy, "check")
    assert result.exit_code == 1
    assert (
        "Error: argo/ is out of date (stale: argo/prod/__default__.yaml, "
        "argo/prod/train.yaml, argo/staging/train.yaml); run `kedro argo compile`"
    ) in result.output
    assert "+      value: '12'" in result.output


def test_check_names_missing_and_extra_files(basic_copy: Path) -> None:
    (basic_copy / "argo" / "staging" / "train.yaml").rename(
        basic_copy / "argo" / "staging" / "old.yaml"
    )
    result = _invoke(basic_copy, "check", "--env", "staging")
    assert result.exit_code == 1
    assert (
        "(missing: argo/staging/train.yaml; extra: argo/staging/old.yaml)"
        in result.output
    )


def test_lint_passes_with_and_without_schema(
    basic_copy: Path, schema_path: Path
) -> None:
    without = _invoke(basic_copy, "lint")
    assert without.exit_code == 0, without.output
    assert "schema validation skipped" in without.output
    result = _invoke(basic_copy, "lint", "--schema", str(schema_path))
    assert result.exit_code == 0, result.output
    assert "argo/: every manifest is valid." in result.output


def test_lint_reports_problems(basic_copy: Path, schema_path: Path) -> None:
    path = basic_copy / "argo" / "prod" / "prepare.yaml"
    path.write_text(path.read_text().replace("limit: '2'", "limit: 2"))
    result = _invoke(basic_copy, "lint", "--schema", str(schema_path))
    assert result.exit_code == 1
    assert (
        "argo/prod/prepare.yaml: spec.templates[1].retryStrategy.limit: 2 is not of type 'string'"
        in result.output
    )
    assert result.output.rstrip().endswith("manifest(s) of argo/")


@pytest.mark.slow
def test_real_kedro_cli_compiles_and_checks(basic_copy: Path) -> None:
    # GIVEN the plugin installed through its entry point
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "KEDRO_HERA_GIT_SHA": FIXED_SHA,
    }
    kedro = Path(sys.executable).parent / "kedro"
    golden = _tree(BASIC / "argo")
    for path in (basic_copy / "argo").rglob("*.yaml"):
        path.unlink()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(kedro), "argo", *args],
            cwd=basic_copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    # WHEN `kedro argo compile` runs in the project THEN it writes the golden files
    compiled = run("compile")
    assert compiled.returncode == 0, compiled.stderr
    assert _tree(basic_copy / "argo") == golden
    # AND a stale file makes check fail (the passing case is covered in-process)
    stale = basic_copy / "argo" / "prod" / "prepare.yaml"
    stale.write_text(stale.read_text() + "# edited\n")
    failed = run("check")
    assert failed.returncode == 1
    assert "stale: argo/prod/prepare.yaml" in failed.stderr


def test_project_without_argo_config_fails_compile_and_check(tmp_path: Path) -> None:
    # GIVEN a project none of whose envs has an argo.yml
    project = tmp_path / "bare"
    shutil.copytree(
        MINIMAL, project, ignore=shutil.ignore_patterns("__pycache__", "argo*")
    )
    for command in ("compile", "check"):
        result = _invoke(project, command)
        assert result.exit_code == 1, command
        assert "has an argo.yml; expected conf/<env>/argo.yml" in result.output
