"""Monitoring thresholds: pydantic models of ``conf/base/parameters_monitoring.yml``.

Every model rejects unknown keys. The defaults are the proposed configuration::

    monitoring:
      drift:
        min_rows: 200            # smaller windows: drift not assessed
        min_users: 5             # fewer users (or a smaller reference): not assessed
        unit_column: user_id     # ratings are clustered by user (effective size)
        unit_sizes: user_ratings # each user's ratings: a few heavy raters count as few
        traffic_windows: 4       # earlier windows of served traffic in its reference
        small_sample_users: null # a reference of fewer users: score discounted
        small_sample_quantile: 0.995
        columns:                 # score >= drift: DRIFT; >= possible_drift: POSSIBLE
          new_user_rating:    {algorithm: ks,         possible_drift: 0.40, drift: 0.51,
                               units: new_user_ratings, small_sample_users: 20}
          known_user_residual: {algorithm: ks,        possible_drift: 0.48, drift: 0.56,
                               units: known_user_ratings, reference: [deployment]}
          known_user_mean_residual: {algorithm: ks,   possible_drift: 1.13, drift: 1.48,
                               reference: [deployment]}
          known_user_weighted_residual:
                              {algorithm: weighted_mean, possible_drift: 1.66,
                               drift: 2.51, weights: known_user_residual_weight,
                               reference: [deployment]}
          half_star:          {algorithm: mean,       possible_drift: 0.74, drift: 1.2,
                               reference: [traffic], direction: decrease,
                               min_users: 2, vanished: 0.05}
          genre:              {algorithm: chi_square, possible_drift: 5.68, drift: 7.45,
                               effective_size: correlation}
          known_user_ratings: {algorithm: ks,         possible_drift: 1.54, drift: 2.14,
                               direction: increase}
          new_user_ratings:   {algorithm: ks,         possible_drift: 1.08, drift: 1.62,
                               small_sample_users: 20}
          new_user:           {algorithm: ks,         possible_drift: 0.65, drift: 1.13,
                               direction: increase, small_sample_users: 20}
          known_user_half_star_shift:
                              {algorithm: mean,       possible_drift: 3.01, drift: 5.32,
                               reference: [deployment]}
          popular_movie:      {algorithm: mean,       possible_drift: 1.44, drift: 2.25,
                               reference: [deployment], effective_size: correlation,
                               direction: increase}
          known_user_popular_shift:
                              {algorithm: mean,       possible_drift: 1.65, drift: 2.83,
                               reference: [deployment], direction: increase}
      quality:
        not_null: [user_id, movie_id, rating, timestamp]
        ranges: {rating: [0.5, 5.0]}
        block_retrain: true      # never retrain on a window failing a check
      # a user with min_ratings or more ratings in the window, more than
      # max_top_share of them one value (a bot): quarantined, pages a human
      raters:
        min_ratings: 30
        max_top_share: 0.9
      # the service's own answers (its status profiles): past a limit the decision
      # pages a human (status page) and does not retrain: errors and latency are
      # not fixed by retraining
      serving:
        min_requests: 100        # fewer API answers: rates not judged
        max_5xx_rate: 0.01
        max_4xx_rate: 0.25
        max_p99_ms: {recommend: 100, predict: 100, similar: 100, feedback: 500}
      decay:
        min_feedback_rows: 200
        min_users: 10
        metrics:                 # names and directions: recsys.vocabulary
          rmse:      {max_relative_degradation: 0.30, min_z: 2.33,
                      reference: [training]}
          "ndcg@10": {max_relative_degradation: 0.50, min_z: 2.33,
                      reference: [traffic]}

Scores are effect sizes (KS statistic D for ``ks``, Cohen's w = sqrt(chi2 / n) for
``chi_square``, the Hellinger distance for ``hellinger``) scaled by the square root
of the effective sample sizes (see :mod:`reelops_monitoring.drift` and
:mod:`reelops_monitoring.effective`: ratings clustered by user count for
``n / (1 + (m - 1) rho)``, ``m`` the users' size-weighted mean of ratings, or for
Kish's effective number of users ``(sum m)^2 / sum m^2``; user-level columns for
their users), so that one threshold holds for windows of any size.

Each column is compared with the earlier windows of served traffic when the
monitoring runs have kept some, else with the training data (``reference``,
default ``[traffic, training]``); ``new_user`` and ``known_user_ratings`` drift
only upward (``direction: increase``): a service mostly hearing from users it knows
has fewer new users than a training timeline, which is no reason to retrain.
Ratings are judged for new and known users apart: a new user's as given
(``new_user_rating``), a known user's as its residual against the deployed model
(``known_user_residual``); ``units`` names the user-level column that counts the
users behind such a column's values. The residuals, a known user's half-star habit
(``known_user_half_star_shift``), ``popular_movie`` (ratings in the head of the
catalogue) and a known user's share of them against their own
(``known_user_popular_shift``) are compared only with the windows the same
deployment served (``deployment``: the same model, measured against the same
head): the training data has no out-of-sample residuals, and a retrain changes
the model the residuals are taken against and moves the head, so until the new
deployment has served a window these columns are not assessed.
``known_user_weighted_residual`` compares the known users' mean residuals
weighed by their precision (``weighted_mean``, with ``weights`` the user-level
column of those weights), its score a z.
The drift thresholds are the 90th / 99.5th percentiles of the scores of
no-drift windows built from the users who arrived before 2008, the higher of two
kinds (shuffled timelines, and known users' later ratings served by a model trained
on their earlier ones), and for new users' columns and known users' residuals of
a third (their real traffic replayed as served); they are evaluated on the users
who arrived later (``bench/monitoring.py``, ``bench/monitoring_traffic.py``).

Decay limits are wide on purpose: with no drift, a bias model's RMSE on a quarter
moves by up to ~25-40 % (95th percentile) from the previous quarter's, and sits
~10 % (median) above a random holdout of its training data, because most of a
window's users are new. So the training metrics given to the decay check should
come from a temporal holdout (the last window before deployment), not from the
random split. The ``rmse`` limit rests on that measurement (``bench/monitoring.py``,
``decay_noise``); the ``ndcg@10`` limit is a proposal, not yet measured.

Decay metrics are named as in :mod:`recsys.vocabulary` (``rmse``, ``ndcg@10``, ...),
which also says which way each is better; an unknown name is refused.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from reelops_contracts import RATING_COLUMNS, RATING_SCALE, STATUS_ENDPOINTS
from reelops_monitoring.adapter import DriftAlgorithm

__all__ = [
    "ColumnDriftConfig",
    "DecayConfig",
    "DriftConfig",
    "DriftReferenceSource",
    "MetricDecayConfig",
    "MonitoringConfig",
    "QualityConfig",
    "RatersConfig",
    "ReferenceSource",
    "ServingHealthConfig",
]

#: What a window's metric is compared with: ``traffic``, the previous windows of
#: served traffic (their profiles, kept by the monitoring runs); ``training``, the
#: deployed model's training data (the reference profile its run recorded).
ReferenceSource = Literal["traffic", "training"]
#: What a window's drift column is compared with: a :data:`ReferenceSource`, or
#: ``deployment``, the previous windows of served traffic the same deployment
#: served (the same model, the same head of the catalogue: residuals and
#: ``popular_movie`` are only comparable between them).
DriftReferenceSource = Literal["traffic", "deployment", "training"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _traffic_then_training() -> list[DriftReferenceSource]:
    return ["traffic", "training"]


def _training_only() -> list[ReferenceSource]:
    return ["training"]


class ColumnDriftConfig(_Config):
    """How one column is drift-tested, and its two thresholds on the score."""

    algorithm: DriftAlgorithm = Field(
        description="ks (numeric), chi_square (categorical), hellinger (numeric), "
        "mean (numeric: Cohen's d, the difference of the means) or weighted_mean "
        "(a user-level column of weight x value, with `weights`: the difference "
        "of the weighted means in standard errors sqrt(1 / W_t + 1 / W_r))."
    )
    possible_drift: float = Field(gt=0, description="Score from which POSSIBLE_DRIFT.")
    drift: float = Field(gt=0, description="Score from which DRIFT.")
    reference: list[DriftReferenceSource] = Field(
        default_factory=_traffic_then_training,
        min_length=1,
        description="References in order of preference: the first one available "
        "is used; none available: the column is not assessed.",
    )
    effective_size: Literal["users", "correlation"] = Field(
        default="users",
        description="users: the effective sample size is capped at the number of "
        "users; correlation: n / (1 + (m - 1) rho), rho the column's intra-user "
        "correlation on the training data (falls back to users without one).",
    )
    direction: Literal["both", "increase", "decrease"] = Field(
        default="both",
        description="increase: only a higher mean than the reference's is drift "
        "(e.g. more new users; fewer is not a reason to retrain); decrease: only a "
        "lower one (e.g. fewer half stars: a whole-star scale).",
    )
    min_users: int | None = Field(
        default=None,
        ge=1,
        description="This column's own drift.min_users (half_star: 2, a scale "
        "change shows in any user's ratings). None: drift.min_users.",
    )
    small_sample_users: int | None = Field(
        default=None,
        ge=2,
        description="This column's own drift.small_sample_users (new users' "
        "columns: 20). None: drift.small_sample_users.",
    )
    vanished: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="A 0/1 column whose ones vanished: a window with none (mean 0) "
        "while the reference's mean is at least this is DRIFT whatever its score "
        "(half_star: 0.05, a client that lost the half-star widget; no window of "
        "real traffic from 2 users or more since 2003 lacks them, while Kish's "
        "effective users leave a score of 200 ratings from 2 users under its "
        "threshold). Judged from min_users users, as the score. None: no such test.",
    )
    units: str | None = Field(
        default=None,
        description="A user-level column (one value per user) whose values count "
        "this column's users, when only some users have a value (e.g. "
        "known_user_ratings for known_user_residual). None: the window's distinct "
        "unit_column values.",
    )

    weights: str | None = Field(
        default=None,
        description="weighted_mean only: the user-level column of the users' "
        "weights (known_user_residual_weight for known_user_weighted_residual, "
        "whose values are weight x mean residual).",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ColumnDriftConfig:
        if self.drift < self.possible_drift:
            raise ValueError(
                f"drift must be >= possible_drift, got drift={self.drift} "
                f"and possible_drift={self.possible_drift} instead"
            )
        if (self.algorithm == "weighted_mean") != (self.weights is not None):
            raise ValueError(
                "weights names the weight column of a weighted_mean column and "
                f"nothing else, got algorithm={self.algorithm} and "
                f"weights={self.weights} instead"
            )
        return self


def _default_columns() -> dict[str, ColumnDriftConfig]:
    return {
        "new_user_rating": ColumnDriftConfig(
            algorithm="ks",
            possible_drift=0.40,
            drift=0.51,
            units="new_user_ratings",
            small_sample_users=20,
        ),
        "known_user_residual": ColumnDriftConfig(
            algorithm="ks",
            possible_drift=0.48,
            drift=0.56,
            reference=["deployment"],
            units="known_user_ratings",
        ),
        "known_user_mean_residual": ColumnDriftConfig(
            algorithm="ks",
            possible_drift=1.13,
            drift=1.48,
            reference=["deployment"],
        ),
        "known_user_weighted_residual": ColumnDriftConfig(
            algorithm="weighted_mean",
            possible_drift=1.66,
            drift=2.51,
            weights="known_user_residual_weight",
            reference=["deployment"],
        ),
        "half_star": ColumnDriftConfig(
            algorithm="mean",
            possible_drift=0.74,
            drift=1.2,
            reference=["traffic"],
            direction="decrease",
            min_users=2,
            vanished=0.05,
        ),
        "genre": ColumnDriftConfig(
            algorithm="chi_square",
            possible_drift=5.68,
            drift=7.45,
            effective_size="correlation",
        ),
        "known_user_ratings": ColumnDriftConfig(
            algorithm="ks", possible_drift=1.54, drift=2.14, direction="increase"
        ),
        "new_user_ratings": ColumnDriftConfig(
            algorithm="ks", possible_drift=1.08, drift=1.62, small_sample_users=20
        ),
        "new_user": ColumnDriftConfig(
            algorithm="ks",
            possible_drift=0.65,
            drift=1.13,
            direction="increase",
            small_sample_users=20,
        ),
        "known_user_half_star_shift": ColumnDriftConfig(
            algorithm="mean", possible_drift=3.01, drift=5.32, reference=["deployment"]
        ),
        "popular_movie": ColumnDriftConfig(
            algorithm="mean",
            possible_drift=1.44,
            drift=2.25,
            reference=["deployment"],
            effective_size="correlation",
            direction="increase",
        ),
        "known_user_popular_shift": ColumnDriftConfig(
            algorithm="mean",
            possible_drift=1.65,
            drift=2.83,
            reference=["deployment"],
            direction="increase",
        ),
    }


class DriftConfig(_Config):
    """Which columns are drift-tested, how, and from which window size."""

    min_rows: int = Field(default=200, ge=1, description="Smaller windows: no drift.")
    unit_column: str | None = Field(
        default="user_id",
        description="Rows sharing a value are one unit: effective sizes are capped "
        "by its distinct count. None: rows are independent.",
    )
    unit_sizes: str | None = Field(
        default="user_ratings",
        description="The user-level column of each unit's number of rows in the "
        "window: a column of several values per unit is capped at the effective "
        "number of units (sum m)^2 / sum m^2, so that a few heavy raters count as "
        "few. A column's own `units` column, when it has one, is used instead. "
        "None: capped at the number of units, however unequal.",
    )
    min_users: int = Field(
        default=5,
        ge=1,
        description="A column whose values come from fewer users (its units, "
        "capped at its values) is not assessed: a KS statistic of one or two "
        "users' ratings is large by chance. (Counting them as Kish's effective "
        "users instead, >= 3 or >= 5, was measured and not kept: it removed "
        "binge raters' false alarms but lost 10 points of inflation detection.) "
        "Nor is one whose reference rests on fewer effective samples (a new "
        "deployment's reference of one heavy rater's residuals).",
    )
    traffic_windows: int = Field(
        default=4,
        ge=1,
        description="Previous windows of served traffic (each ended before the next "
        "began) merged into the traffic reference.",
    )
    small_sample_users: int | None = Field(
        default=None,
        ge=2,
        description="A score measured against a reference of fewer effective users "
        "is discounted by t_q(users - 1) / t_q(n_reference - 1) (few-cluster "
        "inference: a statistic of a handful of users' tastes has heavier tails "
        "than the thresholds, quantiles of windows judged against references of "
        "many users, allow for). None (the default): no discount; what 30 and 10 "
        "gain and cost is measured in conf/base/parameters_monitoring.yml.",
    )
    small_sample_quantile: float = Field(
        default=0.995,
        gt=0.5,
        lt=1.0,
        description="The quantile q of the t distributions of small_sample_users: "
        "the one the DRIFT thresholds are calibrated at.",
    )
    columns: dict[str, ColumnDriftConfig] = Field(default_factory=_default_columns)

    def min_users_of(self, spec: ColumnDriftConfig | None) -> int:
        """The users a column needs on each side: its own or ``min_users``."""
        return (
            self.min_users if spec is None or spec.min_users is None else spec.min_users
        )

    def small_sample_users_of(self, spec: ColumnDriftConfig) -> int | None:
        """A column's ``small_sample_users``: its own or the drift-wide one."""
        if spec.small_sample_users is not None:
            return spec.small_sample_users
        return self.small_sample_users


