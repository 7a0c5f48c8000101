"""The harness's own Argo semantics, on a toy template of ``python -c`` pods (fast)."""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.argo_harness import (
    HarnessError,
    LocalArgo,
    ManifestError,
    UnresolvedVariableError,
    WorkflowFailedError,
    WorkflowTemplate,
    load_workflow_template,
)
from tests.argo_harness.variables import validate_references, workflow_scope
from tests.conftest import QUIET_ENV

PRODUCE = (
    "import pathlib, sys\n"
    "out = pathlib.Path(sys.argv[1])\n"
    "out.parent.mkdir()\n"
    "out.write_text(sys.argv[2] + '\\n')\n"
    "pathlib.Path('local.txt').write_text('left behind')\n"
)
STEP = (
    "import os, pathlib, sys\n"
    "token, me, fail_at = sys.argv[1:4]\n"
    "assert not pathlib.Path('local.txt').exists(), 'saw another pod\\'s file'\n"
    "print(me, token, os.environ['GREETING'], os.environ['SECRET'])\n"
    "sys.exit(3 if me == fail_at else 0)\n"
)
TOKEN = "{{tasks.a.outputs.parameters.token}}"
TOY: dict[str, Any] = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "WorkflowTemplate",
    "metadata": {"name": "toy", "namespace": "playground"},
    "spec": {
        "entrypoint": "main",
        "onExit": "exit-handler",
        "arguments": {
            "parameters": [
                {"name": "greeting", "value": "hello"},
                {"name": "fail-at", "value": "nobody"},
            ]
        },
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {
                            "name": "c",
                            "template": "step",
                            "dependencies": ["b"],
                            "arguments": {
                                "parameters": [
                                    {"name": "token", "value": TOKEN},
                                    {"name": "me", "value": "c"},
                                ]
                            },
                        },
                        {"name": "a", "template": "produce"},
                        {
                            "name": "b",
                            "template": "step",
                            "dependencies": ["a"],
                            "arguments": {
                                "parameters": [
                                    {"name": "token", "value": TOKEN},
                                    {"name": "me", "value": "b"},
                                ]
                            },
                        },
                    ]
                },
            },
            {
                "name": "produce",
                "container": {
                    "image": "toy",
                    "workingDir": "/app",
                    "command": ["python", "-c", PRODUCE],
                    "args": ["/tmp/out/token", "{{workflow.name}}-token"],
                },
                "outputs": {
                    "parameters": [
                        {
                            "name": "token",
                            "globalName": "token",
                            "valueFrom": {"path": "/tmp/out/token"},
                        }
                    ]
                },
            },
            {
                "name": "step",
                "inputs": {"parameters": [{"name": "token"}, {"name": "me"}]},
                "container": {
                    "image": "toy",
                    "command": ["python", "-c", STEP],
                    "args": [
                        "{{inputs.parameters.token}}",
                        "{{ inputs.parameters.me }}",
                        "{{workflow.parameters.fail-at}}",
                    ],
                    "env": [
                        {
                            "name": "GREETING",
                            "value": "{{workflow.parameters.greeting}}",
                        },
                        {
                            "name": "SECRET",
                            "valueFrom": {"secretKeyRef": {"name": "toy", "key": "k"}},
                        },
                    ],
                },
            },
            {
                "name": "exit-handler",
                "container": {
                    "image": "toy",
                    "command": ["python", "-c", "import sys; print(sys.argv[1:])"],
                    "args": [
                        "{{workflow.status}}",
                        "{{workflow.outputs.parameters.token}}",
                    ],
                },
            },
        ],
    },
}


def write_toy(tmp_path: Path, doc: dict[str, Any] = TOY) -> WorkflowTemplate:
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return load_workflow_template(path)


def toy_doc() -> dict[str, Any]:
    return copy.deepcopy(TOY)


def empty_dir(target: Path) -> Path:
    target.mkdir(parents=True)
    return target


