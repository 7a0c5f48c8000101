"""The monitoring stage's node functions, on real MovieLens slices (no Kedro run)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from recsys import BiasBaseline
from reelops.errors import ConfigError
from reelops.nodes.feedback import training_data_tags, union_feedback
from reelops.nodes.monitoring import (
    accept_feedback,
    decide_retrain,
    evaluate_deployed_model,
    profile_window,
    screen_window_raters,
    select_feedback_window,
    summarize_serving,
)
from reelops.nodes.monitoring_report import plot_monitoring
from reelops.nodes.reference import (
    build_reference_profile,
    evaluate_holdout,
    summarize_reference_movies,
    summarize_reference_users,
)
from reelops.retrain import main as retrain_cli
from reelops.window_profiles import (
    RecentConfig,
    reference_profiles,
    reference_views,
    training_reference,
)
from reelops_contracts import STATUS_ENDPOINTS, STATUS_PROFILE_COLUMNS, status_row
from reelops_monitoring import MonitoringConfig, merge_views, profile_view
from reelops_monitoring.scenarios import bot_burst, inflate_ratings, null_timestamps

REPO = Path(__file__).resolve().parents[2]
MONITORING = MonitoringConfig().model_dump()
EVALUATION = {"k": 10}
CHECKSUMS = {"ratings": "a" * 64, "movies": "b" * 64}
COLUMNS = ["user_id", "movie_id", "rating", "timestamp"]


def _seconds(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").timestamp())


@pytest.fixture(scope="module")
def ratings(real_movielens: Path) -> pd.DataFrame:
    return pd.read_csv(real_movielens / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "movie_id"}
    )


@pytest.fixture(scope="module")
def movies(real_movielens: Path) -> pd.DataFrame:
    return pd.read_csv(real_movielens / "movies.csv").rename(
        columns={"movieId": "movie_id"}
    )


@pytest.fixture(scope="module")
def validation() -> dict:
    path = REPO / "conf/base/parameters_data_processing.yml"
    return yaml.safe_load(path.read_text())["validation"]


@pytest.fixture(scope="module")
def history(ratings: pd.DataFrame) -> pd.DataFrame:
    """Three years of ratings (2015-2017): the training data of these tests."""
    ts = ratings["timestamp"]
    return ratings[(ts >= _seconds("2015-01-01")) & (ts < _seconds("2018-01-01"))]


@pytest.fixture(scope="module")
def window(ratings: pd.DataFrame) -> pd.DataFrame:
    """2018Q3, as the feedback table stores it (arrival = rating time)."""
    ts = ratings["timestamp"]
    rows = ratings[(ts >= _seconds("2018-07-01")) & (ts < _seconds("2018-10-01"))]
    return rows.assign(received_at=rows["timestamp"], model_version="v1")


@pytest.fixture(scope="module")
def model(history: pd.DataFrame) -> BiasBaseline:
    return BiasBaseline().fit(history[COLUMNS], history["rating"].to_numpy())


@pytest.fixture(scope="module")
def reference(history: pd.DataFrame, movies: pd.DataFrame):
    return merge_views(view for _, view in reference_views(history, movies))


WINDOW_INFO = {
    "start": "2018-07-01T00:00:00+00:00",
    "end": "2018-10-01T00:00:00+00:00",
    "days": 92,
    "time_column": "received_at",
    "label": "window-20181001T000000",
}


def test_an_infinite_drift_score_is_drawn_past_its_threshold(
    reference, window: pd.DataFrame, movies: pd.DataFrame, model: BiasBaseline
) -> None:
    # GIVEN a decision whose genre score is infinite (null in JSON, DRIFT)
    decision = _decide(reference, window, movies, model)
    genre = decision["scores"]["drift"]["columns"]["genre"]
    genre.update(score=None, category="DRIFT")
    # WHEN the drift scores are plotted
    figure = plot_monitoring(decision, MONITORING)["drift_scores"]
    # THEN its bar stands above the DRIFT threshold, labelled "inf"
    ax = figure.axes[0]
    names = list(decision["scores"]["drift"]["columns"])
    bar = ax.patches[names.index("genre")]
    threshold = MonitoringConfig.model_validate(MONITORING).drift.columns["genre"]
    assert bar.get_height() > threshold.drift
    assert "inf" in [t.get_text() for t in ax.texts]


def _decide(reference, window_rows, movies, model, holdout=None, serving=None):
    """The monitoring pipeline's nodes on one window, in the pipeline's order."""
    return _monitor(reference, window_rows, movies, model, holdout, serving)[0]


def _monitor(
    reference,
    window_rows,
    movies,
    model,
    holdout=None,
    serving=None,
    *,
    version: str = "3",
    traffic: tuple[dict, dict] = ({}, {}),
):
    """``decide_retrain``'s outputs for one window served by ``model`` v``version``."""
    info = {**WINDOW_INFO, "n_rows": len(window_rows)}
    screened, screen, _ = screen_window_raters(window_rows, info, MONITORING)
    performance, _, predictions = evaluate_deployed_model(
        deployed_model={
            "model": model,
            "info": {"model_name": "m", "version": version},
        },
        window_feedback=screened,
        evaluation=EVALUATION,
    )
    habits = pd.DataFrame({"user_id": [1], "half_star_share": [0.5]})
    head = pd.DataFrame({"movie_id": [1, 2], "n_ratings": [9, 8]})
    view, _ = profile_window(
        window_feedback=screened,
        movies=movies,
        window_performance=performance,
        window_predictions=predictions,
        window_info=info,
        user_habits=habits,
        movie_head=head,
    )
    return decide_retrain(
        reference_profile=reference,
        traffic_history=traffic[0],
        traffic_metrics_history=traffic[1],
        window_profile=view,
        reference_summary={"data_sha256": "f" * 64, "n_ratings": 1},
        holdout_metrics=holdout or {"assessed": False, "reason": "none"},
        window_info=info,
        window_performance=performance,
        serving_summary=serving or {"available": False, "reason": "none"},
        monitoring=MONITORING,
        movie_head=head,
        rater_screen=screen,
    )


