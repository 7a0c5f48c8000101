"""decide(): retrain or not, and the one-line reasons."""

from __future__ import annotations

import json
import math
import re

import pytest
from pydantic import ValidationError

from reelops_monitoring import MonitoringConfig, assess_decay, decide
from reelops_monitoring.config import ColumnDriftConfig, DecayConfig
from reelops_monitoring.decay import relative_degradation
from reelops_monitoring.drift import ColumnDrift, DriftCategory, DriftReport
from reelops_monitoring.quality import QualityResult


def drifted(column: str = "rating") -> ColumnDrift:
    return ColumnDrift(
        column=column,
        algorithm="ks",
        effect=0.31,
        score=2.41,
        pvalue=1e-9,
        category=DriftCategory.DRIFT,
        threshold=0.92,
        n_target=15,
        n_reference=120,
    )


def calm(column: str = "genre") -> ColumnDrift:
    return ColumnDrift(
        column=column,
        algorithm="chi_square",
        effect=0.3,
        score=1.2,
        pvalue=0.01,
        category=DriftCategory.POSSIBLE_DRIFT,
        threshold=1.42,
        n_target=15,
        n_reference=120,
    )


def report(*columns: ColumnDrift, n_rows: int = 800) -> DriftReport:
    return DriftReport(n_rows=n_rows, min_rows=200, columns=columns)


OK = QualityResult(
    "timestamp has no missing values", "timestamp", True, "0 of 800 null"
)
BROKEN = QualityResult(
    "timestamp has no missing values", "timestamp", False, "800 of 800 null"
)


def test_no_drift_no_retrain():
    decision = decide(report(calm()), [OK], None)
    assert decision.to_dict()["retrain"] is False
    assert decision.reasons == ()
    assert not decision.alert
    assert decision.scores["drift"]["columns"]["genre"]["category"] == "POSSIBLE_DRIFT"


def test_drift_retrains_with_pinned_reason():
    decision = decide(report(drifted(), calm()), [OK], None)
    assert decision.retrain
    assert decision.reasons == (
        "drift in 'rating': ks score 2.41 >= 0.92 (effect 0.310, vs training)",
    )


def test_decay_retrains_with_pinned_reason():
    decay = assess_decay(
        {"rmse": 0.90, "ndcg@10": 0.25},
        {"rmse": 1.20, "ndcg@10": 0.19, "standard_errors": {"rmse": 0.05}},
        DecayConfig(),
        n_feedback=500,
        traffic_metrics={"ndcg@10": 0.20},
    )
    decision = decide(report(calm()), [OK], decay)
    assert decision.retrain
    assert decision.reasons == (
        "decay in 'rmse': 0.9 -> 1.2 (+33.3% worse, limit 30.0%, z 6.0, vs training)",
    )
    # ndcg@10 is compared with the earlier windows of served traffic
    assert decision.scores["decay"]["metrics"]["ndcg@10"]["reference"] == "traffic"
    assert decision.scores["decay"]["metrics"]["ndcg@10"][
        "degradation"
    ] == pytest.approx(0.05)


def test_decay_from_a_zero_training_value_is_json_safe():
    # GIVEN a training metric of 0 (a model that never ranked a held-out movie)
    decay = assess_decay(
        {"rmse": 0.9},
        {"rmse": 0.9, "ndcg@10": 0.1},
        DecayConfig(),
        n_feedback=500,
        traffic_metrics={"ndcg@10": 0.0},
    )
    # THEN the infinite relative change is null in the JSON, never Infinity
    scores = decide(report(calm()), [OK], decay).scores
    assert scores["decay"]["metrics"]["ndcg@10"]["degradation"] is None
    json.dumps(scores, allow_nan=False)


def test_too_little_feedback_is_not_decay():
    decay = assess_decay(
        {"rmse": 0.9},
        {"rmse": 2.0, "ndcg@10": 0.0},
        DecayConfig(),
        n_feedback=10,
        traffic_metrics={"ndcg@10": 0.2},
    )
    assert decay.decayed == ()
    assert not decide(report(), [OK], decay).retrain


def test_quality_failure_blocks_retraining():
    decision = decide(report(drifted()), [BROKEN], None)
    assert not decision.retrain
    assert decision.alert
    assert decision.reasons == (
        "drift in 'rating': ks score 2.41 >= 0.92 (effect 0.310, vs training)",
        "quality check failed: timestamp has no missing values (800 of 800 null)",
        "retraining blocked until the upstream data is fixed",
    )


