"""Training nodes: split config, candidate fitting, champion gates (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pandas as pd
import pytest
import yaml

from reelops import evaluation
from reelops.challenger import ChallengerPackage, Rejection
from reelops.datasets.verified_pickle import VerifiedPickle, VerifiedPickleDataset
from reelops.errors import ConfigError
from reelops.nodes import training
from reelops.nodes.split import split_ratings

SELECTION = {"primary_metric": "rmse", "baseline": "bias"}
GATES = {
    "training": {"min_improvement_over_baseline": 0.02, "champion_tolerance": 0.01}
}


def table(**rmse: float) -> dict:
    return {
        "split": {"strategy": "random"},
        "candidates": {n: {"rmse": v, "ndcg@10": 1 - v} for n, v in rmse.items()},
    }


def ratings(n_users: int = 30, n_movies: int = 20) -> pd.DataFrame:
    rows = [
        (u, m, float(1 + (u * m) % 5), 1_000_000_000 + u * 100 + m)
        for u in range(1, n_users + 1)
        for m in range(1, n_movies + 1)
        if (u + m) % 3
    ]
    return pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])


def test_best_candidate_passing_every_gate_is_registered() -> None:
    decision = training.select_champion(table(bias=0.90, mf=0.85), {}, SELECTION, GATES)
    assert decision["champion"] == "mf"
    assert decision["register"] is True
    assert decision["reasons"] == []
    assert decision["gates"]["beats_baseline"]["improvement"] == pytest.approx(
        0.05 / 0.90, abs=1e-6
    )


def test_candidate_not_beating_baseline_by_margin_is_refused() -> None:
    decision = training.select_champion(table(bias=0.90, mf=0.89), {}, SELECTION, GATES)
    assert decision["register"] is False
    assert decision["reasons"] == [
        "mf rmse=0.89 does not beat baseline bias (0.9) by 2.0%"
    ]


def test_baseline_itself_never_passes() -> None:
    decision = training.select_champion(table(bias=0.80, mf=0.90), {}, SELECTION, GATES)
    assert decision["champion"] == "bias"
    assert decision["register"] is False


def test_regression_against_the_registered_champion_is_refused() -> None:
    champion = {"rmse": 0.80, "ndcg@10": 0.2}
    decision = training.select_champion(
        table(bias=0.90, mf=0.85), champion, SELECTION, GATES
    )
    assert decision["register"] is False
    assert decision["gates"]["not_worse_than_champion"]["passed"] is False
    assert decision["reasons"] == [
        "mf rmse=0.85 is worse than the champion (0.8) by more than 1.0%"
    ]


def test_within_tolerance_of_the_champion_passes() -> None:
    champion = {"rmse": 0.845, "ndcg@10": 0.2}
    decision = training.select_champion(
        table(bias=0.90, mf=0.85), champion, SELECTION, GATES
    )
    assert decision["register"] is True


def test_higher_is_better_metrics_rank_descending() -> None:
    cfg = {**SELECTION, "primary_metric": "ndcg@10"}
    decision = training.select_champion(
        table(bias=0.90, mf=0.85, ease=0.7), {}, cfg, GATES
    )
    assert decision["ranking"][0] == "ease"
    assert decision["register"] is True


def test_unknown_primary_metric_is_a_clear_error() -> None:
    cfg = {**SELECTION, "primary_metric": "auc"}
    with pytest.raises(
        ValueError,
        match=re.escape(
            "primary metric 'auc' is not measured (expected one of: ndcg@10, rmse)"
        ),
    ):
        training.select_champion(table(bias=0.9, mf=0.8), {}, cfg, GATES)


def test_a_measured_key_outside_the_vocabulary_is_not_a_metric() -> None:
    # GIVEN a tie-breaker that is no metric of recsys.vocabulary
    cfg = {**SELECTION, "secondary_metric": "auc"}
    # THEN selection says so in one line instead of ranking on a missing value
    with pytest.raises(ValueError, match=re.escape("unknown metric 'auc' (expected")):
        training.select_champion(table(bias=0.9, mf=0.8), {}, cfg, GATES)


def test_unknown_selection_key_is_a_clear_error() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape("parameters 'selection': unknown key 'primary'"),
    ):
        training.select_champion(table(bias=0.9), {}, {"primary": "rmse"}, GATES)


def test_rejected_decision_packages_a_rejection() -> None:
    decision = training.select_champion(table(bias=0.90, mf=0.89), {}, SELECTION, GATES)
    package = training.package_challenger(decision, table(bias=0.9, mf=0.89), ratings())
    assert isinstance(package, Rejection)
    assert package.reasons == decision["reasons"]


def test_split_is_deterministic_and_complete() -> None:
    data = ratings()
    split = {"strategy": "random", "test_size": 0.2, "seed": 3}
    train_a, test_a, summary = split_ratings(data, split)
    train_b, test_b, _ = split_ratings(data, split)
    pd.testing.assert_frame_equal(train_a, train_b)
    pd.testing.assert_frame_equal(test_a, test_b)
    assert summary["n_train"] + summary["n_test"] == len(data)
    assert summary["n_test"] == round(0.2 * len(data))


def test_unknown_split_strategy_is_a_clear_error() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("parameters 'split': key 'strategy'")
    ):
        split_ratings(ratings(), {"strategy": "by_genre"})


def not_loaded() -> NoReturn:
    """A candidate's model loader that must not be called (it is not the champion)."""
    raise AssertionError("package_challenger loaded a model it does not package")


