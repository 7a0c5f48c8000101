"""Estimators by short name, for configuration files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recsys._base import BaseRecommender
from recsys.baseline import BiasBaseline
from recsys.blend import BlendRecommender
from recsys.ease import EASE
from recsys.exceptions import InvalidParameterError, UnknownEstimatorError
from recsys.hybrid import HybridRecommender
from recsys.knn import ItemKNN
from recsys.mf import MatrixFactorization
from recsys.popularity import PopularityRecommender
from recsys.rated_ease import RatedEASE
from recsys.svdpp import SVDpp

__all__ = ["ESTIMATORS", "make_estimator"]

#: Short name -> estimator class. Config files name estimators by these keys.
ESTIMATORS: dict[str, type[BaseRecommender]] = {
    "popularity": PopularityRecommender,
    "bias": BiasBaseline,
    "mf": MatrixFactorization,
    "svdpp": SVDpp,
    "item_knn": ItemKNN,
    "ease": EASE,
    "rated_ease": RatedEASE,
    "blend": BlendRecommender,
    "hybrid": HybridRecommender,
}


def _blend_components(value: Any) -> list[tuple[str, BaseRecommender]]:
    """Build blend components from ``[{"name": ..., "params": {...}}, ...]`` specs."""
    components = []
    for spec in value:
        if isinstance(spec, BaseRecommender):
            msg = (
                "blend estimators must be (label, estimator) pairs or {'name': ..., "
                f"'params': ...}} specs, got a bare {type(spec).__name__}"
            )
            raise InvalidParameterError(msg)
        if isinstance(spec, Mapping):
            unknown = sorted(set(spec) - {"name", "params", "label"})
            if "name" not in spec or unknown:
                msg = (
                    "a blend component spec must have keys 'name' and optionally "
                    f"'params' and 'label', got keys {sorted(spec)}"
                )
                raise InvalidParameterError(msg)
            name = str(spec["name"])
            label = str(spec.get("label", name))
            components.append((label, make_estimator(name, spec.get("params"))))
        else:
            label, est = spec
            components.append((str(label), est))
    return components


def _component(key: str, spec: Mapping[str, Any]) -> BaseRecommender:
    """Build a hybrid component from a ``{"name": ..., "params": {...}}`` spec."""
    unknown = sorted(set(spec) - {"name", "params"})
    if "name" not in spec or unknown:
        msg = (
            f"hybrid {key} spec must have key 'name' and optionally 'params', "
            f"got keys {sorted(spec)}"
        )
        raise InvalidParameterError(msg)
    return make_estimator(str(spec["name"]), spec.get("params"))


def make_estimator(
    name: str, params: Mapping[str, Any] | None = None
) -> BaseRecommender:
    """Build an estimator from its short name and hyperparameters.

    Parameters
    ----------
    name : str
        A key of :data:`ESTIMATORS`.
    params : mapping, default=None
        Constructor keyword arguments. For ``"blend"``, ``estimators`` may be given
        as a list of ``{"name": <short name>, "params": {...}, "label": <optional>}``
        specs, built recursively; for ``"hybrid"``, ``rating_estimator`` and
        ``ranking_estimator`` may be ``{"name": ..., "params": {...}}`` specs.

    Returns
    -------
    estimator
        An unfitted estimator.

    Raises
    ------
    UnknownEstimatorError
        If ``name`` is not a key of :data:`ESTIMATORS`.
    InvalidParameterError
        If a parameter name is not accepted by the estimator.
    """
    if name not in ESTIMATORS:
        msg = (
            f"unknown estimator {name!r}: expected one of {sorted(ESTIMATORS)}, got "
            f"{name!r}"
        )
        raise UnknownEstimatorError(msg)
    cls = ESTIMATORS[name]
    kwargs = dict(params or {})
    allowed = sorted(cls._get_param_names())
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        msg = (
            f"unknown parameter(s) {unknown} for estimator {name!r} ({cls.__name__}): "
            f"expected a subset of {allowed}, got {sorted(kwargs)}"
        )
        raise InvalidParameterError(msg)
    if cls is BlendRecommender and kwargs.get("estimators") is not None:
        kwargs["estimators"] = _blend_components(kwargs["estimators"])
    if cls is HybridRecommender:
        for key in ("rating_estimator", "ranking_estimator"):
            if isinstance(kwargs.get(key), Mapping):
                kwargs[key] = _component(key, kwargs[key])
    return cls(**kwargs)