def test_residuals_are_compared_only_with_what_the_same_model_served(
    reference, window: pd.DataFrame, movies: pd.DataFrame, model: BiasBaseline
) -> None:
    from reelops.window_profiles import traffic_key

    # GIVEN the window, served by v3 and kept as the quarter before the next one
    *_, kept, kept_metrics = _monitor(reference, window, movies, model)
    [(key, view)] = kept.items()
    [(_, metrics)] = kept_metrics.items()
    earlier = traffic_key("2018-04-01T00:00:00+00:00", "2018-07-01T00:00:00+00:00")
    traffic = ({earlier: view}, {earlier: metrics})
    assert key == traffic_key(WINDOW_INFO["start"], WINDOW_INFO["end"])
    # WHEN the next window (every rating +0.5) is served by v3
    inflated = window.assign(rating=(window["rating"] + 0.5).clip(upper=5.0))
    same = _monitor(reference, inflated, movies, model, traffic=traffic)[0]
    # THEN its residuals are judged against the window v3 served: drift
    assert same["reference"]["deployment_windows"] == [earlier]
    assert any(
        r.startswith("drift in 'known_user_residual'") and r.endswith("vs deployment)")
        for r in same["reasons"]
    )
    # WHEN it is served by v4 (a retrain in between): v3's residuals say nothing
    # of v4's; they are not assessed, and the note says why
    other = _monitor(reference, inflated, movies, model, version="4", traffic=traffic)
    decision = other[0]
    assert decision["reference"]["traffic_windows"] == [earlier]
    assert decision["reference"]["deployment_windows"] == []
    residual = decision["scores"]["drift"]["columns"]["known_user_residual"]
    assert (residual["reference"], residual["score"]) == (None, None)
    assert not any(r.startswith("drift in 'known_user_") for r in decision["reasons"])
    assert any(
        n.startswith(
            "no earlier window of served traffic was served by this deployment"
        )
        and "known_user_residual" in n
        for n in decision["notes"]
    )
    # AND the window is kept under v4's name, not v3's
    [(_, v4_metrics)] = other[5].items()
    assert v4_metrics["deployment"] != metrics["deployment"]


# ------------------------------------------------------------- feedback union


def test_without_feedback_training_reads_the_ratings(history: pd.DataFrame) -> None:
    union, lineage = union_feedback(history, {}, CHECKSUMS, {"enabled": True})
    assert union.equals(history[COLUMNS].reset_index(drop=True))
    assert lineage["feedback_rows"] == 0
    assert lineage["sha256"] == lineage["raw_sha256"]
    assert training_data_tags(lineage) == {"feedback.rows": "0"}


def test_feedback_is_appended_once_and_the_latest_rating_wins(
    history: pd.DataFrame,
) -> None:
    # GIVEN two overlapping partitions; one re-rates a pair of the ratings
    known = history.iloc[[0]]
    rerated = known.assign(rating=0.5, timestamp=known["timestamp"] + 10)
    new = pd.DataFrame(
        {"user_id": [99999], "movie_id": [1], "rating": [4.0], "timestamp": [1]}
    )
    partitions = {
        "window-a": pd.concat([rerated, new]),
        "window-b": new,
    }
    # WHEN they are appended
    union, lineage = union_feedback(history, partitions, CHECKSUMS, {"enabled": True})
    # THEN the new rating is there once, the re-rating replaced the old one
    assert len(union) == len(history) + 1
    pair = union[
        (union["user_id"] == known["user_id"].iloc[0])
        & (union["movie_id"] == known["movie_id"].iloc[0])
    ]
    assert pair["rating"].tolist() == [0.5]
    # AND the lineage digest is no longer the raw files' (promotion tells them apart)
    assert lineage["feedback_rows"] == 2
    assert lineage["sha256"] != lineage["raw_sha256"]
    tags = training_data_tags(lineage)
    assert tags["sha256"] == lineage["sha256"]
    assert tags["sha256.raw"] == lineage["raw_sha256"]


def test_feedback_union_can_be_disabled(history: pd.DataFrame) -> None:
    partitions = {"w": history.iloc[:3]}
    union, lineage = union_feedback(history, partitions, CHECKSUMS, {"enabled": False})
    assert len(union) == len(history)
    assert lineage["feedback_rows"] == 0


# ----------------------------------------------------------- window and accept


def test_the_window_is_the_days_before_end(window: pd.DataFrame) -> None:
    rows, info = select_feedback_window(
        window, {"days": 30, "end": "2018-09-01", "time_column": "received_at"}
    )
    assert info["start"] == "2018-08-02T00:00:00+00:00"
    assert info["end"] == "2018-09-01T00:00:00+00:00"
    assert info["n_rows"] == len(rows) > 0
    low, high = _seconds("2018-08-02"), _seconds("2018-09-01") - 1
    assert rows["received_at"].between(low, high).all()


def test_accepted_feedback_follows_the_ingestion_rules(
    movies: pd.DataFrame, validation: dict
) -> None:
    # GIVEN feedback with a valid rating, a re-rating, and three invalid rows
    day = _seconds("2018-09-01")
    feedback = pd.DataFrame(
        {
            "user_id": [1, 1, 2, 3, 4, 5],
            "movie_id": [1, 1, 1, 999_999_999, 1, 1],
            "rating": [3.0, 4.5, 4.3, 4.0, 4.0, 4.0],
            "timestamp": [day, day + 60, day, day, None, _seconds("2019-01-01")],
        }
    )
    # WHEN it is validated for the window ending 2018-10-01
    partitions = accept_feedback(feedback, movies, validation, WINDOW_INFO)
    # THEN off-grid, unknown movie, missing and future timestamps are left out
    ((label, accepted),) = partitions.items()
    assert label == "window-20181001T000000"
    assert accepted[COLUMNS].to_dict("records") == [
        {"user_id": 1, "movie_id": 1, "rating": 4.5, "timestamp": day + 60}
    ]


