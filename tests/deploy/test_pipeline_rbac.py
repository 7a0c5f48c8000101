"""The pipeline's service account, Role and binding (deploy/pipeline), per env.

Each overlay is rendered with ``kubectl kustomize`` and validated strictly; then it
must give the account argo/<env> runs as, in the namespace argo/<env> runs in,
exactly what Argo's executor and the cron's resource templates need.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import REPO

ENVS = ["dev", "staging", "prod"]
ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/reelops-pipeline-(?P<env>[a-z]+)$")
#: (api group, resource) -> verbs; anything else is too much.
NEEDED = {
    # every pod: the executor reports outputs as WorkflowTaskResults (Argo >= 3.4)
    ("argoproj.io", "workflowtaskresults"): {"create", "patch"},
    # cron-monitoring's resource templates: create a Workflow, poll it by name
    ("argoproj.io", "workflows"): {"create", "get"},
}


def render(env: str) -> dict[str, dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is required on PATH")
    out = subprocess.run(
        [kubectl, "kustomize", str(REPO / "deploy" / "pipeline" / "overlays" / env)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return {doc["kind"]: doc for doc in yaml.safe_load_all(out) if doc}


def argo_docs(env: str) -> list[dict[str, Any]]:
    return [
        yaml.safe_load(p.read_text())
        for p in sorted((REPO / "argo" / env).glob("*.yaml"))
    ]


def workflow_specs(env: str) -> list[dict[str, Any]]:
    return [
        d["spec"]["workflowSpec"] if d["kind"] == "CronWorkflow" else d["spec"]
        for d in argo_docs(env)
    ]


@pytest.fixture(scope="module", params=ENVS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, dict[str, dict[str, Any]]]:
    return request.param, render(request.param)


def test_every_object_validates_strictly(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    _, objects = rendered
    assert set(objects) == {"ServiceAccount", "Role", "RoleBinding"}
    version = kubernetes_validate.latest_version()
    for obj in objects.values():
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_account_is_the_one_argo_runs_as_in_its_namespace(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    # GIVEN the compiled workflows of the env
    env, objects = rendered
    namespaces = {d["metadata"]["namespace"] for d in argo_docs(env)}
    accounts = {
        s.get("serviceAccountName") for s in workflow_specs(env) if "templates" in s
    }
    # THEN the account, its Role and binding live where the workflows run
    assert namespaces == {f"reelops-{env}"}
    assert {o["metadata"]["namespace"] for o in objects.values()} == namespaces
    assert accounts == {objects["ServiceAccount"]["metadata"]["name"]}
    # AND the binding ties that account, in that namespace, to that Role
    binding = objects["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": objects["Role"]["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": objects["ServiceAccount"]["metadata"]["name"],
            "namespace": f"reelops-{env}",
        }
    ]


def test_the_role_grants_exactly_what_the_workflows_need(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    _, objects = rendered
    granted: dict[tuple[str, str], set[str]] = {}
    for rule in objects["Role"]["rules"]:
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                granted.setdefault((group, resource), set()).update(rule["verbs"])
    assert granted == NEEDED
    assert "*" not in str(objects["Role"]["rules"])


def test_what_the_role_grants_is_what_the_cron_uses(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    # GIVEN the resource templates of every compiled workflow of the env
    env, _ = rendered
    resources = [
        t["resource"]
        for spec in workflow_specs(env)
        for t in spec.get("templates", [])
        if "resource" in t
    ]
    # THEN each creates a Workflow and, to wait for it, reads its status only
    assert resources, f"argo/{env}: no resource template (cron-monitoring)"
    for resource in resources:
        assert resource["action"] == "create"
        assert yaml.safe_load(resource["manifest"])["kind"] == "Workflow"
        assert "mergeStrategy" not in resource and "flags" not in resource


def test_the_account_assumes_the_envs_iam_role(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    env, objects = rendered
    account = objects["ServiceAccount"]
    match = ROLE_ARN.match(
        account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    )
    assert match and match["env"] == env
    # the executor needs the token to report outputs
    assert account["automountServiceAccountToken"] is True


@pytest.mark.parametrize("env", ENVS)
def test_argo_cd_syncs_the_pipelines_and_their_rbac(env: str) -> None:
    app = yaml.safe_load((REPO / f"deploy/argocd/{env}.yaml").read_text())
    paths = [s["path"] for s in app["spec"]["sources"]]
    assert f"argo/{env}" in paths
    assert f"deploy/pipeline/overlays/{env}" in paths


@pytest.mark.parametrize("env", ENVS)
def test_make_deploy_check_renders_the_pipeline_overlay(env: str) -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "-n", "deploy-check", f"ENV={env}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"kubectl kustomize deploy/pipeline/overlays/{env}" in proc.stdout
    assert f"build/deploy-pipeline-{env}.yaml" in proc.stdout.splitlines()[-1]
