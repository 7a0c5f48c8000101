"""Kubernetes manifests of the service: every overlay renders, validates, is secure.

Each overlay is rendered with ``kubectl kustomize`` and every object validated with
``kubernetes-validate`` (strict: unknown fields fail); then the properties a
zero-downtime, locked-down deployment needs are checked on the rendered objects.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import REPO, kustomize

ENVS = ["dev", "staging", "prod"]
TOKENS_SECRET = "reelops-serving-tokens"  # pragma: allowlist secret (a Secret's name)
KINDS = {
    "ServiceAccount",
    "ConfigMap",
    "Service",
    "Deployment",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
}


def render(env: str) -> list[dict[str, Any]]:
    return kustomize(REPO / "deploy" / "overlays" / env)


#: deploy/monitoring's objects (alerts, dashboard): tests/deploy/test_alert_rules.py.
MONITORING_COMPONENTS = {"alerts", "dashboards"}


def serving_objects(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["kind"]: d
        for d in docs
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
        not in MONITORING_COMPONENTS
    }


@pytest.fixture(scope="module", params=ENVS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, dict[str, dict[str, Any]]]:
    return request.param, serving_objects(render(request.param))


def test_every_object_validates_strictly(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    _, objects = rendered
    assert set(objects) == KINDS
    version = kubernetes_validate.latest_version()
    for obj in objects.values():
        kubernetes_validate.validate(obj, version, strict=True)


def test_everything_lands_in_the_environment_namespace(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    env, objects = rendered
    assert {o["metadata"]["namespace"] for o in objects.values()} == {f"reelops-{env}"}


def test_the_pod_is_locked_down(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    _, objects = rendered
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["runAsNonRoot"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert "add" not in sc["capabilities"]
    resources = container["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), kind
    # the read-only root needs a writable /tmp, where BentoML's home points
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts["/tmp"] == "tmp"
    env = {e["name"]: e for e in container["env"]}
    assert env["BENTOML_HOME"]["value"].startswith("/tmp/")
    assert env["NUMBA_NUM_THREADS"]["value"] == "1"


def test_rolling_updates_never_drop_capacity(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    _, objects = rendered
    spec = objects["Deployment"]["spec"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["startupProbe"]["httpGet"]["path"] == "/livez"
    pre_stop = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    # preStop + the longest request (traffic.timeout 2 s, with margin) fit in the grace period
    assert pod["terminationGracePeriodSeconds"] >= pre_stop + 5 + 10
    assert objects["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    hpa = objects["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == objects["Deployment"]["metadata"]["name"]
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]


def test_tokens_come_from_a_secret_and_config_from_a_configmap(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    env_name, objects = rendered
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["api-tokens"]["secret"]["secretName"] == TOKENS_SECRET
    optional = volumes["api-tokens"]["secret"].get("optional", False)
    assert optional is (env_name == "dev")
    config_name = volumes["config"]["configMap"]["name"]
    assert config_name == objects["ConfigMap"]["metadata"]["name"]
    assert config_name.startswith("reelops-serving-config-")  # hashed: rolls pods
    served = yaml.safe_load(objects["ConfigMap"]["data"]["serving.yaml"])
    assert served["environment"] == env_name
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    ref = env["REELOPS_FEEDBACK_DB_URL"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "reelops-feedback-db"
    assert env["REELOPS_API_TOKENS_FILE"]["value"].startswith(
        "/var/run/secrets/reelops/api-tokens/"
    )
    assert container["image"].startswith("ghcr.io/reelops/reelops-serving:")


def test_network_policy_admits_only_http_in_and_dns_db_https_out(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    _, objects = rendered
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    ports = [p["port"] for rule in policy["ingress"] for p in rule["ports"]]
    assert ports == ["http", "metrics"]
    # the metrics port (git commit and run of the model) is for Prometheus only
    (metrics_rule,) = [
        r for r in policy["ingress"] if r["ports"][0]["port"] == "metrics"
    ]
    assert metrics_rule["from"] == [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
            }
        }
    ]
    egress = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    assert egress == {53, 5432, 443}


def test_the_autoscaler_alone_sets_replicas_growing_from_dev_to_prod() -> None:
    objects = [serving_objects(render(env)) for env in ENVS]
    # Argo CD self-heals to git: a Deployment replica count would undo the HPA
    assert all("replicas" not in o["Deployment"]["spec"] for o in objects)
    minimum = [o["HorizontalPodAutoscaler"]["spec"]["minReplicas"] for o in objects]
    assert minimum == sorted(minimum)
    assert minimum[0] == 1
    assert minimum[-1] >= 3


def test_prometheus_scrapes_the_metrics_port_the_service_does_not_expose(
    rendered: tuple[str, dict[str, dict[str, Any]]],
) -> None:
    # GIVEN the rendered pod, its configuration and its Service
    _, objects = rendered
    template = objects["Deployment"]["spec"]["template"]
    served = yaml.safe_load(objects["ConfigMap"]["data"]["serving.yaml"])
    (container,) = template["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    # THEN the service serves /metrics on the port the annotations scrape...
    assert served["metrics"]["port"] == ports["metrics"] != ports["http"]
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(ports["metrics"])
    assert annotations["prometheus.io/path"] == "/metrics"
    # ...and the Service (what the ingress reaches) carries the API port only
    service_ports = objects["Service"]["spec"]["ports"]
    assert [p["targetPort"] for p in service_ports] == ["http"]