# --------------------------------------------------------------------- serving


def _requests(n: int, latency: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "timestamp": np.arange(n, dtype=float),
            "endpoint": "/recommend",
            "cold_start": np.arange(n) % 4 == 0,
            "top_score": np.where(np.arange(n) % 10 == 0, np.nan, 1.0),
            "latency_ms": np.full(n, latency),
        }
    )


def test_serving_summary_merges_the_window_days_only() -> None:
    profiles = {
        "2018-07-01/requests-a": profile_view(_requests(100, 5.0)),
        "2018-09-15/requests-b": profile_view(_requests(100, 7.0)),
        "2018-06-30/requests-c": profile_view(_requests(50, 500.0)),
    }
    summary = summarize_serving(profiles, WINDOW_INFO)
    assert summary["available"] is True
    assert summary["files"] == 2
    assert summary["requests"] == 200
    assert summary["latency_ms"]["max"] == 7.0
    assert summary["error_rate"] == pytest.approx(0.1)
    assert summary["cold_start_rate"] == pytest.approx(0.25)


def test_no_serving_profile_is_a_reason_not_an_error() -> None:
    summary = summarize_serving({}, WINDOW_INFO)
    assert summary == {
        "available": False,
        "reason": "no serving request profile for 2018-07-01..2018-10-01 "
        "(0 profile file(s) in the folder, none in the window)",
        "files": 0,
        "answers": {
            "available": False,
            "reason": "no status profile for 2018-07-01..2018-10-01 (a service "
            "writes them every flush_interval_seconds and at shutdown; services "
            "before status profiling wrote none)",
            "files": 0,
        },
    }


def _answers(n: int, *, errors: int = 0, slow: int = 0) -> pd.DataFrame:
    """``n`` API answers as the service's status profiler records them."""
    rows = []
    for i in range(n):
        endpoint = STATUS_ENDPOINTS[i % len(STATUS_ENDPOINTS)]
        status = 503 if i < errors else (422 if i % 50 == 0 else 200)
        latency = 900.0 if i < slow and endpoint == "/recommend" else 4.0
        rows.append(status_row(float(i), endpoint, status, latency))
    return pd.DataFrame.from_records(rows, columns=list(STATUS_PROFILE_COLUMNS))


def test_status_profiles_give_answer_counts_and_latency_by_endpoint() -> None:
    # GIVEN status profiles of two days of the window (and one outside it)
    profiles = {
        "2018-07-01/status-a": profile_view(_answers(400, errors=8)),
        "2018-09-15/status-b": profile_view(_answers(400)),
        "2018-06-01/status-c": profile_view(_answers(400, errors=400)),
        "2018-07-01/requests-a": profile_view(_requests(100, 5.0)),
    }
    summary = summarize_serving(profiles, WINDOW_INFO)
    # THEN the recommendation rows are summarized as before, the answers apart
    assert summary["requests"] == 100
    answers = summary["answers"]
    assert (answers["available"], answers["files"], answers["requests"]) == (
        True,
        2,
        800,
    )
    assert answers["by_class"] == {"2xx": 777, "4xx": 15, "5xx": 8}
    assert answers["by_status"] == {"200": 777, "422": 15, "503": 8}
    assert set(answers["latency_ms"]) == set(STATUS_ENDPOINTS)
    assert answers["latency_ms"]["/predict"]["count"] == 200
    assert answers["latency_ms"]["/predict"]["p99"] == 4.0


def test_errors_and_latency_page_a_human_without_a_retrain(
    reference, window: pd.DataFrame, movies: pd.DataFrame, model: BiasBaseline
) -> None:
    # GIVEN the calm window, served with 3 % server errors, then with a slow
    # /recommend (p99 900 ms)
    calm = summarize_serving(
        {"2018-08-01/status-a": profile_view(_answers(1000))}, WINDOW_INFO
    )
    failing = summarize_serving(
        {"2018-08-01/status-a": profile_view(_answers(1000, errors=30))}, WINDOW_INFO
    )
    slow = summarize_serving(
        {"2018-08-01/status-a": profile_view(_answers(1000, slow=200))}, WINDOW_INFO
    )
    ok = _decide(reference, window, movies, model, serving=calm)
    errors = _decide(reference, window, movies, model, serving=failing)
    latency = _decide(reference, window, movies, model, serving=slow)
    # THEN the calm one is ok; the others page a human and do not retrain
    assert (ok["status"], ok["page"], ok["page_reasons"]) == ("ok", False, [])
    assert ok["serving"]["health"]["rate_4xx"] == pytest.approx(0.02)
    for decision in (errors, latency):
        assert (decision["retrain"], decision["status"], decision["page"]) == (
            False,
            "page",
            True,
        )
        assert decision["reasons"] == []
    assert errors["page_reasons"] == [
        "page: 5xx rate 3.00% > 1.00% (30 of 1,000 API answers; errors are not "
        "fixed by retraining)"
    ]
    assert latency["page_reasons"] == [
        "page: /recommend p99 latency 900 ms > 100 ms (250 answers; latency is "
        "not fixed by retraining)"
    ]