def package_mf(
    metrics: dict, data: pd.DataFrame, mf: Callable[[], object]
) -> ChallengerPackage | Rejection:
    """package_challenger with mf chosen over bias; bias's model must not be loaded."""
    chosen = training.select_champion(
        {"split": {}, "candidates": {"mf": metrics, "bias": {**metrics, "rmse": 9}}},
        {},
        SELECTION,
        GATES,
    )
    candidates = {"split": {}, "candidates": {"mf": metrics}}
    return training.package_challenger(chosen, candidates, data, mf=mf, bias=not_loaded)


def test_candidate_evaluation_reports_every_metric() -> None:
    data = ratings()
    train, test, _ = split_ratings(data, {"seed": 1})
    model, report = training.fit_candidate(
        train, {"name": "mf", "params": {"n_epochs": 2}}, 5
    )
    assert model.get_params()["random_state"] == 5
    metrics = training.evaluate_candidate(model, report, train, test, {"k": 10})
    assert set(metrics) >= {
        "rmse",
        "mae",
        "precision@10",
        "recall@10",
        "ndcg@10",
        "map@10",
        "coverage@10",
        "fit_seconds",
        "predict_seconds",
    }
    assert 0 < metrics["rmse"] < 5
    package = package_mf(metrics, data, lambda: model)
    assert isinstance(package, ChallengerPackage)
    assert list(package.input_example.dtypes) == ["int64", "int64"]
    # THEN the served model is the same configuration fitted on every rating, and
    # the split's fit rides along as the evaluation estimator
    assert package.evaluation_estimator is model
    assert package.estimator is not model
    assert package.estimator.get_params() == model.get_params()
    assert package.tags["served_fit.ratings"] == str(len(data))
    assert set(package.estimator.user_ids_) == set(data["user_id"])
    assert set(package.estimator.movie_ids_) == set(data["movie_id"])
    assert set(model.movie_ids_) == set(train["movie_id"])


def test_the_split_fit_is_packaged_as_its_pickle_not_loaded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ratings()
    train, test, _ = split_ratings(data, {"seed": 1})
    model, report = training.fit_candidate(
        train, {"name": "mf", "params": {"n_epochs": 2}}, 5
    )
    metrics = training.evaluate_candidate(model, report, train, test, {"k": 10})
    # GIVEN the champion's split fit as the catalog's mf.model@lazy hands it over
    path = tmp_path / "mf" / "model.pkl"
    VerifiedPickleDataset(filepath=str(path)).save(model)
    pickled = VerifiedPickleDataset(filepath=str(path), lazy=True).load()
    calls: list[str] = []
    load = VerifiedPickle.__call__
    monkeypatch.setattr(
        VerifiedPickle, "__call__", lambda self: calls.append("load") or load(self)
    )
    package = package_mf(metrics, data, pickled)
    # THEN it is loaded once, for its configuration, and packaged as its file
    assert isinstance(package, ChallengerPackage)
    assert calls == ["load"]
    assert package.evaluation_estimator is pickled
    assert package.estimator.get_params() == model.get_params()