class QualityConfig(_Config):
    """Data-quality constraints checked on every window."""

    not_null: list[str] = Field(default_factory=lambda: list(RATING_COLUMNS))
    ranges: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"rating": (min(RATING_SCALE), max(RATING_SCALE))}
    )
    block_retrain: bool = Field(
        default=True, description="A failed check vetoes retraining on the window."
    )


class MetricDecayConfig(_Config):
    """How far one metric may degrade from its reference value, and how surely.

    Which way is worse is the metric's direction in :mod:`recsys.vocabulary`.
    """

    max_relative_degradation: float = Field(gt=0)
    min_z: float = Field(
        default=2.33,
        ge=0,
        description="The degradation must also be this many standard errors of the "
        "difference (the window's and the reference's, users as sampling units): a "
        "window of a few users moves by chance. Read as a level (2.33: 1 % "
        "one-sided) and applied as the t quantile at the metric's users less one "
        "(2.69 at 13 users): the error is estimated from them. 0: no such "
        "condition.",
    )
    reference: list[ReferenceSource] = Field(
        default_factory=_training_only,
        min_length=1,
        description="What the window's metric is compared with, first available "
        "first: training (the model's time-based holdout metrics) or traffic (the "
        "mean over the earlier windows of served traffic the same deployment "
        "served: another model's metrics say nothing of this one's decay).",
    )