def test_a_bot_is_quarantined_and_pages_a_human_without_a_retrain(
    reference, window: pd.DataFrame, movies: pd.DataFrame, model: BiasBaseline
) -> None:
    # GIVEN the calm window, and the same with a bot adding 20 % more ratings, 5.0
    botted = bot_burst(window[COLUMNS], share=0.2, seed=0)
    botted = botted.assign(received_at=botted["timestamp"], model_version="v1")
    bot = int(botted["user_id"].max())
    info = {**WINDOW_INFO, "n_rows": len(botted)}
    # WHEN the window is screened
    kept, screen, quarantine = screen_window_raters(botted, info, MONITORING)
    # THEN the bot's rows are the quarantine partition, the rest is the window
    ((label, held),) = quarantine.items()
    assert label == "window-20181001T000000"
    assert set(held["user_id"]) == {bot} and len(held) == len(botted) - len(window)
    assert len(kept) == len(window) and bot not in set(kept["user_id"])
    assert [f["user_id"] for f in screen["flagged"]] == [bot]
    assert screen_window_raters(window, info, MONITORING)[2] == {}
    # AND the decision pages a human and judges the rest as the calm window
    calm = _decide(reference, window, movies, model)
    paged = _decide(reference, botted, movies, model)
    assert (paged["retrain"], paged["status"], paged["page"]) == (False, "page", True)
    assert paged["page_reasons"] == [paged["reasons"][-1]]
    assert paged["reasons"][:-1] == calm["reasons"]
    assert paged["reasons"][-1].startswith(
        f"suspicious rater quarantined: user {bot} gave {len(held):,} ratings, "
        "100% of them 5 (limit 90% of one value)"
    )
    # (the same rows: equal up to the jitter of whylogs' quantile sketches)
    judged, seen = paged["scores"]["drift"], calm["scores"]["drift"]
    assert judged["n_rows"] == seen["n_rows"] == len(window)
    for name, column in judged["columns"].items():
        assert column["category"] == seen["columns"][name]["category"], name
        expected = seen["columns"][name]["score"]
        assert column["score"] == (expected and pytest.approx(expected, rel=0.1))


# -------------------------------------------------------------------- decision


def test_the_deployed_model_is_scored_and_other_served_models_are_noted(
    model: BiasBaseline, window: pd.DataFrame
) -> None:
    # GIVEN the model staging serves (v2 of run abcdef12...), and a window of
    # feedback of which some rows were answered by another model
    info = {
        "served_by": "alias",
        "alias": "staging",
        "model_name": "m",
        "version": "2",
        "run_id": "abcdef1234",
        "data_sha256": "d" * 64,
        "note": "",
    }
    tags = ["m:v2-abcdef12"] * (len(window) - 1) + ["m:v1-00000000"]
    performance, _, predictions = evaluate_deployed_model(
        deployed_model={"model": model, "info": info},
        window_feedback=window.assign(model_version=tags),
        evaluation=EVALUATION,
    )
    # one prediction per rated row, the pairs of the window
    assert len(predictions) == performance["n_feedback"] == len(window)
    assert predictions[["user_id", "movie_id"]].to_numpy().tolist() == (
        window[["user_id", "movie_id"]].to_numpy().tolist()
    )
    # THEN it is scored, named, and the note says who else answered
    assert performance["model"]["alias"] == "staging"
    assert performance["model"]["data_sha256"] == "d" * 64
    assert performance["model"]["note"] == (
        "part of the window was served by m:v1-00000000"
    )
    assert performance["n_feedback"] == len(window)
    assert {"rmse", "ndcg@10"} <= set(performance["metrics"])
    # AND nothing served is a reason, not an error
    nothing = {**info, "version": None, "note": "no bento in /x: nothing is served"}
    none, *_ = evaluate_deployed_model(
        deployed_model={"model": None, "info": nothing},
        window_feedback=window,
        evaluation=EVALUATION,
    )
    assert none["metrics"] is None
    assert none["reason"] == "no bento in /x: nothing is served"


def test_holdout_metrics_come_from_the_last_days(
    model: BiasBaseline, history: pd.DataFrame
) -> None:
    holdout = evaluate_holdout(model, history, {"holdout_days": 90}, EVALUATION)
    assert holdout["assessed"] is True
    assert holdout["protocol"]["holdout_start"] >= "2017-10-01"
    assert holdout["protocol"]["n_fit"] + holdout["protocol"]["n_holdout"] == len(
        history
    )
    assert holdout["metrics"]["rmse"] > 0
    assert evaluate_holdout(None, history, {}, EVALUATION)["assessed"] is False


def test_decision_has_the_shape_promotion_reads(
    reference,
    window: pd.DataFrame,
    movies: pd.DataFrame,
    model: BiasBaseline,
    history: pd.DataFrame,
) -> None:
    holdout = evaluate_holdout(model, history, {"holdout_days": 90}, EVALUATION)
    decision = _decide(reference, window, movies, model, holdout)
    assert {"retrain", "reasons", "scores", "data_sha256", "status"} <= set(decision)
    assert isinstance(decision["retrain"], bool)
    assert decision["data_sha256"] == "f" * 64  # no run tag: the reference's
    assert set(decision["scores"]) == {"drift", "quality", "decay", "raters"}
    assert decision["scores"]["decay"]["assessed"] is True
    json.dumps(decision)  # JSON-ready


def test_inflated_ratings_ask_for_a_retrain_because_of_the_rating(
    reference, window: pd.DataFrame, movies: pd.DataFrame, model: BiasBaseline
) -> None:
    # GIVEN the window as it is, and every user's ratings +0.5 stars
    plain = _decide(reference, window, movies, model)
    drifted = inflate_ratings(window, share=1.0, seed=0)
    inflated = _decide(reference, drifted, movies, model)
    # THEN the window as it is raises nothing; the inflated one drifts on the
    # ratings of new users (the window's users are new to the model)
    assert (plain["retrain"], plain["reasons"], plain["status"]) == (False, [], "ok")
    assert inflated["retrain"] is True
    assert inflated["status"] == "retrain"
    assert any(r.startswith("drift in 'new_user_rating'") for r in inflated["reasons"])