def test_quality_failure_can_be_advisory():
    decision = decide(report(drifted()), [BROKEN], None, block_retrain_on_quality=False)
    assert decision.retrain


def test_missing_training_metric_is_named():
    with pytest.raises(
        Exception,
        match=re.escape(
            "decay metric 'rmse' missing from the training metrics, got ['mae']"
        ),
    ):
        assess_decay(
            {"mae": 0.9}, {"rmse": 1.0, "ndcg@10": 0.2}, DecayConfig(), n_feedback=500
        )


def test_a_degradation_within_chance_is_not_decay():
    # GIVEN a window of a few users: RMSE 33 % worse, but only 1.5 standard errors
    noisy = {"rmse": 1.2, "standard_errors": {"rmse": 0.2}}
    verdict = assess_decay({"rmse": 0.9}, noisy, DecayConfig(), n_feedback=500)
    (rmse,) = verdict.metrics
    assert rmse.degradation > rmse.limit
    assert rmse.z == pytest.approx(1.5)
    # THEN it is reported, not acted on
    assert verdict.decayed == ()
    # AND with min_z 0 it would be
    loose = DecayConfig.model_validate(
        {"metrics": {"rmse": {"max_relative_degradation": 0.3, "min_z": 0}}}
    )
    assert assess_decay({"rmse": 0.9}, noisy, loose, n_feedback=500).decayed


def test_ndcg_without_earlier_traffic_is_not_assessed():
    # the holdout's users are not the window's: ranking metrics are compared with
    # served traffic only (by default)
    verdict = assess_decay(
        {"rmse": 0.9, "ndcg@10": 0.3},
        {"rmse": 0.9, "ndcg@10": 0.01},
        DecayConfig(),
        n_feedback=500,
    )
    assert verdict.unmeasured == ("ndcg@10",)
    assert verdict.decayed == ()


def test_metric_the_window_cannot_measure_is_not_assessed():
    # A window of pairs the model was trained on has no ranking metrics: ndcg@10
    # must not count as decayed (nor crash the decision).
    verdict = assess_decay(
        {"rmse": 0.9, "ndcg@10": 0.2},
        {"rmse": 1.5, "ndcg@10": None},
        DecayConfig(),
        n_feedback=500,
        traffic_metrics={"ndcg@10": 0.2},
    )
    assert [m.metric for m in verdict.decayed] == ["rmse"]
    assert verdict.unmeasured == ("ndcg@10",)
    assert verdict.to_dict()["unmeasured"] == ["ndcg@10"]


def test_config_rejects_unknown_keys_and_unordered_thresholds():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        MonitoringConfig.model_validate({"drift": {"min_row": 10}})
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "drift must be >= possible_drift, got drift=0.1 and possible_drift=0.2 instead"
        ),
    ):
        ColumnDriftConfig(algorithm="ks", possible_drift=0.2, drift=0.1)
    with pytest.raises(ValidationError, match="ks"):
        ColumnDriftConfig.model_validate(
            {"algorithm": "psi", "possible_drift": 0.1, "drift": 0.2}
        )
    # a weighted mean needs its weight column, and only it takes one
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "weights names the weight column of a weighted_mean column and nothing "
            "else, got algorithm=weighted_mean and weights=None instead"
        ),
    ):
        ColumnDriftConfig(algorithm="weighted_mean", possible_drift=1, drift=2)
    with pytest.raises(ValidationError, match="got algorithm=ks and weights=w"):
        ColumnDriftConfig(algorithm="ks", possible_drift=1, drift=2, weights="w")


def test_proposed_yaml_block_is_the_default_config():
    # GIVEN the YAML block of the config module docstring
    import yaml

    from reelops_monitoring import config as module

    block = module.__doc__.split("::")[1].split("\n\n")[1]
    # WHEN parsed and validated
    parsed = MonitoringConfig.model_validate(yaml.safe_load(block)["monitoring"])
    # THEN it is exactly the defaults
    assert parsed == MonitoringConfig()


