"""parameters_monitoring.yml and parameters_replay.yml: valid, and what they claim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from reelops._pydantic import parse_config
from reelops.errors import ConfigError
from reelops.nodes.monitoring import WindowConfig
from reelops.nodes.reference import ReferenceConfig
from reelops.nodes.replay import ReplayConfig
from reelops_monitoring import MonitoringConfig

CONF = Path(__file__).resolve().parents[2] / "conf" / "base"


def _params(name: str) -> dict:
    return yaml.safe_load((CONF / name).read_text(encoding="utf-8"))


def test_monitoring_block_is_the_calibrated_default() -> None:
    # GIVEN the committed monitoring parameters
    params = _params("parameters_monitoring.yml")
    # THEN they are exactly MonitoringConfig's defaults (calibrated by the bench)
    assert MonitoringConfig.model_validate(params["monitoring"]) == MonitoringConfig()


def test_window_and_reference_blocks_are_the_defaults() -> None:
    params = _params("parameters_monitoring.yml")
    assert WindowConfig.model_validate(params["monitoring_window"]) == WindowConfig()
    reference = ReferenceConfig.model_validate(params["monitoring_reference"])
    assert reference == ReferenceConfig()


def test_replay_triggers_on_the_same_thresholds() -> None:
    # GIVEN the replay parameters
    replay = ReplayConfig.model_validate(_params("parameters_replay.yml")["replay"])
    # THEN the triggered policy uses the monitoring defaults and the bias model
    assert replay.monitoring == MonitoringConfig()
    assert replay.estimator.name == "bias"
    registry = _params("catalog_monitoring.yml")["replay_{policy}.registered_model"]
    assert registry["model_name"] == "reelops-replay-recommender"


def test_replay_namespaces_name_their_policy() -> None:
    params = _params("parameters_replay.yml")
    assert {k: v["policy"] for k, v in params.items() if k != "replay"} == {
        "replay_never": "never",
        "replay_every_window": "every_window",
        "replay_triggered": "triggered",
    }


def test_an_unknown_window_key_is_a_one_line_error() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "parameters 'monitoring_window': unknown key 'length' "
            "(expected one of: days, end, time_column)"
        ),
    ):
        parse_config(WindowConfig, {"length": 90}, "parameters 'monitoring_window'")


@pytest.mark.parametrize(
    ("drift", "message"),
    [
        (
            {"small_sample_users": 1},
            "parameters 'monitoring': key 'drift.small_sample_users': Input should "
            "be greater than or equal to 2, got 1",
        ),
        (
            {
                "columns": {
                    "new_user": {
                        "algorithm": "ks",
                        "possible_drift": 0.3,
                        "drift": 0.9,
                        "small_sample_users": 0,
                    }
                }
            },
            "parameters 'monitoring': key 'drift.columns.new_user.small_sample_users': "
            "Input should be greater than or equal to 2, got 0",
        ),
        (
            {"small_sample_quantile": 1.5},
            "parameters 'monitoring': key 'drift.small_sample_quantile': Input "
            "should be less than 1, got 1.5",
        ),
    ],
)
def test_a_bad_small_sample_setting_is_a_one_line_error(
    drift: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        parse_config(MonitoringConfig, {"drift": drift}, "parameters 'monitoring'")


def test_a_column_setting_falls_back_to_the_drift_wide_one() -> None:
    drift = MonitoringConfig().drift
    columns = drift.columns
    assert drift.min_users_of(columns["half_star"]) == 2
    assert drift.min_users_of(columns["genre"]) == drift.min_users == 5
    assert drift.min_users_of(None) == 5
    assert drift.small_sample_users_of(columns["new_user"]) == 20
    assert drift.small_sample_users_of(columns["genre"]) is None
    wide = drift.model_copy(update={"small_sample_users": 30})
    assert wide.small_sample_users_of(columns["genre"]) == 30
    assert wide.small_sample_users_of(columns["new_user"]) == 20