def test_null_timestamps_block_retraining(
    reference, window: pd.DataFrame, movies: pd.DataFrame, model: BiasBaseline
) -> None:
    broken = null_timestamps(window).assign(received_at=window["received_at"])
    decision = _decide(reference, broken, movies, model)
    assert decision["retrain"] is False
    assert decision["status"] == "blocked"
    assert any(
        r.startswith("quality check failed: timestamp") for r in decision["reasons"]
    )


def test_an_empty_window_is_not_enough_feedback(
    reference, window: pd.DataFrame, movies: pd.DataFrame, model: BiasBaseline
) -> None:
    decision = _decide(reference, window.iloc[:0], movies, model)
    assert decision["retrain"] is False
    assert decision["reasons"] == []
    assert decision["status"] == "not_enough_feedback"
    assert decision["notes"][0] == (
        "not enough feedback: 0 rating(s) from 2018-07-01 to 2018-10-01 "
        "(drift needs 200, decay 200)"
    )


# ---------------------------------------------------------------- retrain CLI


@pytest.fixture
def decisions(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, body in {
        "yes": {"retrain": True, "reasons": ["drift in 'rating'"], "status": "retrain"},
        "no": {"retrain": False, "reasons": [], "status": "ok"},
        "bad": {"reasons": []},
    }.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(body))
    return paths


@pytest.mark.parametrize(("name", "code"), [("yes", 0), ("no", 1)])
def test_retrain_cli_exit_code_says_whether_to_retrain(
    decisions: dict[str, Path], name: str, code: int
) -> None:
    result = CliRunner().invoke(retrain_cli, ["--should-retrain", str(decisions[name])])
    assert result.exit_code == code


def test_retrain_cli_prints_for_argo(decisions: dict[str, Path]) -> None:
    runner = CliRunner()
    for name, text in (("yes", "true"), ("no", "false")):
        args = ["--should-retrain", "--print", str(decisions[name])]
        result = runner.invoke(retrain_cli, args)
        assert (result.exit_code, result.stdout) == (0, text)


def test_retrain_cli_prints_the_status_for_argo_metrics(
    decisions: dict[str, Path], tmp_path: Path
) -> None:
    # GIVEN decisions of every status, and one written before decisions had one
    runner = CliRunner()
    bodies = {
        "blocked": {"retrain": False, "status": "blocked"},
        "not_enough_feedback": {"retrain": False, "status": "not_enough_feedback"},
        "legacy": {"retrain": True},
        "retrain_page": {"retrain": True, "status": "retrain", "page": True},
        "blocked_page": {"retrain": False, "status": "blocked", "page": True},
        "page": {"retrain": False, "status": "page", "page": True},
    }
    for name, body in bodies.items():
        decisions[name] = tmp_path / f"{name}.json"
        decisions[name].write_text(json.dumps(body))
    # WHEN the check prints the status, THEN it is the status (retrain: the flag)
    for name, text in (
        ("yes", "retrain"),
        ("no", "ok"),
        ("blocked", "blocked"),
        ("not_enough_feedback", "not_enough_feedback"),
        ("legacy", "retrain"),
        ("retrain_page", "retrain_page"),
        ("blocked_page", "blocked_page"),
        ("page", "page"),
    ):
        args = ["--should-retrain", "--print-status", str(decisions[name])]
        result = runner.invoke(retrain_cli, args)
        assert (result.exit_code, result.stdout) == (0, text), name


@pytest.mark.parametrize(
    ("body", "got"),
    [
        ({"retrain": False, "status": "drifting"}, "'drifting' with retrain False"),
        ({"retrain": True, "status": "ok"}, "'ok' with retrain True"),
        ({"retrain": False, "status": "retrain"}, "'retrain' with retrain False"),
    ],
)
def test_retrain_cli_refuses_an_unknown_or_contradicting_status(
    tmp_path: Path, body: dict[str, object], got: str
) -> None:
    path = tmp_path / "decision.json"
    path.write_text(json.dumps(body))
    result = CliRunner().invoke(
        retrain_cli, ["--should-retrain", "--print-status", str(path)]
    )
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: decision status must be one of ['retrain', 'ok', 'blocked', "
        f"'not_enough_feedback', 'page'] and 'retrain' only when retrain is true, got {got}"
    )


def test_retrain_cli_prints_one_thing(decisions: dict[str, Path]) -> None:
    args = ["--should-retrain", "--print", "--print-status", str(decisions["yes"])]
    result = CliRunner().invoke(retrain_cli, args)
    assert result.exit_code == 2
    assert "--print and --print-status exclude each other" in result.output


def test_retrain_cli_without_a_decision_exits_2(
    decisions: dict[str, Path], tmp_path: Path
) -> None:
    runner = CliRunner()
    bad = runner.invoke(retrain_cli, ["--should-retrain", str(decisions["bad"])])
    assert bad.exit_code == 2
    assert bad.output.strip() == (
        f"Error: {decisions['bad']}: expected a decision with a boolean 'retrain', "
        "got None"
    )
    missing = runner.invoke(retrain_cli, ["--should-retrain", str(tmp_path / "x.json")])
    assert missing.exit_code == 2
    assert re.match(r"Error: no readable decision in .*x\.json: ", missing.output)


def test_retrain_cli_runs_as_a_module(decisions: dict[str, Path]) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "reelops.retrain",
            "--should-retrain",
            str(decisions["yes"]),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stderr.splitlines() == ["retrain (retrain)", "  - drift in 'rating'"]


def test_holdout_metrics_reach_mlflow_unprefixed_and_only_when_assessed() -> None:
    from reelops.nodes.reference import holdout_mlflow_metrics

    assessed = {
        "assessed": True,
        "metrics": {"rmse": 0.91, "ndcg@10": 0.2, "n_users": 12, "ok": True},
        "protocol": {"holdout_days": 90},
    }
    assert holdout_mlflow_metrics(assessed) == {
        "rmse": {"value": 0.91, "step": 0},
        "ndcg_at_10": {"value": 0.2, "step": 0},
        "n_users": {"value": 12.0, "step": 0},
    }
    skipped = {"assessed": False, "reason": "no rating after 2018", "protocol": {}}
    assert holdout_mlflow_metrics(skipped) == {}


