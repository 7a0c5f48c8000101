"""The lifecycle replay: policy comparison, request profiles, and a short real run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from matplotlib.figure import Figure

from recsys import BiasBaseline
from reelops.errors import ConfigError
from reelops.nodes.replay import (
    compare_policies,
    plot_replay,
    replay_policy,
    serve_window,
)
from reelops_contracts import REQUEST_PROFILE_COLUMNS
from reelops_monitoring import summarize_view
from tests.conftest import make_project, movielens_dir, run_kedro

REPLAY = {"start": "2017-01-01", "end": "2018-01-01"}


def _timeline(policy: str, rmse: list[float], retrained: list[bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "policy": policy,
            "window": [f"2017-0{3 * i + 1}-01" for i in range(len(rmse))],
            "rmse": rmse,
            "ndcg@10": [0.1] * len(rmse),
            "retrained": retrained,
        }
    )


def test_the_bar_compares_triggered_with_both_other_policies() -> None:
    # GIVEN four windows: retraining helps, the trigger fires twice
    timelines = {
        "replay_never": _timeline("never", [1.0, 1.1, 1.2, 1.3], [False] * 4),
        "replay_every_window": _timeline("every_window", [1.0] * 4, [True] * 4),
        "replay_triggered": _timeline(
            "triggered", [1.0, 1.02, 1.0, 1.02], [False, True, False, True]
        ),
    }
    # WHEN the policies are compared
    table, summary, metrics = compare_policies(REPLAY, **timelines)
    # THEN the table holds every row, the summary every policy and the bar
    assert len(table) == 12
    assert summary["policies"]["triggered"] == {
        "windows": 4,
        "retrains": 2,
        "mean_rmse": 1.01,
        "mean_ndcg@10": 0.1,
    }
    bar = summary["bar"]
    assert bar["rmse_gap_vs_every_window"] == pytest.approx(0.01)
    assert bar["retrain_ratio_vs_every_window"] == 0.5
    assert bar["passed"] is True
    assert metrics["triggered.mean_ndcg_at_10"] == {"value": 0.1, "step": 0}
    # AND a trigger that fires as often as every window fails the bar
    timelines["replay_triggered"] = _timeline("triggered", [1.0] * 4, [True] * 4)
    assert compare_policies(REPLAY, **timelines)[1]["bar"]["passed"] is False


def test_plot_marks_retrains() -> None:
    table = pd.concat(
        [
            _timeline("never", [1.0, 1.1], [False, False]),
            _timeline("triggered", [1.0, 0.9], [False, True]),
        ]
    )
    fig = plot_replay(table)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2


def test_replayed_requests_are_profiled_like_the_service_s() -> None:
    # GIVEN a fitted model and three users, one unknown to it
    train = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 2, 3],
            "movie_id": [10, 20, 10, 30, 20],
            "rating": [4.0, 3.0, 5.0, 2.0, 4.5],
        }
    )
    model = BiasBaseline().fit(train, train["rating"])
    view = serve_window(
        model,
        users=pd.Series([1, 2, 99]).to_numpy(),
        activity={1: "light", 2: "light"},
        start=pd.Timestamp("2018-01-01", tz="UTC"),
        k=2,
    )
    # THEN the profile has the service's columns and one row per request
    summary = summarize_view(view)
    assert set(summary.index) == set(REQUEST_PROFILE_COLUMNS)
    assert summary.loc["latency_ms", "count"] == 3
    assert summary.loc["cold_start", "mean"] == pytest.approx(1 / 3)


def test_an_unknown_policy_is_a_one_line_error() -> None:
    frame = pd.DataFrame(columns=["user_id", "movie_id", "rating", "timestamp"])
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "replay policy must be one of ['never', 'every_window', 'triggered'], "
            "got 'sometimes' instead"
        ),
    ):
        replay_policy(frame, frame, {}, "sometimes", REPLAY)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_short_replay_writes_its_outputs_in_its_own_experiment(
    tmp_path: Path,
) -> None:
    # GIVEN a scratch project and the real ml-latest-small
    project = make_project(tmp_path / "replay")
    env = {
        "MOVIELENS_DIR": str(movielens_dir()),
        "MLFLOW_EXPERIMENT_NAME": "reelops-replay",
    }
    # WHEN 2016 and 2017 are replayed, in yearly windows (fewer profiles: faster)
    run_kedro(
        project,
        "run",
        "--pipeline",
        "replay",
        "--params",
        "replay.start=2016-01-01,replay.end=2018-01-01,replay.freq=Y",
        env=env,
    )
    # THEN every policy served the two windows
    folder = project / "data/08_reporting/replay"
    table = pd.read_csv(folder / "replay.csv")
    assert table.groupby("policy")["window"].count().to_dict() == {
        "every_window": 2,
        "never": 2,
        "triggered": 2,
    }
    assert table["rmse"].notna().all()
    assert table["requests"].gt(0).all()
    retrains = table.groupby("policy")["retrained"].sum().to_dict()
    assert (retrains["never"], retrains["every_window"]) == (0, 2)
    assert table.loc[table["policy"] == "every_window", "model_version"].tolist() == [
        1,
        2,
    ]
    summary = json.loads((folder / "summary.json").read_text())
    assert set(summary["policies"]) == {"never", "every_window", "triggered"}
    assert summary["bar"]["assessed"] is True
    assert (folder / "replay.png").read_bytes()[:4] == b"\x89PNG"
    # AND its models are registered apart, from the reelops-replay experiment
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    assert [m.name for m in client.search_registered_models()] == [
        "reelops-replay-recommender"
    ]
    for alias in ("never", "every_window", "triggered"):
        version = client.get_model_version_by_alias("reelops-replay-recommender", alias)
        run = client.get_run(version.run_id)
        experiment = client.get_experiment(run.info.experiment_id)
        assert experiment.name == "reelops-replay"
        assert version.tags["replay.policy"] == alias
