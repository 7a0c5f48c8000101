"""A candidate estimator as configured, and how it is fitted on ratings.

The spec names a recsys estimator and its hyperparameters (as stated in
``parameters_training.yml``); fitting builds it, seeds every unset ``random_state``
and reports what was fitted. Training fits its candidates with it, the replay its
deployed models.
"""

from __future__ import annotations

import inspect
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_validator

from reelops._pydantic import as_config
from reelops.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from recsys import BaseRecommender

__all__ = ["EstimatorSpec", "fit_estimator"]


class EstimatorSpec(BaseModel):
    """A candidate: a recsys estimator by short name and its hyperparameters.

    The estimator is built once when the spec is validated, so an unknown name or
    hyperparameter (nested ones included) fails before anything is fitted.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    params: dict[str, Any] = {}

    @model_validator(mode="after")
    def _buildable(self) -> EstimatorSpec:
        from recsys import make_estimator
        from recsys.exceptions import InvalidParameterError, UnknownEstimatorError

        try:
            make_estimator(self.name, self.params)
        except (UnknownEstimatorError, InvalidParameterError) as exc:
            raise ValueError(" ".join(str(exc).split())) from exc
        return self


def _jsonable(value: Any) -> Any:
    """A JSON-safe view of a hyperparameter (estimators become their repr)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


def _seeded(model: BaseRecommender, seed: int) -> BaseRecommender:
    """Set ``random_state`` wherever the config left it unset (reproducible runs)."""
    unset = {
        key: seed
        for key, value in model.get_params(deep=True).items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return model.set_params(**unset) if unset else model


def fit_estimator(
    train_ratings: pd.DataFrame,
    estimator: EstimatorSpec | dict[str, Any],
    seed: int,
    fitted: Mapping[str, BaseRecommender] | None = None,
) -> tuple[BaseRecommender, dict[str, Any]]:
    """Fit one candidate on the train split; also report its parameters and fit time.

    ``random_state`` defaults to ``seed`` wherever the config leaves it unset.
    ``fitted``: estimators already fitted on the same ``train_ratings`` (with the
    same ``seed``), by name, for an estimator made of others (the hybrid) to take
    its components from instead of fitting them again (its ``fit(...,
    reuse=...)``); ``reused`` in the report maps each component taken to the
    name it came under.
    """
    from recsys import make_estimator

    spec = as_config(EstimatorSpec, estimator, "candidate 'estimator'")
    model = _seeded(make_estimator(spec.name, dict(spec.params)), seed)
    fit_params: dict[str, Any] = {}
    if fitted:
        if "reuse" not in inspect.signature(model.fit).parameters:
            msg = (
                f"candidate 'estimator': {spec.name} is not made of other "
                f"estimators, so it cannot reuse fitted ones; expected no fitted "
                f"inputs, got {', '.join(sorted(fitted))}"
            )
            raise ConfigError(msg)
        fit_params["reuse"] = dict(fitted)
    X = train_ratings[["user_id", "movie_id", "timestamp"]]
    start = time.perf_counter()
    model.fit(X, train_ratings["rating"].to_numpy(), **fit_params)
    fit_seconds = time.perf_counter() - start
    report: dict[str, Any] = {
        "estimator": spec.name,
        "params": {k: _jsonable(v) for k, v in model.get_params(deep=False).items()},
        "fit_seconds": round(fit_seconds, 4),
    }
    if fitted:
        report["reused"] = dict(model.reused_)
    return model, report