# ----------------------------------------------- ordinary traffic (issue 17)


def test_ranking_decay_ignores_the_movies_the_model_was_trained_on(
    model: BiasBaseline, history: pd.DataFrame, reference, movies: pd.DataFrame
) -> None:
    # GIVEN a window of ratings the deployed model was trained on, replayed as
    # feedback (the recommender rightly never offers these movies again)
    replayed = history.tail(2000).assign(
        received_at=_seconds("2018-08-01"), model_version="v1"
    )
    holdout = evaluate_holdout(model, history, {"holdout_days": 90}, EVALUATION)
    decision = _decide(reference, replayed, movies, model, holdout)
    # THEN the ranking metrics are not measured on them, so they cannot decay
    decay = decision["scores"]["decay"]
    assert decay["unmeasured"] == ["ndcg@10"]
    assert not [r for r in decision["reasons"] if r.startswith("decay in 'ndcg@10'")]
    window = decision["performance"]["window"]
    assert window["n_ranked"] == 0
    assert "ndcg@10" not in window
    assert window["n_test"] == 2000


def test_ranking_metrics_rest_on_the_unrated_pairs_only(
    model: BiasBaseline, history: pd.DataFrame, window: pd.DataFrame
) -> None:
    # GIVEN a window mixing new ratings with ratings the model was trained on
    seen = history.tail(300).assign(received_at=window["received_at"].iloc[0])
    mixed = pd.concat([window, seen], ignore_index=True)
    performance, *_ = evaluate_deployed_model(
        deployed_model={"model": model, "info": {"version": "1"}},
        window_feedback=mixed,
        evaluation=EVALUATION,
    )
    alone, *_ = evaluate_deployed_model(
        deployed_model={"model": model, "info": {"version": "1"}},
        window_feedback=window,
        evaluation=EVALUATION,
    )
    metrics = performance["metrics"]
    # THEN RMSE covers every rated pair, the ranking only the unrated ones
    assert metrics["n_test"] == len(mixed)
    assert metrics["n_ranked"] == len(window) == alone["metrics"]["n_ranked"]
    assert metrics["ndcg@10"] == alone["metrics"]["ndcg@10"]
    assert metrics["rmse"] != alone["metrics"]["rmse"]
    # AND each rests on its own users: the users ranked, Kish's effective users
    # of every rated pair, (sum m)^2 / sum m^2 of their ratings m
    assert metrics["ranked_users"] == window["user_id"].nunique()
    per_user = mixed["user_id"].value_counts()
    assert metrics["effective_users"] == pytest.approx(
        len(mixed) ** 2 / (per_user**2).sum(), abs=1e-3
    )
    assert metrics["effective_users"] < metrics["n_users"]
    # AND the ranked users' values are summed by stratum (known or new, relevant
    # movies in powers of four): as many users, the same mean
    strata = metrics["ranking_strata"]["ndcg@10"]
    assert sum(n for n, _, _ in strata.values()) == metrics["ranked_users"]
    assert sum(t for _, t, _ in strata.values()) / metrics["ranked_users"] == (
        pytest.approx(metrics["ndcg@10"], abs=1e-6)
    )
    known = set(window["user_id"]) & set(model.user_ids_.tolist())
    assert sum(n for key, (n, _, _) in strata.items() if key.startswith("known:")) == (
        len(known)
    )
    assert "coverage@10" not in metrics["ranking_strata"]


def test_traffic_reference_chains_disjoint_earlier_windows(
    window: pd.DataFrame, movies: pd.DataFrame
) -> None:
    from reelops.window_profiles import traffic_key, traffic_reference, window_view

    view = window_view(window, movies, [], "2018-07-01T00:00:00+00:00")
    days = ["2018-01-01", "2018-02-01", "2018-04-01", "2018-05-01", "2018-07-01"]
    # 90-day windows ending on each day (overlapping, as daily runs make them)
    history = {
        traffic_key(
            (pd.Timestamp(d, tz="UTC") - pd.Timedelta(days=90)).isoformat(),
            pd.Timestamp(d, tz="UTC").isoformat(),
        ): view
        for d in days
    }
    history["not-a-window"] = view
    found = traffic_reference(history, "2018-07-01T00:00:00+00:00", 3)
    # THEN from the window ending at the start, back through disjoint windows
    ends = [key.split("-")[1][:8] for key in found["windows"]]
    assert ends == ["20180701", "20180401", "20180101"]
    assert found["profile"] is not None
    # AND a window starting earlier sees only what ended before it
    assert traffic_reference(history, "2017-12-31T00:00:00+00:00", 3) == {
        "profile": None,
        "windows": [],
        "metrics": None,
        "deployment": None,
        "deployment_windows": [],
    }
    # AND the metrics kept beside the chosen windows are averaged
    metrics = {key: {"rmse": 0.9, "n_users": 10} for key in history}
    metrics[found["windows"][0]] = {"rmse": 1.2, "n_users": 20}
    averaged = traffic_reference(history, "2018-07-01T00:00:00+00:00", 2, metrics)
    assert averaged["metrics"] == {
        "rmse": pytest.approx(1.05),
        "n_users": pytest.approx(15),
        "standard_errors": {},
        "ranking_strata": {},
    }
    # AND the ranked users of the windows are pooled stratum by stratum
    metrics[found["windows"][0]]["ranking_strata"] = {
        "ndcg@10": {"known:2": [3, 0.6, 0.14], "new:5": [1, 0.5, 0.25]}
    }
    metrics[found["windows"][1]]["ranking_strata"] = {
        "ndcg@10": {"known:2": [2, 0.1, 0.01]}
    }
    pooled = traffic_reference(history, "2018-07-01T00:00:00+00:00", 2, metrics)
    assert pooled["metrics"]["ranking_strata"] == {
        "ndcg@10": {
            "known:2": [5.0, pytest.approx(0.7), pytest.approx(0.15)],
            "new:5": [1.0, 0.5, 0.25],
        }
    }
    # AND their standard errors combine as those of a mean
    for key in history:
        metrics[key] = {"rmse": 1.0, "standard_errors": {"rmse": 0.3}}
    mean = traffic_reference(history, "2018-07-01T00:00:00+00:00", 2, metrics)
    assert mean["metrics"]["standard_errors"]["rmse"] == pytest.approx(
        (2 * 0.3**2) ** 0.5 / 2
    )
    # AND loaders (a partitioned dataset's) are called
    lazy = {key: (lambda v=v: v) for key, v in history.items()}
    assert traffic_reference(lazy, "2018-07-01T00:00:00+00:00", 1)["windows"] == [
        found["windows"][0]
    ]