@pytest.mark.parametrize("metric", ["rmse", "ndcg@10"])
@pytest.mark.parametrize(
    ("training", "window"),
    [(0.9, 1.2), (0.2, 0.19), (0.3, 0.3), (0.0, 0.0), (0.0, 0.1), (1.0, 0.0)],
)
def test_degradation_is_the_old_formula_in_the_vocabularys_direction(
    metric, training, window
):
    # GIVEN the formula decay used when the config carried higher_is_better
    higher = metric != "rmse"
    delta = (training - window) if higher else (window - training)
    if training == 0:
        old = 0.0 if delta == 0 else (float("inf") if delta > 0 else float("-inf"))
    else:
        old = delta / abs(training)
    # WHEN the direction comes from recsys.vocabulary
    new = relative_degradation(metric, training, window)
    # THEN the same value, sign of zero included
    assert new == old
    assert math.copysign(1.0, new) == math.copysign(1.0, old)


def test_decay_metrics_are_vocabulary_names_and_carry_no_direction():
    unknown = (
        "unknown metric 'auc' (expected one of: rmse, mae, precision@k, recall@k, "
        "ndcg@k, map@k, coverage@k, fit_seconds, predict_seconds)"
    )
    with pytest.raises(ValidationError, match=re.escape(unknown)):
        DecayConfig.model_validate(
            {"metrics": {"auc": {"max_relative_degradation": 1}}}
        )
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        DecayConfig.model_validate(
            {
                "metrics": {
                    "rmse": {"higher_is_better": False, "max_relative_degradation": 1}
                }
            }
        )
    # a vocabulary metric beyond the defaults decays in its own direction
    config = DecayConfig.model_validate(
        {"metrics": {"coverage@10": {"max_relative_degradation": 0.1}}}
    )
    verdict = assess_decay(
        {"coverage@10": 0.5}, {"coverage@10": 0.4}, config, n_feedback=500
    )
    assert [m.metric for m in verdict.decayed] == ["coverage@10"]


def test_decay_needs_enough_users_and_counts_the_reference_spread():
    window = {"rmse": 1.2, "n_users": 4, "standard_errors": {"rmse": 0.05}}
    # GIVEN a window of 4 users: decay is not assessed, whatever the numbers
    few = assess_decay({"rmse": 0.9}, window, DecayConfig(), n_feedback=500)
    assert not few.assessed
    assert few.decayed == ()
    assert few.to_dict()["n_users"] == 4
    # AND with enough users the reference's error widens the difference's
    many = {**window, "n_users": 40}
    sure = assess_decay({"rmse": 0.9}, many, DecayConfig(), n_feedback=500)
    assert sure.metrics[0].z == pytest.approx(0.3 / 0.05)
    noisy_reference = {"rmse": 0.9, "standard_errors": {"rmse": 0.12}}
    unsure = assess_decay(noisy_reference, many, DecayConfig(), n_feedback=500)
    assert unsure.metrics[0].z == pytest.approx(0.3 / (0.05**2 + 0.12**2) ** 0.5)
    assert unsure.decayed == ()


def test_a_rating_metric_of_two_binge_raters_is_not_judged():
    # GIVEN 16 users, two of whom gave most ratings (Kish: 3.1 effective users),
    # and 12 users ranked: RMSE and NDCG both far worse than the holdout
    window = {
        "rmse": 1.56,
        "ndcg@10": 0.05,
        "n_users": 16,
        "effective_users": 3.1,
        "ranked_users": 12,
        "standard_errors": {"rmse": 0.1, "ndcg@10": 0.02},
    }
    config = DecayConfig.model_validate(
        {
            "metrics": {
                "rmse": {"max_relative_degradation": 0.3},
                "ndcg@10": {"max_relative_degradation": 0.5},
            }
        }
    )
    verdict = assess_decay(
        {"rmse": 0.9, "ndcg@10": 0.2}, window, config, n_feedback=800
    )
    # THEN the window is assessed, RMSE (pooled over ratings) is not judged and
    # NDCG (a mean over the users ranked) decays
    assert verdict.assessed
    rmse, ndcg = verdict.metrics
    assert (rmse.users, rmse.judged, rmse.decayed) == (3.1, False, False)
    assert (ndcg.users, ndcg.judged) == (12.0, True)
    assert [m.metric for m in verdict.decayed] == ["ndcg@10"]
    assert verdict.to_dict()["metrics"]["rmse"] == {
        "training": 0.9,
        "window": 1.56,
        "degradation": pytest.approx(0.733333, abs=1e-6),
        "z": pytest.approx(6.6, abs=1e-6),
        # the t quantile at 2.1 degrees of freedom (not judged anyway)
        "critical_z": pytest.approx(6.562301, abs=1e-6),
        "reference": "training",
        "users": 3.1,
        "judged": False,
        "standardized": False,
    }
    # AND with 10 effective users it is judged
    even = assess_decay(
        {"rmse": 0.9, "ndcg@10": 0.04},
        {**window, "effective_users": 10.0},
        config,
        n_feedback=800,
    )
    assert [m.metric for m in even.decayed] == ["rmse"]