def _default_metrics() -> dict[str, MetricDecayConfig]:
    return {
        "rmse": MetricDecayConfig(max_relative_degradation=0.30),
        "ndcg@10": MetricDecayConfig(
            max_relative_degradation=0.50, reference=["traffic"]
        ),
    }


class DecayConfig(_Config):
    """Performance decay of the deployed model on a window's feedback."""

    min_feedback_rows: int = Field(default=200, ge=1)
    min_users: int = Field(
        default=10,
        ge=1,
        description="Fewer distinct users in the window: decay not assessed; a "
        "metric resting on fewer (a rating metric: Kish's effective users, (sum "
        "m)^2 / sum m^2 of their ratings m; a ranking metric: the users ranked) "
        "is not judged (a metric of a handful of users, or of two binge raters "
        "among many, says more about them than about the model).",
    )
    metrics: dict[str, MetricDecayConfig] = Field(
        default_factory=_default_metrics,
        description="By metric name of recsys.vocabulary (rmse, ndcg@10, ...).",
    )

    @field_validator("metrics")
    @classmethod
    def _in_vocabulary(
        cls, metrics: dict[str, MetricDecayConfig]
    ) -> dict[str, MetricDecayConfig]:
        # Imported here: recsys (numba, scikit-learn) is heavy, and this package
        # is imported by every kedro command.
        from recsys import resolve

        for name in metrics:
            resolve(name)  # UnknownMetricError (a ValueError): one line
        return metrics


