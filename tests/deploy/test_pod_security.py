"""Every pod of argo/*/*.yaml passes the Pod Security Standard "restricted".

The rules are those of https://kubernetes.io/docs/concepts/security/pod-security-standards/
(baseline, then restricted), written out here so the check needs no cluster and no
network. On top of them, what the pipeline image needs: its user, a read-only root
filesystem and writable emptyDirs where Kedro writes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from tests.conftest import REPO

MANIFESTS = sorted((REPO / "argo").glob("*/*.yaml"))
#: restricted: the only volume types allowed
VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
#: baseline: the sysctls allowed
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {None, "", "container_t", "container_init_t", "container_kvm_t"}
#: Where Kedro and its libraries write in the pipeline image (Dockerfile).
WRITABLE = {"/tmp", "/app/data", "/app/logs"}


def workflow_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["workflowSpec"] if doc["kind"] == "CronWorkflow" else doc["spec"]


def containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    found = [template[k] for k in ("container", "script") if k in template]
    found += template.get("initContainers", []) + template.get("sidecars", [])
    found += (template.get("containerSet") or {}).get("containers", [])
    return found


def restricted_violations(spec: dict[str, Any]) -> list[str]:
    """Every rule of "restricted" a workflow spec's pods break (one line each)."""
    problems = []
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(f"{key} is true")
    if spec.get("podSpecPatch"):
        problems.append("podSpecPatch can change anything; not allowed here")
    for template in spec.get("templates", []):
        name = template["name"]
        if template.get("podSpecPatch"):
            problems.append(f"{name}: podSpecPatch can change anything")
        pod = template.get("securityContext") or spec.get("securityContext") or {}
        problems += [f"{name}: {p}" for p in _pod_problems(pod)]
        volumes = spec.get("volumes", []) + template.get("volumes", [])
        for volume in volumes:
            kinds = set(volume) - {"name"}
            if not kinds <= VOLUME_TYPES:
                problems.append(f"{name}: volume {volume['name']} is {sorted(kinds)}")
        if "resource" in template and not pod:
            problems.append(f"{name}: a resource template's pod has no securityContext")
        for container in containers(template):
            where = f"{name}/{container.get('name', 'main')}"
            problems += [f"{where}: {p}" for p in _container_problems(container, pod)]
    return problems


def _pod_problems(pod: dict[str, Any]) -> list[str]:
    problems = []
    if pod.get("runAsUser") == 0:
        problems.append("pod runAsUser is 0")
    if pod.get("runAsNonRoot") is False:
        problems.append("pod runAsNonRoot is false")
    if (pod.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("pod seccompProfile is Unconfined")
    for sysctl in pod.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl['name']} is not safe")
    if (pod.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
        problems.append("pod seLinuxOptions.type is not allowed")
    if (pod.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("pod windowsOptions.hostProcess is true")
    return problems


def _container_problems(container: dict[str, Any], pod: dict[str, Any]) -> list[str]:
    sc = container.get("securityContext") or {}
    problems = []
    if sc.get("privileged"):
        problems.append("privileged")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if sc.get("runAsNonRoot") is False or not (
        sc.get("runAsNonRoot") or pod.get("runAsNonRoot")
    ):
        problems.append("runAsNonRoot is not true (container or pod)")
    if sc.get("runAsUser") == 0:
        problems.append("runAsUser is 0")
    seccomp = (sc.get("seccompProfile") or pod.get("seccompProfile") or {}).get("type")
    if seccomp not in {"RuntimeDefault", "Localhost"}:
        problems.append(f"seccompProfile is {seccomp} (container or pod)")
    capabilities = sc.get("capabilities") or {}
    if "ALL" not in capabilities.get("drop", []):
        problems.append("capabilities do not drop ALL")
    if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
        problems.append(f"capabilities add {capabilities['add']}")
    if any("hostPort" in port for port in container.get("ports", [])):
        problems.append("hostPort is set")
    if sc.get("procMount", "Default") != "Default":
        problems.append("procMount is not Default")
    if (sc.get("seLinuxOptions") or {}).get("type") not in SELINUX_TYPES:
        problems.append("seLinuxOptions.type is not allowed")
    if (sc.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("windowsOptions.hostProcess is true")
    return problems


@pytest.fixture(scope="module")
def specs() -> dict[str, dict[str, Any]]:
    assert {p.parent.name for p in MANIFESTS} == {"dev", "staging", "prod"}
    return {
        p.relative_to(REPO).as_posix(): workflow_spec(yaml.safe_load(p.read_text()))
        for p in MANIFESTS
    }


def test_every_pod_is_restricted(specs: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for path, spec in specs.items():
        if "templates" not in spec:
            continue  # a cron running a WorkflowTemplate: that template is checked
        assert restricted_violations(spec) == [], path
        checked += sum(len(containers(t)) for t in spec["templates"])
    assert checked > 100


def test_the_checker_catches_each_kind_of_violation(
    specs: dict[str, dict[str, Any]],
) -> None:
    # GIVEN a compliant spec
    base = specs["argo/prod/data_processing.yaml"]
    main = next(t for t in base["templates"] if "container" in t)["name"]

    def broken(change: Any) -> list[str]:
        spec = copy.deepcopy(base)
        change(spec, next(t for t in spec["templates"] if t["name"] == main))
        return restricted_violations(spec)

    def no_drop(spec: dict[str, Any], t: dict[str, Any]) -> None:
        t["container"]["securityContext"]["capabilities"] = {"add": ["SYS_ADMIN"]}

    # WHEN one rule at a time is broken THEN each is reported
    cases = {
        "allowPrivilegeEscalation": lambda s, t: t["container"]["securityContext"].pop(
            "allowPrivilegeEscalation"
        ),
        "runAsNonRoot": lambda s, t: s["securityContext"].pop("runAsNonRoot"),
        "seccompProfile": lambda s, t: s["securityContext"].pop("seccompProfile"),
        "capabilities": no_drop,
        "hostPath": lambda s, t: s["volumes"].append(
            {"name": "h", "hostPath": {"path": "/"}}
        ),
        "runAsUser is 0": lambda s, t: s["securityContext"].update(runAsUser=0),
        "hostNetwork": lambda s, t: s.update(hostNetwork=True),
        "privileged": lambda s, t: t["container"]["securityContext"].update(
            privileged=True
        ),
    }
    for rule, change in cases.items():
        assert any(rule.split()[0] in p for p in broken(change)), rule


def _image_user() -> tuple[int, int]:
    parser = DockerfileParser(fileobj=Path(REPO / "Dockerfile").open("rb"))
    users = [i["value"] for i in parser.structure if i["instruction"] == "USER"]
    uid, gid = users[-1].split(":")
    return int(uid), int(gid)


def test_pods_run_as_the_image_user_on_a_read_only_root(
    specs: dict[str, dict[str, Any]],
) -> None:
    uid, gid = _image_user()
    for path, spec in specs.items():
        if "templates" not in spec:
            continue
        pod = spec["securityContext"]
        assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (uid, gid, gid)
        volumes = {v["name"]: v for v in spec["volumes"]}
        for template in spec["templates"]:
            for container in containers(template):
                assert container["securityContext"]["readOnlyRootFilesystem"], path
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                # THEN every place Kedro writes is a writable emptyDir
                assert set(mounts) >= WRITABLE, (path, template["name"])
                assert all("emptyDir" in volumes[n] for n in mounts.values()), path