def test_the_deployment_reference_holds_the_windows_of_the_same_deployment(
    window: pd.DataFrame, movies: pd.DataFrame
) -> None:
    from reelops.window_profiles import (
        deployment_identity,
        model_name,
        traffic_key,
        traffic_reference,
        window_view,
    )

    # GIVEN three earlier windows, the middle one served by another model
    info = {"model_name": "reelops", "version": "3", "run_id": "abc"}
    old = deployment_identity(model_name({**info, "version": "2"}), [1, 2, 3])
    new = deployment_identity(model_name(info), [1, 2, 3])
    starts = ["2018-01-01", "2018-04-01", "2018-07-01", "2018-10-01"]
    keys = [
        traffic_key(f"{a}T00:00:00+00:00", f"{b}T00:00:00+00:00")
        for a, b in itertools.pairwise(starts)
    ]
    view = window_view(
        window, movies, [], "2018-01-01T00:00:00+00:00", head_movies=[1, 2, 3]
    )
    history = dict.fromkeys(keys, view)
    metrics = {
        keys[0]: {"deployment": new, "ndcg@10": 0.2},
        keys[1]: {"deployment": old, "ndcg@10": 0.5},
        keys[2]: {"deployment": new, "ndcg@10": 0.3},
    }
    # WHEN the window after them takes its references, served by `new`
    found = traffic_reference(
        history, "2018-10-01T00:00:00+00:00", 3, metrics, deployment=new
    )
    # THEN traffic holds all three, deployment only the two `new` served
    assert found["windows"] == keys[::-1]
    assert found["deployment_windows"] == [keys[2], keys[0]]
    assert found["deployment"] is not None
    # AND only their metrics are averaged (the other model's say nothing of decay)
    assert found["metrics"]["ndcg@10"] == pytest.approx(0.25)
    # AND without a deployment, every window's metrics are
    assert traffic_reference(history, "2018-10-01T00:00:00+00:00", 3, metrics)[
        "metrics"
    ]["ndcg@10"] == pytest.approx(1.0 / 3)
    # AND a deployment no window was kept with: no deployment reference, no metrics
    other = traffic_reference(
        history,
        "2018-10-01T00:00:00+00:00",
        3,
        metrics,
        deployment=deployment_identity(model_name(info), [7]),
    )
    assert (other["deployment"], other["deployment_windows"]) == (None, [])
    assert other["metrics"] is None
    # AND the name is the model's and the head's ids, in any order
    assert deployment_identity(model_name(info), [3, 2, 1]) == new
    assert (
        deployment_identity(model_name(info), pd.Series([5, 4, 3], index=[1, 2, 3]))
        == new
    )
    assert model_name({"version": None}) is None
    assert deployment_identity(None, [1, 2, 3]) not in (old, new)


def test_a_new_measure_of_the_deployment_columns_is_a_new_deployment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import reelops.window_profiles as profiles

    # GIVEN the same model and head, named before an upgrade
    info = {"model_name": "reelops", "version": "3", "run_id": "abc"}
    before = profiles.deployment_identity(profiles.model_name(info), [1, 2, 3])
    # WHEN the monitoring measures popular_movie or the residuals another way
    monkeypatch.setattr(profiles, "MEASURE_VERSION", profiles.MEASURE_VERSION + 1)
    after = profiles.deployment_identity(profiles.model_name(info), [1, 2, 3])
    # THEN the windows kept before are another deployment's: not compared
    assert after != before


def test_reference_movie_head_holds_a_quarter_of_the_ratings() -> None:
    ratings = pd.DataFrame(
        {"movie_id": [7] * 3 + [5] * 3 + [9] * 2 + list(range(20, 32))}
    )
    head = summarize_reference_movies(ratings)
    # 20 ratings: movies 5 and 7 (3 each, the tie by id) reach 5 = a quarter
    assert head.to_dict("list") == {"movie_id": [5, 7], "n_ratings": [3, 3]}


def test_reference_user_habits_are_each_users_share_of_half_stars_and_head() -> None:
    ratings = pd.DataFrame(
        {
            "user_id": [2, 1, 1, 1, 1],
            "movie_id": [5, 5, 6, 7, 8],
            "rating": [4.0, 3.5, 4.0, 0.5, 5.0],
            "timestamp": [1, 2, 3, 4, 5],
        }
    )
    head = pd.DataFrame({"movie_id": [5, 6], "n_ratings": [2, 1]})
    habits = summarize_reference_users(ratings, head)
    assert habits.to_dict("list") == {
        "user_id": [1, 2],
        "half_star_share": [0.5, 0.0],
        "popular_share": [0.5, 1.0],
        "n_ratings": [4.0, 1.0],
    }