def test_ranking_metrics_rest_on_a_seeded_sample_of_max_users() -> None:
    from recsys import evaluate

    data = ratings(n_users=40)
    train, test, _ = split_ratings(data, {"seed": 1})
    model, report = training.fit_candidate(
        train, {"name": "mf", "params": {"n_epochs": 2}}, 5
    )
    cfg = {"k": 10, "max_users": 12, "sample_seed": 3}
    metrics = training.evaluate_candidate(model, report, train, test, cfg)
    ranked = evaluation.ranked_sample(test, evaluation.EvaluationConfig(**cfg))
    # THEN ranking metrics are those of the sampled users alone, rating metrics
    # those of every test rating
    assert ranked["user_id"].nunique() == metrics["ranked_users"] == 12
    expected = evaluate(model, train, ranked, k=10)
    assert metrics["ndcg@10"] == round(expected["ndcg@10"], 6)
    assert metrics["coverage@10"] == round(expected["coverage@10"], 6)
    assert metrics["rmse"] == round(evaluate(model, train, test)["rmse"], 6)
    assert metrics["ndcg@10"] != round(evaluate(model, train, test)["ndcg@10"], 6)
    # AND the sample is the same for the same test users and seed, another seed
    # draws others, and a test set with at most max_users users is used whole
    again = evaluation.ranked_sample(test, evaluation.EvaluationConfig(**cfg))
    pd.testing.assert_frame_equal(ranked, again)
    other = evaluation.ranked_sample(
        test, evaluation.EvaluationConfig(**{**cfg, "sample_seed": 4})
    )
    assert set(other["user_id"]) != set(ranked["user_id"])
    whole = evaluation.ranked_sample(
        test, evaluation.EvaluationConfig(k=10, max_users=40)
    )
    assert whole is test


def test_the_hybrid_candidate_takes_components_fitted_alike() -> None:
    train, _, _ = split_ratings(ratings(), {"seed": 1})
    bias_spec = {"name": "bias", "params": {"n_epochs": 2}}
    ease_spec = {"name": "ease", "params": {"min_item_count": 1}}
    bias, _ = training.fit_candidate(train, bias_spec, 5)
    ease, _ = training.fit_candidate(train, ease_spec, 5)
    spec = {
        "name": "hybrid",
        "params": {"rating_estimator": bias_spec, "ranking_estimator": ease_spec},
    }
    hybrid, report = training.fit_candidate(train, spec, 5, bias=bias, ease=ease)
    assert report["reused"] == {"rating_estimator": "bias", "ranking_estimator": "ease"}
    assert hybrid.rating_estimator_ is bias and hybrid.ranking_estimator_ is ease
    # a candidate not made of others cannot take fitted ones: a one-line error
    with pytest.raises(ConfigError) as info:
        training.fit_candidate(train, bias_spec, 5, ease=ease)
    assert str(info.value) == (
        "candidate 'estimator': bias is not made of other estimators, so it cannot "
        "reuse fitted ones; expected no fitted inputs, got ease"
    )


def test_max_users_must_be_positive() -> None:
    with pytest.raises(
        ConfigError,
        match="^"
        + re.escape(
            "parameters 'evaluation': key 'max_users': "
            "Input should be greater than 0, got 0"
        )
        + "$",
    ):
        training.evaluate_candidate(None, {}, None, None, {"k": 10, "max_users": 0})


def test_gates_come_from_gates_yml_and_an_unknown_gate_is_a_clear_error() -> None:
    with pytest.raises(
        ConfigError,
        match=re.escape("gates.yml 'training': unknown key 'tolerance'"),
    ):
        training.select_champion(
            table(bias=0.9, mf=0.8),
            {},
            SELECTION,
            {"training": {**GATES["training"], "tolerance": 1}},
        )


def test_the_gate_limits_are_not_parameters() -> None:
    # GIVEN the committed parameters and gates
    from tests.conftest import REPO

    params = yaml.safe_load((REPO / "conf/base/parameters_training.yml").read_text())
    gates = yaml.safe_load((REPO / "conf/base/gates.yml").read_text())
    # THEN no parameter names a gate limit or where the model is registered
    assert set(params["selection"]) == {
        "primary_metric",
        "secondary_metric",
        "baseline",
    }
    assert set(gates["training"]) == {
        "min_improvement_over_baseline",
        "champion_tolerance",
    }


def test_the_default_split_keeps_held_out_pairs_when_feedback_is_appended() -> None:
    data = ratings()
    _, test, summary = split_ratings(data, {"seed": 3})
    assert summary["strategy"] == "hash"
    more = pd.concat(
        [
            data,
            pd.DataFrame(
                {
                    "user_id": [999] * 5,
                    "movie_id": range(1, 6),
                    "rating": 4.0,
                    "timestamp": 2_000_000_000,
                }
            ),
        ],
        ignore_index=True,
    )
    _, grown, _ = split_ratings(more, {"seed": 3})
    old = grown[grown["user_id"] != 999].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, test)