@pytest.fixture
def argo(tmp_path: Path) -> LocalArgo:
    return LocalArgo(
        work_dir=tmp_path / "pods",
        project_factory=empty_dir,
        bin_dir=Path(sys.executable).parent,
        image_env=dict(QUIET_ENV),
        secrets={("toy", "k"): "s3cr3t"},
        timeout=120,
    )


def test_tasks_run_dependencies_first_with_outputs_passed_on(
    tmp_path: Path, argo: LocalArgo
) -> None:
    # GIVEN a DAG listing c (after b) before a and b
    template = write_toy(tmp_path)
    # WHEN it runs
    run = argo.submit(template, name="toy-1")
    # THEN a, b, c ran in that order, b and c received a's output file
    assert template.task_names == ["a", "b", "c"]
    assert list(run.tasks) == ["a", "b", "c"]
    assert run.tasks["a"].outputs == {"token": "toy-1-token"}
    assert run.tasks["b"].log.split() == ["b", "toy-1-token", "hello", "s3cr3t"]
    # AND a's /tmp/out/token was a file of a's own pod
    written = run.tasks["a"].rootfs / "tmp" / "out" / "token"
    assert run.tasks["a"].argv[3] == str(written)
    assert written.read_text() == "toy-1-token\n"
    # AND the exit handler saw the status and the global output
    assert run.exit_handler is not None
    assert "['Succeeded', 'toy-1-token']" in run.exit_handler.log


def test_every_pod_has_a_fresh_working_dir_and_its_own_tmp(
    tmp_path: Path, argo: LocalArgo
) -> None:
    run = argo.submit(write_toy(tmp_path))
    # b and c would fail on a's local.txt if they shared its working dir
    dirs = {t.project_dir for t in run.tasks.values()}
    assert len(dirs) == 3
    assert len({t.env["TMPDIR"] for t in run.tasks.values()}) == 3
    assert (run.tasks["a"].project_dir / "local.txt").exists()


def test_a_failed_task_stops_the_dag_and_the_exit_handler_sees_failed(
    tmp_path: Path, argo: LocalArgo
) -> None:
    template = write_toy(tmp_path)
    run = argo.submit(template, parameters={"fail-at": "b"}, check=False)
    assert run.status == "Failed"
    assert list(run.tasks) == ["a", "b"]
    assert run.not_run == ("c",)
    assert run.exit_handler is not None
    assert "'Failed'" in run.exit_handler.log
    with pytest.raises(
        WorkflowFailedError,
        match=re.escape(
            f"workflow '{run.name}' Failed: task 'b' exited with code 3; not run: ['c']"
        ),
    ):
        run.raise_for_status()


def test_check_raises_after_the_exit_handler_ran(
    tmp_path: Path, argo: LocalArgo
) -> None:
    template = write_toy(tmp_path)
    with pytest.raises(WorkflowFailedError, match="task 'b'"):
        argo.submit(template, name="toy-2", parameters={"fail-at": "b"})
    assert (argo.work_dir / "toy-2" / "exit-handler" / "main.log").exists()


def test_a_missing_output_file_is_an_error(tmp_path: Path, argo: LocalArgo) -> None:
    doc = toy_doc()
    doc["spec"]["templates"][1]["outputs"]["parameters"][0]["valueFrom"]["path"] = (
        "/tmp/elsewhere"
    )
    run = argo.submit(write_toy(tmp_path, doc), check=False)
    assert run.status == "Error"
    assert run.tasks["a"].message == (
        "output 'token': open /tmp/elsewhere: no such file"
    )
    # AND the exit handler, reading a's global output, errored without starting
    assert run.exit_handler is not None
    assert run.exit_handler.phase == "Error"
    assert "{{workflow.outputs.parameters.token}}" in run.exit_handler.message