def _default_p99() -> dict[str, float]:
    return {"recommend": 100.0, "predict": 100.0, "similar": 100.0, "feedback": 500.0}


class ServingHealthConfig(_Config):
    """When the service's own answers call for a human, not a retrain.

    Errors and slow answers are not fixed by retraining: past these limits the
    decision says ``page`` (with its reasons) and leaves ``retrain`` alone.
    """

    min_requests: int = Field(
        default=100,
        ge=1,
        description="Fewer API answers in the window: error rates not judged.",
    )
    max_5xx_rate: float = Field(
        default=0.01, ge=0, le=1, description="Server errors among API answers."
    )
    max_4xx_rate: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Client errors other than 429 among API answers (bad input "
        "is normal; a broken client release is not). 429s, the rate limit "
        "shedding a caller's excess, are reported apart.",
    )
    max_p99_ms: dict[str, float] = Field(
        default_factory=_default_p99,
        description="p99 latency limit by endpoint (its path without the "
        "slash: recommend, predict, similar, feedback), in milliseconds.",
    )

    @field_validator("max_p99_ms")
    @classmethod
    def _known_endpoints(cls, limits: dict[str, float]) -> dict[str, float]:
        names = [endpoint.strip("/") for endpoint in STATUS_ENDPOINTS]
        unknown = sorted(set(limits) - set(names))
        if unknown:
            raise ValueError(
                f"max_p99_ms names unknown endpoints {unknown}: expected some of "
                f"{names}"
            )
        bad = {e: v for e, v in limits.items() if not v > 0}
        if bad:
            raise ValueError(f"max_p99_ms must be > 0 ms, got {bad}")
        return limits


class RatersConfig(_Config):
    """When one user's ratings in a window are a flood of one value.

    A user with at least ``min_ratings`` ratings in the window, more than
    ``max_top_share`` of them one value, is quarantined and pages a human
    (:func:`~reelops_monitoring.raters.screen_raters`).
    """

    min_ratings: int = Field(
        default=30,
        ge=2,
        description="Users with fewer ratings in the window are not screened.",
    )
    max_top_share: float = Field(
        default=0.9,
        gt=0,
        lt=1,
        description="Largest share of a user's ratings one value may take (real "
        "MovieLens users who arrived before 2008, >= 30 ratings in a window: at "
        "most 0.85).",
    )


class MonitoringConfig(_Config):
    """Everything :func:`~reelops_monitoring.decision.decide` needs."""

    drift: DriftConfig = Field(default_factory=DriftConfig)
    quality: QualityConfig = Field(default_factory=QualityConfig)
    raters: RatersConfig = Field(default_factory=RatersConfig)
    decay: DecayConfig = Field(default_factory=DecayConfig)
    serving: ServingHealthConfig = Field(default_factory=ServingHealthConfig)