def test_a_window_whose_ranked_users_all_score_zero_is_judged_by_the_bound():
    # GIVEN 12 ranked users, each with NDCG@10 0: their spread, so the window's
    # reported standard error, is 0 (a replayed 2005 quarter), against served
    # traffic at 0.164
    config = DecayConfig.model_validate(
        {
            "metrics": {
                "ndcg@10": {"max_relative_degradation": 0.5, "reference": ["traffic"]}
            }
        }
    )
    traffic = {"ndcg@10": 0.164, "standard_errors": {"ndcg@10": 0.02}}

    def window(users: int) -> dict[str, object]:
        return {
            "ndcg@10": 0.0,
            "n_users": users,
            "ranked_users": users,
            "standard_errors": {"ndcg@10": 0.0},
        }

    few = assess_decay(
        None, window(12), config, n_feedback=800, traffic_metrics=traffic
    )
    # THEN the difference is measured in the largest spread 12 values in [0, 1]
    # with that mean could have, not in 0: 1.5 standard errors, no decay
    (ndcg,) = few.metrics
    bound = (0.164 * 0.836 / 12) ** 0.5
    assert ndcg.z == pytest.approx(0.164 / (bound**2 + 0.02**2) ** 0.5)
    assert ndcg.z == pytest.approx(1.51, abs=0.01)
    assert few.decayed == ()
    assert "z 1.5, vs traffic" in ndcg.reason()
    # AND 60 users all at 0 are decay
    many = assess_decay(
        None, window(60), config, n_feedback=800, traffic_metrics=traffic
    )
    assert [m.metric for m in many.decayed] == ["ndcg@10"]
    assert many.metrics[0].z == pytest.approx(3.17, abs=0.01)


def test_bounded_error():
    from reelops_monitoring.decay import bounded_error

    assert bounded_error(0.5, 25) == pytest.approx(0.1)
    assert bounded_error(0.164, 12) == pytest.approx(0.1069, abs=1e-4)
    # no users, or a mean at a bound: no spread to speak of
    assert bounded_error(0.3, 0) == 0.0
    assert bounded_error(0.0, 12) == 0.0
    assert bounded_error(1.0, 12) == 0.0


def _strata(**groups: list[float]) -> dict[str, list[float]]:
    """``{stratum: [users, sum, sum of squares]}`` of the given per-user values."""
    return {
        key.replace("_", ":"): [len(v), sum(v), sum(x * x for x in v)]
        for key, v in groups.items()
    }


def test_ranking_strata_bucket_users_by_known_and_relevant_movies():
    from reelops_monitoring.decay import merge_strata, ranking_strata

    # GIVEN five users' NDCG@10, their relevant movies and whether the model
    # was trained on them; one has no value
    strata = ranking_strata(
        [0.0, 0.5, 0.25, 0.75, float("nan")],
        [1, 3, 2, 200, 4],
        [True, True, True, False, True],
    )
    # THEN they are summed per power of four of relevant movies, known or new
    assert strata == {
        "known:0": [3, 0.75, 0.3125],
        "new:3": [1, 0.75, 0.5625],
    }
    # AND windows pool by adding users, sums and squares
    assert merge_strata([strata, {"known:0": [2, 0.5, 0.25]}, None]) == {
        "known:0": [5.0, 1.25, 0.5625],
        "new:3": [1.0, 0.75, 0.5625],
    }


