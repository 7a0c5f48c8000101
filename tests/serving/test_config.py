"""Serving configuration: the template, overrides, secrets and strict environments."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from reelops_serving.config import (
    ServingSettings,
    load_settings,
    resolve_model_tag,
)
from reelops_serving.errors import ServingConfigError
from tests.conftest import REPO

TEMPLATE = REPO / "conf" / "base" / "serving.yml"
PG = "postgresql+psycopg://reelops@db:5432/reelops"


def strict_env(tmp_path: Path, env: str = "staging", **extra: str) -> dict[str, str]:
    tokens = tmp_path / "tokens"
    tokens.write_text("# one per line\ntoken-one\n\ntoken-two\n")
    return {
        "REELOPS_ENV": env,
        "REELOPS_API_TOKENS_FILE": str(tokens),
        "REELOPS_FEEDBACK_DB_URL": PG,
        "REELOPS_PROFILE_PATH": f"s3://reelops-{env}/profiles",
        "REELOPS_METRICS_PORT": "3001",
        **extra,
    }


def test_the_template_documents_every_default() -> None:
    # The commented template parses, and holds exactly the defaults.
    data = yaml.safe_load(TEMPLATE.read_text())
    assert ServingSettings.model_validate(data) == ServingSettings()
    assert load_settings({"REELOPS_SERVING_CONFIG": str(TEMPLATE)}) == ServingSettings()


def test_every_key_of_the_template_is_commented() -> None:
    lines = TEMPLATE.read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-z_]+:", line):
            assert lines[i - 1].startswith("#") or lines[i - 1] == "", line


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "serving.yaml"
    config.write_text(
        "model_tag: reelops-recommender:v1-aaaa\nrate_limit: {burst: 7}\n"
    )
    settings = load_settings(
        {
            "REELOPS_SERVING_CONFIG": str(config),
            "REELOPS_MODEL_TAG": "reelops-recommender:v2-bbbb",
            "REELOPS_API_TOKENS": "a, b,,",
            "REELOPS_FEEDBACK_DB_URL": PG,
            "REELOPS_PROFILE_PATH": "s3://bucket/p",
        }
    )
    assert settings.model_tag == "reelops-recommender:v2-bbbb"
    assert settings.rate_limit.burst == 7
    assert settings.api_tokens() == ["a", "b"]
    assert settings.feedback.url.get_secret_value() == PG
    assert settings.profiling.path == "s3://bucket/p"
    assert "postgresql" not in repr(settings)  # the URL is a secret


def test_default_model_tag_is_the_bento_argument(tmp_path: Path) -> None:
    packed = "reelops-recommender:v3-cccc"
    assert load_settings({}, default_model_tag=packed).model_tag == packed
    assert resolve_model_tag({}, default_model_tag=packed) == packed
    config = tmp_path / "serving.yaml"
    config.write_text("model_tag: reelops-recommender:v4-dddd\n")
    env = {"REELOPS_SERVING_CONFIG": str(config)}
    assert resolve_model_tag(env, default_model_tag=packed).endswith("v4-dddd")
    env["REELOPS_MODEL_TAG"] = "reelops-recommender:v5-eeee"
    assert resolve_model_tag(env, default_model_tag=packed).endswith("v5-eeee")


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_strict_environments_start_with_tokens_postgres_and_remote_profiles(
    tmp_path: Path, env: str
) -> None:
    settings = load_settings(strict_env(tmp_path, env))
    assert settings.api_tokens() == ["token-one", "token-two"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            {"REELOPS_API_TOKENS_FILE": ""},
            "serving settings: staging refuses to start without API tokens: set "
            "REELOPS_API_TOKENS_FILE (a mounted Secret) or REELOPS_API_TOKENS",
            id="no-tokens",
        ),
        pytest.param(
            {"REELOPS_FEEDBACK_DB_URL": "sqlite:///feedback.db"},
            "serving settings: staging needs a PostgreSQL feedback database: set "
            "REELOPS_FEEDBACK_DB_URL, got a SQLite URL",
            id="sqlite",
        ),
        pytest.param(
            {"REELOPS_PROFILE_PATH": "/tmp/profiles"},
            "serving settings: staging writes request profiles to remote storage: "
            "expected a URL such as s3://bucket/profiles, got '/tmp/profiles'",
            id="local-profiles",
        ),
        pytest.param(
            {"REELOPS_METRICS_PORT": ""},
            "serving settings: staging serves /metrics away from the API port: set "
            "metrics.port (or REELOPS_METRICS_PORT), got none",
            id="metrics-on-the-api-port",
        ),
    ],
)
def test_strict_environments_refuse_to_start(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    env = {**strict_env(tmp_path), **change}
    with pytest.raises(ServingConfigError, match=re.escape(message)):
        load_settings(env)


def test_an_empty_token_file_stops_staging_but_not_dev(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n# nothing\n")
    env = strict_env(tmp_path, REELOPS_API_TOKENS_FILE=str(empty))
    settings = load_settings(env)
    with pytest.raises(
        ServingConfigError,
        match=re.escape(
            f"staging refuses to start without API tokens: '{empty}' holds none"
        ),
    ):
        settings.api_tokens()
    missing = {"REELOPS_ENV": "dev", "REELOPS_API_TOKENS_FILE": str(tmp_path / "no")}
    assert load_settings(missing).api_tokens() == []  # dev: the Secret is optional


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(
            "rate_limt: {burst: 1}\n",
            "{path}: unknown key 'rate_limt'",
            id="unknown-key",
        ),
        pytest.param(
            "rate_limit: {burst: 0}\n",
            "{path}: key 'rate_limit.burst': Input should be greater than or equal "
            "to 1, got 0",
            id="bad-value",
        ),
        pytest.param(
            "environment: qa\n",
            "{path}: key 'environment': Input should be 'local', 'dev', 'staging' or "
            "'prod', got 'qa'",
            id="unknown-environment",
        ),
        pytest.param(
            "- a list\n",
            "{path}: expected a mapping at the top level, got list",
            id="list",
        ),
        pytest.param("a: [\n", "{path}: invalid YAML (", id="yaml"),
    ],
)
def test_bad_files_fail_with_one_line(
    tmp_path: Path, content: str, message: str
) -> None:
    config = tmp_path / "serving.yaml"
    config.write_text(content)
    with pytest.raises(ServingConfigError) as caught:
        load_settings({"REELOPS_SERVING_CONFIG": str(config)})
    text = str(caught.value)
    assert text.startswith(message.format(path=config))
    assert "\n" not in text


def test_missing_config_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(
        ServingConfigError,
        match=re.escape(f"REELOPS_SERVING_CONFIG: cannot read '{path}' (No such file"),
    ):
        load_settings({"REELOPS_SERVING_CONFIG": str(path)})


def test_staging_service_refuses_to_start_without_tokens(
    make_client: Any, tmp_path: Path
) -> None:
    # The ASGI app does not start: the middleware and the service check settings.
    with pytest.raises(ServingConfigError, match="staging refuses to start"):
        make_client(
            REELOPS_ENV="staging",
            REELOPS_FEEDBACK_DB_URL=PG,
            REELOPS_PROFILE_PATH="s3://bucket/p",
        )


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_overlay_configs_are_valid(tmp_path: Path, env: str) -> None:
    config = REPO / "deploy" / "overlays" / env / "serving.yaml"
    values = strict_env(tmp_path, env) if env != "dev" else {}
    values.pop("REELOPS_METRICS_PORT", None)  # the overlay names its own
    settings = load_settings({"REELOPS_SERVING_CONFIG": str(config), **values})
    assert settings.environment == env
    assert settings.metrics.port is not None
