"""Schedules with ``then``: run a pipeline, check, conditionally submit another.

The golden file is ``fixtures/basic/argo/prod/cron-weekly-prepare.yaml``: the
``weekly-prepare`` schedule runs ``prepare``, then ``python -m
kh_basic.should_train``, and submits ``train`` when the check prints ``yes``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kedro_hera._build import WORKFLOW_FAILED, WORKFLOW_SUCCEEDED
from kedro_hera.compile import CompileResult, compile_project
from kedro_hera.config import parse_config
from kedro_hera.errors import ConfigError, PreflightError
from kedro_hera.image import content_tag
from kedro_hera.lint import SchemaLinter, hera_round_trip

from .conftest import BASIC, FIXED_SHA

CRON = "prod/cron-weekly-prepare.yaml"


@pytest.fixture(scope="module")
def prod_result() -> CompileResult:
    return compile_project(BASIC, envs=["prod"], sha=FIXED_SHA)


def _doc(result: CompileResult, path: str = CRON) -> dict:
    (manifest,) = [m for m in result.manifests if m.path == path]
    return yaml.safe_load(manifest.text)


def _templates(doc: dict) -> dict[str, dict]:
    return {t["name"]: t for t in doc["spec"]["workflowSpec"]["templates"]}


def _add_schedule(project: Path, text: str) -> None:
    prod = project / "conf" / "prod" / "argo.yml"
    prod.write_text(prod.read_text().replace("schedules:\n", f"schedules:\n{text}", 1))


def test_follow_up_is_a_dag_run_check_submit(prod_result: CompileResult) -> None:
    # GIVEN the weekly-prepare schedule with `then: {submit: train, ...}`
    spec = _doc(prod_result)["spec"]["workflowSpec"]
    # THEN its workflow runs its own DAG (no template reference) ...
    assert "workflowTemplateRef" not in spec
    assert spec["entrypoint"] == "main"
    tasks = {
        t["name"]: t for t in _templates(_doc(prod_result))["main"]["dag"]["tasks"]
    }
    assert list(tasks) == ["run-prepare", "check", "submit-train"]
    assert tasks["check"]["dependencies"] == ["run-prepare"]
    # ... and submits train only when the check printed exactly `yes`
    assert tasks["submit-train"]["dependencies"] == ["check"]
    assert tasks["submit-train"]["when"] == (
        "'{{tasks.check.outputs.result}}' == 'yes'"
    )
    # AND the workflow-level settings of the env still apply
    assert spec["serviceAccountName"] == "kh-basic-runner"
    assert spec["podGC"]["strategy"] == "OnPodCompletion"


def test_run_step_creates_the_template_workflow_and_waits(
    prod_result: CompileResult,
) -> None:
    run = _templates(_doc(prod_result))["run-prepare"]["resource"]
    assert run["action"] == "create"
    assert run["setOwnerReference"] is True
    assert run["successCondition"] == WORKFLOW_SUCCEEDED
    assert run["failureCondition"] == WORKFLOW_FAILED
    child = yaml.safe_load(run["manifest"])
    assert child["kind"] == "Workflow"
    assert child["metadata"]["generateName"] == "kh-basic-prepare-"
    assert child["metadata"]["namespace"] == "kh-basic-prod"
    assert child["metadata"]["labels"] == {"kedro-hera/schedule": "weekly-prepare"}
    assert child["spec"] == {"workflowTemplateRef": {"name": "kh-basic-prepare"}}


def test_check_runs_in_the_image_with_the_env(prod_result: CompileResult) -> None:
    check = _templates(_doc(prod_result))["check"]["container"]
    tag = content_tag(BASIC, ["src", "pyproject.toml"])
    assert check["image"] == f"registry.example.com/kh-basic:{tag}"
    assert check["command"] == ["python", "-m", "kh_basic.should_train"]
    env = {e["name"]: e for e in check["env"]}
    assert env["KEDRO_ENV"]["value"] == "prod"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == (
        "kh-basic-s3"
    )
    assert check["resources"] == {
        "limits": {"memory": "1Gi"},
        "requests": {"cpu": "100m", "memory": "256Mi"},
    }


def test_submit_step_passes_the_follow_up_params_and_does_not_wait(
    prod_result: CompileResult,
) -> None:
    submit = _templates(_doc(prod_result))["submit-train"]["resource"]
    assert "successCondition" not in submit
    assert "setOwnerReference" not in submit
    child = yaml.safe_load(submit["manifest"])
    assert child["spec"]["workflowTemplateRef"] == {"name": "kh-basic-train"}
    assert child["spec"]["arguments"]["parameters"] == [
        {"name": "candidates__popularity__top_k", "value": "30"}
    ]


def test_follow_up_cron_is_schema_valid_and_round_trips(
    prod_result: CompileResult, schema_path: Path
) -> None:
    doc = _doc(prod_result)
    assert SchemaLinter(schema_path).validate(doc) == []
    assert hera_round_trip(doc) == []
    for template in ("run-prepare", "submit-train"):
        child = yaml.safe_load(_templates(doc)[template]["resource"]["manifest"])
        assert SchemaLinter(schema_path).validate(child) == []


def test_follow_up_is_built_when_only_its_schedule_pipeline_is_compiled() -> None:
    result = compile_project(BASIC, envs=["prod"], pipelines=["prepare"], sha=FIXED_SHA)
    assert _templates(_doc(result))["submit-train"]["resource"]["action"] == "create"


def test_wait_makes_the_submit_step_wait(basic_copy: Path) -> None:
    _add_schedule(
        basic_copy,
        "  - name: waiting\n    pipeline: prepare\n    cron: '0 5 * * *'\n"
        "    then: {submit: train, check: [echo, 'true'], wait: true}\n",
    )
    result = compile_project(basic_copy, envs=["prod"], sha=FIXED_SHA)
    templates = _templates(_doc(result, "prod/cron-waiting.yaml"))
    submit = templates["submit-train"]["resource"]
    assert submit["successCondition"] == WORKFLOW_SUCCEEDED
    assert submit["failureCondition"] == WORKFLOW_FAILED
    tasks = templates["main"]["dag"]["tasks"]
    assert tasks[-1]["when"] == "'{{tasks.check.outputs.result}}' == 'true'"


def test_when_takes_a_list_of_outputs(basic_copy: Path) -> None:
    # GIVEN a follow-up submitted when the check prints either of two words
    _add_schedule(
        basic_copy,
        "  - name: either\n    pipeline: prepare\n    cron: '0 5 * * *'\n"
        "    then: {submit: train, check: [echo, go], when: [go, go_loud],\n"
        "           metric: {name: either, help: h, results: [go, go_loud, stop]}}\n",
    )
    result = compile_project(basic_copy, envs=["prod"], sha=FIXED_SHA)
    # THEN the submit step runs on either, and on nothing else
    tasks = _templates(_doc(result, "prod/cron-either.yaml"))["main"]["dag"]["tasks"]
    assert tasks[-1]["when"] == (
        "'{{tasks.check.outputs.result}}' == 'go' || "
        "'{{tasks.check.outputs.result}}' == 'go_loud'"
    )


def test_without_a_metric_the_check_emits_none(prod_result: CompileResult) -> None:
    assert "metrics" not in _templates(_doc(prod_result))["check"]


def test_metric_exports_each_result_of_the_check_as_a_gauge(
    basic_copy: Path, schema_path: Path
) -> None:
    # GIVEN a schedule whose check prints yes or no, with a metric
    _add_schedule(
        basic_copy,
        "  - name: gauged\n    pipeline: prepare\n    cron: '0 5 * * *'\n"
        "    then:\n      submit: train\n      check: [echo, 'yes']\n"
        "      when: 'yes'\n"
        "      metric: {name: kh_check, help: Last verdict., results: ['yes', 'no']}\n",
    )
    # WHEN the project is compiled
    doc = _doc(
        compile_project(basic_copy, envs=["prod"], sha=FIXED_SHA),
        "prod/cron-gauged.yaml",
    )
    check = _templates(doc)["check"]
    # THEN every successful run sets the gauge of each result to 1 or 0 ...
    common = [
        {"key": "schedule", "value": "gauged"},
        {"key": "namespace", "value": "{{workflow.namespace}}"},
    ]
    ok = "'{{status}}' == 'Succeeded'"
    expected = [
        {
            "name": "kh_check",
            "help": "Last verdict.",
            "labels": [*common, {"key": "result", "value": result}],
            "when": f"{ok} && '{{{{outputs.result}}}}' {operator} '{result}'",
            "gauge": {"value": value, "realtime": False},
        }
        for result in ("yes", "no")
        for operator, value in (("==", "1"), ("!=", "0"))
    ]
    # ... and every run, whatever its status, is counted
    expected.append(
        {
            "name": "kh_check_runs_total",
            "help": "Runs of the check that sets kh_check, by status.",
            "labels": [*common, {"key": "status", "value": "{{status}}"}],
            "counter": {"value": "1"},
        }
    )
    assert check["metrics"] == {"prometheus": expected}
    # AND the cron is still valid for Argo and round-trips through Hera
    assert SchemaLinter(schema_path).validate(doc) == []
    assert hera_round_trip(doc) == []


def test_unknown_follow_up_pipeline_is_a_preflight_error(basic_copy: Path) -> None:
    _add_schedule(
        basic_copy,
        "  - {name: bad, pipeline: prepare, cron: '0 5 * * *', "
        "then: {submit: nope, check: [echo]}}\n",
    )
    with pytest.raises(
        PreflightError,
        match=re.escape(
            "argo.yml (env 'prod'): schedules[bad].then: pipeline 'nope' is not "
            "registered; expected one of ['__default__', 'prepare', 'train']"
        ),
    ):
        compile_project(basic_copy, envs=["prod"], sha=FIXED_SHA)


def test_unknown_follow_up_parameter_is_a_preflight_error(basic_copy: Path) -> None:
    _add_schedule(
        basic_copy,
        "  - {name: bad, pipeline: prepare, cron: '0 5 * * *', "
        "then: {submit: train, check: [echo], params: {min_rating: 2}}}\n",
    )
    with pytest.raises(
        PreflightError,
        match=re.escape(
            "argo.yml (env 'prod'): schedules[bad].then: unknown parameter "
            "'min_rating' for pipeline 'train'"
        ),
    ):
        compile_project(basic_copy, envs=["prod"], sha=FIXED_SHA)


@pytest.mark.parametrize(
    ("then", "message"),
    [
        (
            {"submit": "train", "check": []},
            "schedules[0].then.check: List should have at least 1 item after "
            "validation, not 0, got []",
        ),
        (
            {"submit": "train", "check": ["echo"], "when": "a b"},
            "schedules[0].then.when: must be letters, digits, '_', '.', '-', "
            "got ['a b']",
        ),
        (
            {"submit": "train", "check": ["echo"], "when": []},
            "schedules[0].then.when: List should have at least 1 item after "
            "validation, not 0, got []",
        ),
        (
            {"submit": "train", "check": ["echo"], "when": ["go", "go"]},
            "schedules[0].then.when: must be unique, got ['go'] more than once",
        ),
        (
            {"submit": "train", "check": ["echo"], "if": "x"},
            "schedules[0].then.if: unknown key (expected one of: check, metric, "
            "params, resources, submit, wait, when)",
        ),
        (
            {
                "submit": "train",
                "check": ["echo"],
                "metric": {"name": "m", "help": "h", "results": ["false"]},
            },
            "schedules[0].then: metric.results must include every value of when, "
            "missing ['true'], got ['false']",
        ),
        (
            {
                "submit": "train",
                "check": ["echo"],
                "metric": {"name": "a-b", "help": "h", "results": ["true"]},
            },
            "schedules[0].then.metric.name: String should match pattern "
            "'^[a-zA-Z_][a-zA-Z0-9_]*$', got 'a-b'",
        ),
        (
            {
                "submit": "train",
                "check": ["echo"],
                "metric": {"name": "m", "help": "h", "results": ["true", "true"]},
            },
            "schedules[0].then.metric.results: must be unique, got ['true'] "
            "more than once",
        ),
        (
            {
                "submit": "train",
                "check": ["echo"],
                "metric": {"name": "m", "help": "h", "results": ["true", "x y"]},
            },
            "schedules[0].then.metric.results: must be letters, digits, '_', '.', "
            "'-', got ['x y']",
        ),
    ],
)
def test_follow_up_config_errors_are_one_line(
    then: dict[str, object], message: str
) -> None:
    raw = {
        "image": {"repository": "r"},
        "namespace": "ns",
        "schedules": [
            {"name": "s", "pipeline": "p", "cron": "* * * * *", "then": then}
        ],
    }
    with pytest.raises(ConfigError, match=re.escape(f"argo.yml: {message}")):
        parse_config(raw, source="argo.yml")