def test_a_window_of_light_raters_is_compared_with_light_raters():
    from reelops_monitoring.decay import standardized

    config = DecayConfig.model_validate(
        {
            "metrics": {
                "ndcg@10": {"max_relative_degradation": 0.5, "reference": ["traffic"]}
            }
        }
    )
    # GIVEN served traffic of heavy raters (64-255 relevant movies, NDCG@10 about
    # 0.35) and light ones (1-3 movies, about 0.02), and a window of 12 light
    # raters as good as the earlier ones: their mean is far below the traffic's
    heavy = [0.3, 0.4, 0.35, 0.3, 0.4, 0.35]
    light = [0.0, 0.05, 0.0, 0.03, 0.0, 0.04]
    traffic_strata = _strata(known_3=heavy, known_0=light)
    traffic = {
        "ndcg@10": sum(heavy + light) / 12,
        "standard_errors": {"ndcg@10": 0.01},
        "ranking_strata": {"ndcg@10": traffic_strata},
    }
    window_values = [0.0, 0.04, 0.0, 0.03, 0.0, 0.05] * 2
    window = {
        "ndcg@10": sum(window_values) / 12,
        "n_users": 12,
        "ranked_users": 12,
        "standard_errors": {"ndcg@10": 0.005},
        "ranking_strata": {"ndcg@10": _strata(known_0=window_values)},
    }
    matched = assess_decay(
        None, window, config, n_feedback=800, traffic_metrics=traffic
    )
    # THEN the window is compared with the light raters alone: no decay
    (ndcg,) = matched.metrics
    assert ndcg.standardized
    assert ndcg.training == pytest.approx(0.02)
    assert ndcg.window == pytest.approx(0.02)
    assert matched.decayed == ()
    # AND without the strata, the same numbers are a decay of 89 %
    bare = {key: v for key, v in window.items() if key != "ranking_strata"}
    unmatched = assess_decay(
        None, bare, config, n_feedback=800, traffic_metrics=traffic
    )
    assert [m.metric for m in unmatched.decayed] == ["ndcg@10"]
    assert unmatched.metrics[0].degradation == pytest.approx(0.8919, abs=1e-4)
    # AND light raters whose top 10 stopped hitting are a decay, named as such
    zeros = _strata(known_0=[0.0] * 40)
    worse = assess_decay(
        None,
        {**window, "n_users": 40, "ranking_strata": {"ndcg@10": zeros}},
        config,
        n_feedback=800,
        traffic_metrics={**traffic, "ndcg@10": 0.5},
    )
    assert worse.decayed[0].reason() == (
        "decay in 'ndcg@10': 0.02 -> 0 (+100.0% worse, limit 50.0%, z 5.9, "
        "vs traffic, users matched)"
    )
    # AND a window user unlike every reference user is left out of both means
    only_new = standardized(_strata(new_1=[0.9, 0.8]), traffic_strata)
    assert only_new is None
    mixed = standardized(_strata(new_1=[0.9], known_3=[0.1, 0.2]), traffic_strata)
    assert mixed is not None
    assert (mixed.users, mixed.window, mixed.reference) == (
        2,
        pytest.approx(0.15),
        pytest.approx(0.35),
    )


def test_a_z_over_a_dozen_users_must_reach_the_t_quantile():
    # GIVEN NDCG@10 57 % worse than served traffic at z 2.5 (the replayed 2002-11
    # quarter as the loop runs: 13 ranked users)
    config = DecayConfig.model_validate(
        {
            "metrics": {
                "ndcg@10": {"max_relative_degradation": 0.5, "reference": ["traffic"]}
            }
        }
    )
    traffic = {"ndcg@10": 0.25, "standard_errors": {"ndcg@10": 0.03}}

    def judged(users: int):
        window = {
            "ndcg@10": 0.10,
            "n_users": users,
            "ranked_users": users,
            "standard_errors": {"ndcg@10": 0.05},
        }
        verdict = assess_decay(
            None, window, config, n_feedback=800, traffic_metrics=traffic
        )
        return verdict, verdict.metrics[0]

    few, ndcg = judged(13)
    assert ndcg.z == pytest.approx(0.15 / (0.05**2 + 0.03**2) ** 0.5)
    assert 2.33 < ndcg.z < 2.69
    # THEN its error rests on 13 users: z must reach the t quantile of min_z's
    # level at 12 degrees of freedom (2.69, not 2.33), and it is not decay
    assert ndcg.critical_z == pytest.approx(2.686, abs=0.001)
    assert few.decayed == ()
    assert few.to_dict()["metrics"]["ndcg@10"]["critical_z"] == pytest.approx(
        2.686, abs=0.001
    )
    # AND over 60 users the same z is (t quantile 2.40)
    many, ndcg = judged(60)
    assert ndcg.critical_z == pytest.approx(2.395, abs=0.001)
    assert [m.metric for m in many.decayed] == ["ndcg@10"]