def test_popular_movie_is_profiled_against_the_heads_share_at_each_tenure() -> None:
    from reelops_monitoring.adapter import column_mean

    # GIVEN a window of 4 ratings, 3 of them in the head (movies 1 and 2): user 1
    # rated 600 movies in training, user 5 is new
    window = pd.DataFrame(
        {
            "user_id": [1, 1, 5, 5],
            "movie_id": [1, 3, 1, 2],
            "rating": [4.0, 3.0, 5.0, 4.0],
            "timestamp": [1_530_403_200 + i for i in range(4)],
        }
    )
    habits = pd.DataFrame(
        {"user_id": [1], "half_star_share": [0.0], "popular_share": [0.5]}
    )
    inputs = {
        "window_feedback": window,
        "movies": pd.DataFrame({"movie_id": [1, 2, 3], "genres": "Drama"}),
        "window_performance": {"known_users": [1]},
        "window_predictions": pd.DataFrame(
            columns=["user_id", "movie_id", "prediction", "cold_start"]
        ),
        "window_info": WINDOW_INFO,
        "movie_head": pd.DataFrame({"movie_id": [1, 2], "n_ratings": [9, 8]}),
    }
    # AND the reference stage's head shares: 50 % before a user's 5th rating,
    # 10 % from their 500th
    summary = {"head_share_by_tenure": {"0": 0.5, "500": 0.1}}
    # WHEN the window is profiled with the users' tenures
    view, _ = profile_window(
        **inputs,
        user_habits=habits.assign(n_ratings=[600.0]),
        reference_summary=summary,
    )
    # THEN each flag is less its share: user 1's at 0.1, user 5's at 0.5
    expected = ((1 - 0.1) + (0 - 0.1) + (1 - 0.5) + (1 - 0.5)) / 4
    assert column_mean(view, "popular_movie") == pytest.approx(expected)
    # AND habits or a summary recorded before tenures leave the flags as they are
    for habits_, summary_ in ((habits, summary), (habits.assign(n_ratings=1.0), {})):
        plain, _ = profile_window(
            **inputs, user_habits=habits_, reference_summary=summary_
        )
        assert column_mean(plain, "popular_movie") == pytest.approx(3 / 4)


def test_the_training_reference_takes_new_users_from_the_latest_windows(
    history: pd.DataFrame, movies: pd.DataFrame
) -> None:
    from reelops_monitoring.adapter import value_count

    # GIVEN three years of training data (2015-2017, 12 quarters)
    inputs = {
        "ratings": history,
        "movies": movies,
        "training_data_lineage": {"sha256": "c" * 64, "feedback_rows": 0},
        "movie_head": summarize_reference_movies(history),
    }
    views = [view for _, view in reference_views(history, movies)]
    last_year = merge_views(views[-4:])
    # WHEN the reference stage takes new users' columns from its last 4 quarters
    merged, _, summary = build_reference_profile(
        **inputs, reference={"recent": {"windows": 4}}
    )
    # THEN new users' ratings and activity are 2017's, every other column all
    # three years'
    for column in ("new_user_rating", "new_user_ratings"):
        assert value_count(merged, column) == value_count(last_year, column)
    assert value_count(last_year, "new_user_rating") < value_count(
        merge_views(views), "new_user_rating"
    )
    for column in ("rating", "genre", "known_user_ratings", "new_user"):
        assert value_count(merged, column) == value_count(merge_views(views), column)
    assert summary["n_windows"] == 12
    assert summary["recent"] == {
        "columns": ["new_user_rating", "new_user_ratings"],
        "windows": 4,
        "start": "2017-01-01",
    }
    # AND null takes them from every window too
    everything, _, summary = build_reference_profile(
        **inputs, reference={"recent": {"windows": None}}
    )
    assert value_count(everything, "new_user_rating") == value_count(
        merge_views(views), "new_user_rating"
    )
    assert summary["recent"]["windows"] == 12


def test_a_bad_recent_reference_is_a_one_line_config_error(
    history: pd.DataFrame, movies: pd.DataFrame
) -> None:
    inputs = {
        "ratings": history,
        "movies": movies,
        "training_data_lineage": {"sha256": "c" * 64, "feedback_rows": 0},
        "movie_head": summarize_reference_movies(history),
    }
    with pytest.raises(ConfigError, match="monitoring_reference") as raised:
        build_reference_profile(**inputs, reference={"recent": {"windows": 0}})
    assert "\n" not in str(raised.value)
    with pytest.raises(ConfigError, match="not \\['new_users'\\]"):
        build_reference_profile(
            **inputs, reference={"recent": {"columns": ["new_users"]}}
        )


def test_new_users_are_compared_with_the_training_datas_latest_cohorts(
    ratings: pd.DataFrame, movies: pd.DataFrame
) -> None:
    # GIVEN a model trained on every rating before 2011-04 and the users who
    # arrived in 2011Q2 (a cohort that rates unlike the 1996-2010 average)
    train = ratings[ratings["timestamp"] < _seconds("2011-04-01")]
    ts = ratings["timestamp"]
    rows = ratings[(ts >= _seconds("2011-04-01")) & (ts < _seconds("2011-07-01"))]
    window_rows = rows.assign(received_at=rows["timestamp"], model_version="v1")
    model = BiasBaseline().fit(train[COLUMNS], train["rating"].to_numpy())
    views = [view for _, view in reference_profiles(train, movies)[0]]

    def reasons(windows: int | None) -> list[str]:
        reference = training_reference(views, RecentConfig(windows=windows))
        return _decide(reference, window_rows, movies, model)["reasons"]

    # WHEN the window is judged against the whole history, then with new users'
    # columns from its last year
    # THEN only the whole history calls the cohort's ratings drift
    assert any(r.startswith("drift in 'new_user_rating'") for r in reasons(None))
    assert reasons(4) == []
