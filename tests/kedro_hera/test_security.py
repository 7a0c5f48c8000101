"""security_context and empty_dirs: configuration errors and what every pod gets."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from kedro_hera.compile import CompileResult, compile_project
from kedro_hera.config import parse_config
from kedro_hera.errors import ConfigError

from .conftest import BASIC, FIXED_SHA, MINIMAL

SOURCE = "argo.yml (env 'prod')"
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
MOUNTS = [
    {"name": "tmp", "mountPath": "/tmp"},
    {"name": "data", "mountPath": "/app/data"},
]


@pytest.fixture(scope="module")
def basic_result() -> CompileResult:
    return compile_project(BASIC, sha=FIXED_SHA)


def _specs(result: CompileResult) -> dict[str, dict[str, Any]]:
    specs = {}
    for manifest in result.manifests:
        doc = yaml.safe_load(manifest.text)
        spec = doc["spec"]
        specs[manifest.path] = (
            spec["workflowSpec"] if doc["kind"] == "CronWorkflow" else spec
        )
    return specs


def test_every_container_gets_the_security_context_and_scratch_mounts(
    basic_result: CompileResult,
) -> None:
    # GIVEN the basic fixture: a restricted profile and two empty_dirs in base
    containers = 0
    for path, spec in _specs(basic_result).items():
        for template in spec.get("templates", []):
            if "container" not in template:
                continue
            containers += 1
            # THEN every container kedro-hera emits carries them
            container = template["container"]
            assert container["securityContext"] == RESTRICTED_CONTAINER, path
            assert container["volumeMounts"] == MOUNTS, path
    assert containers > 10


def test_every_workflow_gets_the_pod_context_and_the_volumes(
    basic_result: CompileResult,
) -> None:
    for path, spec in _specs(basic_result).items():
        if "workflowTemplateRef" in spec:
            continue  # the referenced template carries them
        assert spec["securityContext"] == {
            "fsGroup": 10001,
            "runAsGroup": 10001,
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        }, path
        assert spec["volumes"] == [
            {"name": "tmp", "emptyDir": {}},
            {"name": "data", "emptyDir": {"sizeLimit": "10Gi"}},
        ], path


def test_nothing_is_set_by_default() -> None:
    (manifest,) = compile_project(MINIMAL, sha=FIXED_SHA).manifests
    text = manifest.text
    assert "securityContext" not in text
    assert "volumes" not in text
    assert "volumeMounts" not in text


def _with(**overrides: Any) -> dict[str, Any]:
    return {"image": {"repository": "r"}, "namespace": "n", **overrides}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            _with(
                security_context={"pod": {"run_as_user": 0, "run_as_non_root": True}}
            ),
            "argo.yml (env 'prod'): security_context.pod: run_as_user 0 is root, "
            "which run_as_non_root: true forbids",
        ),
        (
            _with(
                security_context={
                    "container": {"seccomp_profile": {"type": "Localhost"}}
                }
            ),
            "argo.yml (env 'prod'): security_context.container.seccomp_profile: "
            "localhost_profile must be set when type is Localhost and only then, "
            "got type Localhost with localhost_profile None",
        ),
        (
            _with(security_context={"container": {"read_only_root": True}}),
            "argo.yml (env 'prod'): security_context.container.read_only_root: "
            "unknown key (expected one of: allow_privilege_escalation, capabilities, "
            "privileged, read_only_root_filesystem, run_as_group, run_as_non_root, "
            "run_as_user, seccomp_profile)",
        ),
        (
            _with(empty_dirs=[{"name": "tmp", "mount_path": "tmp"}]),
            "argo.yml (env 'prod'): empty_dirs[0].mount_path: 'tmp' is not a "
            "normalized absolute path (expected e.g. '/tmp')",
        ),
        (
            _with(empty_dirs=[{"name": "t", "mount_path": "/t", "size_limit": "1GB"}]),
            "argo.yml (env 'prod'): empty_dirs[0].size_limit: '1GB' is not a "
            "Kubernetes memory quantity (expected e.g. '512Mi' or '2Gi')",
        ),
        (
            _with(
                empty_dirs=[
                    {"name": "a", "mount_path": "/tmp"},
                    {"name": "b", "mount_path": "/tmp"},
                ]
            ),
            "argo.yml (env 'prod'): <root>: empty_dirs: each mount_path must be "
            "unique, got ['/tmp'] more than once",
        ),
    ],
)
def test_invalid_security_settings_are_one_line_errors(
    raw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(raw, source=SOURCE)
