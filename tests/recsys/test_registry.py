from __future__ import annotations

import re

import pytest
from sklearn.base import clone

from recsys import (
    ESTIMATORS,
    BaseRecommender,
    BiasBaseline,
    BlendRecommender,
    InvalidParameterError,
    ItemKNN,
    MatrixFactorization,
    RecsysError,
    UnknownEstimatorError,
    make_estimator,
)


def test_every_short_name_builds_its_class_with_defaults():
    assert set(ESTIMATORS) >= {"popularity", "bias", "mf", "item_knn", "ease", "blend"}
    for name, cls in ESTIMATORS.items():
        est = make_estimator(name, {})
        assert type(est) is cls
        assert isinstance(est, BaseRecommender)
        assert clone(est).get_params() == est.get_params()


def test_params_are_passed_through():
    est = make_estimator("mf", {"n_factors": 7, "random_state": 3})
    assert isinstance(est, MatrixFactorization)
    assert est.n_factors == 7
    assert est.random_state == 3


def test_unknown_name_is_a_one_line_error():
    msg = (
        "unknown estimator 'svd': expected one of ['bias', 'blend', 'ease', 'hybrid', "
        "'item_knn', 'mf', 'popularity', 'rated_ease', 'svdpp'], got 'svd'"
    )
    with pytest.raises(UnknownEstimatorError, match=re.escape(msg)):
        make_estimator("svd", {})


def test_unknown_parameter_is_a_one_line_error():
    msg = (
        "unknown parameter(s) ['factors'] for estimator 'mf' (MatrixFactorization): "
        "expected a subset of ['init_std', 'lr', 'lr_bias', 'lr_decay', 'n_epochs', "
        "'n_factors', 'n_jobs', 'random_state', 'reg', 'reg_bias'], got ['factors', 'n_epochs']"
    )
    with pytest.raises(InvalidParameterError, match=re.escape(msg)) as info:
        make_estimator("mf", {"factors": 10, "n_epochs": 3})
    assert isinstance(info.value, RecsysError)
    assert "\n" not in str(info.value)


def test_blend_components_from_config_specs():
    est = make_estimator(
        "blend",
        {
            "estimators": [
                {"name": "bias"},
                {"name": "mf", "params": {"n_factors": 5}, "label": "small_mf"},
                {"name": "item_knn", "params": {"k": 20}},
            ],
            "random_state": 0,
        },
    )
    assert isinstance(est, BlendRecommender)
    labels = [label for label, _ in est.estimators]
    assert labels == ["bias", "small_mf", "item_knn"]
    assert isinstance(est.estimators[0][1], BiasBaseline)
    assert est.estimators[1][1].n_factors == 5
    assert isinstance(est.estimators[2][1], ItemKNN)


def test_blend_component_spec_errors_are_reported():
    msg = (
        "a blend component spec must have keys 'name' and optionally 'params' and "
        "'label', got keys ['kind']"
    )
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        make_estimator("blend", {"estimators": [{"kind": "mf"}]})
    with pytest.raises(InvalidParameterError, match="unknown parameter"):
        make_estimator("blend", {"estimators": [{"name": "mf", "params": {"x": 1}}]})