def test_only_targets_and_their_dependencies_run(
    tmp_path: Path, argo: LocalArgo
) -> None:
    run = argo.submit(write_toy(tmp_path), targets=["b"])
    assert list(run.tasks) == ["a", "b"]
    assert run.not_run == ()


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        (
            ("spec", "templates", 2, "container", "args", 0),
            "{{workflow.parameters.nope}}",
            "task 'b': failed to resolve '{{workflow.parameters.nope}}'",
        ),
        (
            ("spec", "templates", 0, "dag", "tasks", 1, "arguments"),
            {"parameters": [{"name": "x", "value": TOKEN}]},
            "task 'a' argument 'x': failed to resolve "
            "'{{tasks.a.outputs.parameters.token}}'",
        ),
        (
            ("spec", "templates", 2, "container", "args", 0),
            "{{=inputs.parameters.token}}",
            "task 'b': expression tag '{{=inputs.parameters.token}}' is unsupported",
        ),
    ],
    ids=["unknown-parameter", "output-of-a-non-dependency", "expression"],
)
def test_unresolved_references_are_refused_before_any_pod_starts(
    tmp_path: Path, argo: LocalArgo, where: tuple, value: Any, message: str
) -> None:
    doc = toy_doc()
    node = doc
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(UnresolvedVariableError, match=re.escape(message)):
        argo.submit(write_toy(tmp_path, doc))
    assert not argo.work_dir.exists()


def test_a_parameter_without_value_must_be_given(
    tmp_path: Path, argo: LocalArgo
) -> None:
    doc = toy_doc()
    del doc["spec"]["arguments"]["parameters"][0]["value"]
    template = write_toy(tmp_path, doc)
    with pytest.raises(
        HarnessError,
        match=re.escape("spec.arguments.parameters ['greeting']: value is required"),
    ):
        argo.submit(template)
    assert argo.submit(template, parameters={"greeting": "hi"}).status == "Succeeded"


def test_a_missing_secret_is_refused(tmp_path: Path, argo: LocalArgo) -> None:
    argo.secrets.clear()
    with pytest.raises(
        HarnessError, match=re.escape("couldn't find key k in Secret toy")
    ):
        argo.submit(write_toy(tmp_path))


def test_a_cycle_is_refused(tmp_path: Path) -> None:
    doc = toy_doc()
    doc["spec"]["templates"][0]["dag"]["tasks"][1]["dependencies"] = ["c"]
    with pytest.raises(
        ManifestError, match=re.escape("has a cycle among ['c', 'a', 'b']")
    ):
        write_toy(tmp_path, doc)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda doc: doc["spec"]["templates"][0]["dag"]["tasks"][1].update(
                when="{{workflow.parameters.greeting}} == hi"
            ),
            "task 'a' uses ['when']",
        ),
        (
            lambda doc: doc["spec"]["templates"][0]["dag"].update(failFast=False),
            "dag.failFast: false",
        ),
        (
            lambda doc: doc["spec"]["templates"].append(
                {"name": "s", "script": {"image": "toy", "source": "pass"}}
            ),
            "templates ['s'] are not containers",
        ),
    ],
    ids=["when", "fail-fast-off", "script"],
)
def test_unsupported_manifest_features_are_refused(
    tmp_path: Path, change: Any, message: str
) -> None:
    doc = toy_doc()
    change(doc)
    with pytest.raises(ManifestError, match=re.escape(message)):
        write_toy(tmp_path, doc)


def test_the_committed_staging_template_is_executable_as_is(staging_template) -> None:
    # Every reference of every task resolves with the template's own defaults,
    # and every task is a container the harness knows how to run.
    defaults = {k: v for k, v in staging_template.parameters.items() if v is not None}
    assert defaults == staging_template.parameters, "parameters lack a default"
    scope = workflow_scope(
        name="reelops-training-abcde", namespace="ns", parameters=defaults
    )
    validate_references(staging_template, staging_template.tasks, scope)
    assert staging_template.on_exit == "exit-handler"
    init = staging_template.containers["init-run"]
    assert [o.path for o in init.outputs] == ["/tmp/kedro-hera/mlflow-run-id"]
