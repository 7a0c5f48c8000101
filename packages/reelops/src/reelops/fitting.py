"""A candidate estimator as configured, and how it is fitted on ratings.

The spec names a recsys estimator and its hyperparameters (as stated in
``parameters_training.yml``); fitting builds it, seeds every unset ``random_state``
and reports what was fitted. Training fits its candidates with it, the replay its
deployed models.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, model_validator

from reelops._pydantic import as_config

if TYPE_CHECKING:
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
) -> tuple[BaseRecommender, dict[str, Any]]:
    """Fit one candidate on the train split; also report its parameters and fit time.

    ``random_state`` defaults to ``seed`` wherever the config leaves it unset.
    """
    from recsys import make_estimator

    spec = as_config(EstimatorSpec, estimator, "candidate 'estimator'")
    model = _seeded(make_estimator(spec.name, dict(spec.params)), seed)
    X = train_ratings[["user_id", "movie_id", "timestamp"]]
    start = time.perf_counter()
    model.fit(X, train_ratings["rating"].to_numpy())
    fit_seconds = time.perf_counter() - start
    report = {
        "estimator": spec.name,
        "params": {k: _jsonable(v) for k, v in model.get_params(deep=False).items()},
        "fit_seconds": round(fit_seconds, 4),
    }
    return model, report
