"""Validation of argo.yml: every error is one line naming the bad key."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from kedro_hera import TEMPLATE_CONFIG
from kedro_hera.config import ArgoConfig, parse_config
from kedro_hera.errors import ConfigError

MINIMAL: dict[str, Any] = {
    "image": {"repository": "registry.example.com/app"},
    "namespace": "team",
}
SOURCE = "argo.yml (env 'prod')"


def _with(**overrides: Any) -> dict[str, Any]:
    return {**MINIMAL, **overrides}


def test_minimal_config_gets_documented_defaults() -> None:
    # WHEN the smallest valid config is parsed
    config = parse_config(MINIMAL, source=SOURCE)
    # THEN defaults are filled in
    assert config.kedro_command == ["kedro"]
    assert config.retry.limit == 2
    assert config.mlflow.enabled is True
    assert config.resources.requests.cpu == "500m"
    assert config.grouping.by_namespace is True


def test_shipped_template_is_a_valid_config() -> None:
    # GIVEN the commented template shipped in the package
    raw = yaml.safe_load(TEMPLATE_CONFIG.read_text(encoding="utf-8"))
    # WHEN it is parsed THEN it is valid and says what the docs say
    config = parse_config(raw, source="templates/argo.yml")
    assert isinstance(config, ArgoConfig)
    assert config.image.tag is None
    assert config.env_vars == {"KEDRO_DISABLE_TELEMETRY": "true"}
    assert config.ttl.seconds_after_completion == 604800


def test_shipped_template_documents_every_top_level_key() -> None:
    text = TEMPLATE_CONFIG.read_text(encoding="utf-8")
    for key in ArgoConfig.model_fields:
        assert re.search(rf"^#? ?{key}:", text, re.MULTILINE), key


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            _with(imagee={}),
            "argo.yml (env 'prod'): imagee: unknown key (expected one of: "
            "active_deadline_seconds, data_root, empty_dirs, env_vars, exit_handler, "
            "grouping, groups, image, kedro_command, mlflow, name_prefix, namespace, "
            "node_selector, parallelism, pipelines, pod_gc, resources, retry, "
            "schedules, secret_env_vars, security_context, server, service_account, "
            "tolerations, ttl, working_dir)",
        ),
        (
            _with(image={"repository": "r", "tagg": "1"}),
            "argo.yml (env 'prod'): image.tagg: unknown key (expected one of: "
            "pull_policy, pull_secrets, repository, tag, tag_from)",
        ),
        (
            {"namespace": "team"},
            "argo.yml (env 'prod'): image: required key is missing",
        ),
        (
            _with(namespace="Team_A"),
            "argo.yml (env 'prod'): namespace: 'Team_A' is not a DNS-1123 label "
            "(lower-case letters, digits, '-')",
        ),
        (
            _with(resources={"requests": {"memory": "1GB"}}),
            "argo.yml (env 'prod'): resources.requests.memory: '1GB' is not a "
            "Kubernetes memory quantity (expected e.g. '512Mi' or '2Gi')",
        ),
        (
            _with(resources={"limits": {"cpu": "two"}}),
            "argo.yml (env 'prod'): resources.limits.cpu: 'two' is not a Kubernetes "
            "CPU quantity (expected e.g. '500m' or '2')",
        ),
        (
            _with(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}),
            "argo.yml (env 'prod'): resources: limits.cpu '500m' is below "
            "requests.cpu '2' (a limit must be at least its request)",
        ),
        (
            _with(
                groups={
                    "train": {
                        "resources": {
                            "requests": {"memory": "4Gi"},
                            "limits": {"memory": "2Gi"},
                        }
                    }
                }
            ),
            "argo.yml (env 'prod'): groups.train.resources: limits.memory '2Gi' is "
            "below requests.memory '4Gi' (a limit must be at least its request)",
        ),
        (
            _with(retry={"limit": -1}),
            "argo.yml (env 'prod'): retry.limit: Input should be greater than or "
            "equal to 0, got -1",
        ),
        (
            _with(pod_gc={"strategy": "Sometimes"}),
            "argo.yml (env 'prod'): pod_gc.strategy: Input should be "
            "'OnPodCompletion', 'OnPodSuccess', 'OnWorkflowCompletion' or "
            "'OnWorkflowSuccess', got 'Sometimes'",
        ),
        (
            _with(
                schedules=[{"name": "Nightly", "pipeline": "p", "cron": "0 1 * * *"}]
            ),
            "argo.yml (env 'prod'): schedules[0].name: 'Nightly' is not a DNS-1123 "
            "label (lower-case letters, digits, '-')",
        ),
        (
            _with(
                schedules=[
                    {"name": "n", "pipeline": "p", "cron": "* * * * *", "every": 1}
                ]
            ),
            "argo.yml (env 'prod'): schedules[0].every: unknown key",
        ),
        (
            _with(
                schedules=[
                    {"name": "n", "pipeline": "p", "cron": "0 1 * * *"},
                    {"name": "n", "pipeline": "q", "cron": "0 2 * * *"},
                ]
            ),
            "argo.yml (env 'prod'): <root>: schedule names must be unique, got ['n'] "
            "more than once",
        ),
        (
            _with(grouping={"tag_prefix": ""}),
            "argo.yml (env 'prod'): grouping.tag_prefix: must not be empty (omit it "
            "to disable prefix grouping)",
        ),
        (
            _with(env_vars={"DEBUG": 1}),
            "argo.yml (env 'prod'): env_vars.DEBUG: Input should be a valid string, "
            "got 1",
        ),
    ],
)
def test_invalid_config_raises_one_line_error(
    raw: dict[str, Any], message: str
) -> None:
    # WHEN an invalid config is parsed THEN the one-line message names the key
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(raw, source=SOURCE)


def test_errors_are_single_line_and_all_reported() -> None:
    raw = _with(imagee={}, retry={"limit": -1})
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source=SOURCE)
    text = str(info.value)
    assert "\n" not in text
    assert "imagee: unknown key" in text
    assert "retry.limit" in text


def test_numbers_are_accepted_as_quantities_and_cron_as_string() -> None:
    raw = _with(
        resources={"requests": {"cpu": 2}, "limits": {"cpu": 2.5}},
        schedules=[{"name": "n", "pipeline": "p", "cron": "0 1 * * *"}],
    )
    config = parse_config(raw, source=SOURCE)
    assert config.resources.requests.cpu == "2"
    assert config.resources.limits.cpu == "2.5"
    assert config.schedules[0].cron == ["0 1 * * *"]
