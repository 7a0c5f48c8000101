"""Performance decay: the deployed model now versus when it was trained.

The caller computes the metrics with recsys (``rmse`` on the window's ratings,
``ndcg@10`` by the ranking protocol) with the same keys as the training report:
the names of :mod:`recsys.vocabulary`, which says which way each is better.

A ranking metric is a mean over users whose values depend on who they are more
than on the model: a user with 200 ratings in a window finds some in any top 10
(mean NDCG@10 0.68 on ml-latest-small's quarters), one with 2 to 3 rarely (0.01).
A window of light raters would look like a decayed model. So, when the window's
metrics and the reference's carry :func:`ranking_strata` (users by new or known
to the model and by their relevant movies, in powers of four), the reference is
taken at the window's mix of users (:func:`standardized`, direct
standardization): each stratum's reference mean, weighted by the window's users
in it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from reelops_monitoring.errors import MissingColumnError
from reelops_monitoring.numbers import finite_or_none

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from numpy.typing import ArrayLike

    from reelops_monitoring.config import DecayConfig

__all__ = [
    "STRATA_KEY",
    "DecayVerdict",
    "MetricDecay",
    "Standardized",
    "assess_decay",
    "bounded_error",
    "merge_strata",
    "ranking_strata",
    "relative_degradation",
    "standardized",
]

#: The key of a metrics mapping holding ``{metric: strata}`` (:func:`ranking_strata`).
STRATA_KEY = "ranking_strata"

#: A reference stratum needs this many users for a mean and a spread.
_MIN_STRATUM_USERS = 2
#: A t quantile needs at least one degree of freedom: users - 1.
_MIN_T_USERS = 2


@dataclass(frozen=True)
class MetricDecay:
    """One metric on the window and its reference value.

    The reference is ``training`` (the holdout) or ``traffic`` (the earlier
    windows of served traffic).
    """

    metric: str
    training: float
    window: float
    degradation: float
    limit: float
    z: float | None = None
    min_z: float = 0.0
    reference: str = "training"
    #: The users the window's value rests on (None: unknown): Kish's effective
    #: number for a rating metric, pooled over ratings (two binge raters of 16
    #: users count as about 3), the users ranked for a ranking metric (a mean
    #: over users); fewer than ``min_users``: not judged.
    users: float | None = None
    min_users: int = 1
    #: Whether the reference was taken at the window's mix of users
    #: (:func:`standardized`); ``training`` and ``window`` are then the means
    #: over the strata both have.
    standardized: bool = False

    @property
    def judged(self) -> bool:
        """Whether the value rests on enough users to judge the model by."""
        return self.users is None or self.users >= self.min_users

    @property
    def critical_z(self) -> float:
        """``min_z`` at the ``users`` the metric rests on: a t quantile.

        ``z`` is a difference of means over users, its standard error estimated
        from those users, so with a dozen of them its tails are those of a t with
        ``users - 1`` degrees of freedom, not the normal's: ``min_z`` names the
        level (2.33: 1 % one-sided) and this is the t quantile of that level
        (2.69 at 13 users, 2.40 at 60). ``min_z`` itself when ``users`` is
        unknown or under 2, or ``min_z`` is 0.
        """
        users = self.users
        if (
            users is None
            or not math.isfinite(users)
            or users < _MIN_T_USERS
            or self.min_z <= 0
        ):
            return self.min_z
        # scipy is heavy: imported here, not at startup (test_startup_imports)
        from scipy import stats

        return float(stats.t.ppf(stats.norm.cdf(self.min_z), users - 1.0))

    @property
    def decayed(self) -> bool:
        """Whether the metric degraded past its limit, by more than chance.

        ``z`` is the degradation in standard errors of the difference; it must
        reach :attr:`critical_z`. An unknown ``z`` does not hold the verdict
        back. A metric not ``judged`` never decays.
        """
        sure = self.z is None or math.isnan(self.z) or self.z >= self.critical_z
        return self.degradation > self.limit and sure and self.judged

    def reason(self) -> str:
        """One line: ``decay in 'rmse': 0.95 -> 1.08 (+13.7% worse, ...)``.

        The limit, ``z`` and the reference follow in the parentheses.
        """
        z = "" if self.z is None or math.isnan(self.z) else f", z {self.z:.1f}"
        matched = ", users matched" if self.standardized else ""
        return (
            f"decay in '{self.metric}': {self.training:.4g} -> {self.window:.4g} "
            f"({self.degradation:+.1%} worse, limit {self.limit:.1%}{z}, "
            f"vs {self.reference}{matched})"
        )


@dataclass(frozen=True)
class DecayVerdict:
    """Every configured metric's decay on one window's feedback."""

    n_feedback: int
    min_feedback_rows: int
    metrics: tuple[MetricDecay, ...]
    #: Configured metrics the window has no value for (e.g. ranking metrics on a
    #: window whose every pair the model was trained on): not assessed.
    unmeasured: tuple[str, ...] = ()
    #: Distinct users of the window (None: unknown) and the fewest to judge.
    n_users: int | None = None
    min_users: int = 1

    @property
    def assessed(self) -> bool:
        """Whether the window had enough feedback (ratings and users) to judge."""
        enough_users = self.n_users is None or self.n_users >= self.min_users
        return self.n_feedback >= self.min_feedback_rows and enough_users

    @property
    def decayed(self) -> tuple[MetricDecay, ...]:
        """The metrics past their limit (none when not assessed)."""
        if not self.assessed:
            return ()
        return tuple(m for m in self.metrics if m.decayed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{metric: relative degradation}`` plus the feedback size."""
        return {
            "n_feedback": self.n_feedback,
            "n_users": self.n_users,
            "min_users": self.min_users,
            "assessed": self.assessed,
            "metrics": {
                m.metric: {
                    "training": m.training,
                    "window": m.window,
                    # infinite when the training value is 0: null in JSON
                    "degradation": finite_or_none(m.degradation),
                    "z": finite_or_none(m.z),
                    "critical_z": finite_or_none(m.critical_z),
                    "reference": m.reference,
                    "users": finite_or_none(m.users),
                    "judged": m.judged,
                    "standardized": m.standardized,
                }
                for m in self.metrics
            },
            "unmeasured": list(self.unmeasured),
        }


def relative_degradation(metric: str, training: float, window: float) -> float:
    """How much worse ``window`` is than ``training``, relative (negative: better).

    The opposite of ``recsys.relative_improvement(metric, window, training)``, in
    ``metric``'s direction; infinite when ``training`` is 0 and ``window`` is not.

    Raises:
        UnknownMetricError: If ``metric`` is not in :mod:`recsys.vocabulary`.
    """
    from recsys import relative_improvement

    # 0.0 - x rather than -x: no negative zero for an unchanged metric.
    return 0.0 - relative_improvement(metric, window, training)


def assess_decay(
    training_metrics: Mapping[str, Any] | None,
    window_metrics: Mapping[str, Any],
    config: DecayConfig,
    *,
    n_feedback: int,
    traffic_metrics: Mapping[str, Any] | None = None,
) -> DecayVerdict:
    """Compare every configured metric on the window with its reference value.

    Args:
        training_metrics: The deployed model's metrics on its time-based holdout
            (the ``training`` reference), or ``None``.
        window_metrics: Its metrics on the window's feedback (and their
            ``standard_errors``); a configured metric absent here, or without
            any of its references, is not assessed (listed in ``unmeasured``).
        config: Metrics (named as in :mod:`recsys.vocabulary`, which gives their
            directions), limits, references and the minimum feedback size.
        n_feedback: Ratings the window metrics were computed on.
        traffic_metrics: The mean metrics of the earlier windows of served
            traffic (the ``traffic`` reference), or ``None``.

    Raises:
        MissingColumnError: If the training metrics are given but lack a metric
            whose only reference is ``training``.
    """
    from recsys import resolve

    sources = {"training": training_metrics, "traffic": traffic_metrics}
    errors = window_metrics.get("standard_errors") or {}
    users = window_metrics.get("n_users")
    # the users each kind of metric rests on (distinct users when not reported)
    rests_on = {
        "rating": window_metrics.get("effective_users", users),
        "ranking": window_metrics.get("ranked_users", users),
    }
    metrics = []
    unmeasured = []
    for name, spec in config.metrics.items():
        if (
            training_metrics is not None
            and spec.reference == ["training"]
            and name not in training_metrics
        ):
            raise MissingColumnError(
                f"decay metric '{name}' missing from the training metrics, "
                f"got {sorted(training_metrics)}"
            )
        source = next(
            (
                s
                for s in spec.reference
                if (found := sources.get(s)) is not None and found.get(name) is not None
            ),
            None,
        )
        if window_metrics.get(name) is None or source is None:
            unmeasured.append(name)
            continue
        reference = sources[source] or {}
        training, window = float(reference[name]), float(window_metrics[name])
        kind = resolve(name)[0].kind
        based = rests_on.get(kind)
        matched = standardized(
            (window_metrics.get(STRATA_KEY) or {}).get(name),
            (reference.get(STRATA_KEY) or {}).get(name),
        )
        spread: float | None
        if matched is not None:
            training, window, based = matched.reference, matched.window, matched.users
            spread = matched.error or bounded_error(training, float(based))
        else:
            window_error = errors.get(name)
            if window_error == 0 and kind == "ranking" and based:
                # every user's value the same (NDCG@10 0 for each ranked user): the
                # spread those users would show with no decay, at most
                window_error = bounded_error(training, float(based))
            spread = _combined_error(window_error, reference, name)
        degradation = relative_degradation(name, training, window)
        z = (
            degradation * abs(training) / spread
            if spread and math.isfinite(degradation)
            else None
        )
        metrics.append(
            MetricDecay(
                metric=name,
                training=training,
                window=window,
                degradation=degradation,
                limit=spec.max_relative_degradation,
                z=z,
                min_z=spec.min_z,
                reference=source,
                users=None if based is None else float(based),
                min_users=config.min_users,
                standardized=matched is not None,
            )
        )
    return DecayVerdict(
        n_feedback=n_feedback,
        min_feedback_rows=config.min_feedback_rows,
        metrics=tuple(metrics),
        unmeasured=tuple(unmeasured),
        n_users=None if users is None else int(users),
        min_users=config.min_users,
    )


def bounded_error(mean: float, users: float) -> float:
    """``sqrt(mean (1 - mean) / users)``: the largest standard error of a mean.

    A mean over ``users`` of values in [0, 1] (a ranking metric: each user's
    NDCG@10, precision@10, ...) whose expected value is ``mean`` has a variance of
    at most ``mean (1 - mean) / users``, reached when every value is 0 or 1. A
    window whose users all score the same (NDCG@10 0 for each of 12 ranked users)
    reports a standard error of 0, which would make any difference certain;
    measured with this bound at the reference's mean instead, 12 users all at 0
    against a reference of 0.16 are 1.5 standard errors away, not infinitely many.
    0 when ``users`` is not positive or ``mean`` is outside (0, 1).
    """
    if users <= 0 or not 0.0 < mean < 1.0:
        return 0.0
    return math.sqrt(mean * (1.0 - mean) / users)


def _combined_error(
    window_error: float | None, reference: Mapping[str, Any], name: str
) -> float | None:
    """Standard error of the difference: the window's and the reference's."""
    if not window_error:
        return None
    reference_error = (reference.get("standard_errors") or {}).get(name) or 0.0
    return math.sqrt(float(window_error) ** 2 + float(reference_error) ** 2)


def ranking_strata(
    values: ArrayLike, n_relevant: ArrayLike, known: ArrayLike
) -> dict[str, list[float]]:
    """One ranking metric's per-user values, summed by stratum.

    A user's stratum is ``known:<b>`` or ``new:<b>`` (trained on by the model or
    not) with ``b = floor(log4(n_relevant))``: 1-3 relevant movies, 4-15, 16-63,
    64-255, 256 or more. Known users score lower than new ones with as many
    (their most obvious movies are already rated and excluded). Strata of powers
    of two held one or two of a quarter's users each, so a reference of one or
    two windows had no stable stratum means; powers of four hold a few each.

    Returns:
        ``{stratum: [users, sum, sum of squares]}``, JSON-ready; users with no
        relevant movie or a non-finite value are left out.
    """
    value = np.asarray(values, dtype="float64")
    relevant = np.asarray(n_relevant, dtype="float64")
    trained = np.asarray(known, dtype=bool)
    ok = np.isfinite(value) & (relevant >= 1)
    bucket = np.floor(np.log2(np.where(ok, relevant, 1.0)) / 2).astype("int64")
    strata: dict[str, list[float]] = {}
    for v, b, k in zip(value[ok], bucket[ok], trained[ok], strict=True):
        found = strata.setdefault(f"{'known' if k else 'new'}:{b}", [0.0, 0.0, 0.0])
        found[0] += 1.0
        found[1] += float(v)
        found[2] += float(v) * float(v)
    return {key: [n, round(t, 9), round(q, 9)] for key, (n, t, q) in strata.items()}


def merge_strata(
    strata: Iterable[Mapping[str, Any] | None],
) -> dict[str, list[float]]:
    """The strata of several windows pooled: users, sums and squares added."""
    merged: dict[str, list[float]] = {}
    for one in strata:
        for key, (n, total, squares) in (one or {}).items():
            found = merged.setdefault(key, [0.0, 0.0, 0.0])
            found[0] += float(n)
            found[1] += float(total)
            found[2] += float(squares)
    return merged


@dataclass(frozen=True)
class Standardized:
    """A window's ranking metric and its reference at the window's mix of users."""

    #: The window's mean over its users in strata the reference has.
    window: float
    #: The reference's stratum means weighted by those users.
    reference: float
    #: Standard error of ``reference - window`` (0 when every value agrees).
    error: float
    #: The window's users both means rest on.
    users: int


def standardized(
    window: Mapping[str, Any] | None, reference: Mapping[str, Any] | None
) -> Standardized | None:
    """Compare a window with a reference stratum by stratum (direct standardization).

    The strata are :func:`ranking_strata`'s. Only the strata where the window has
    users and the reference has at least two count: a window user unlike any
    reference user has nothing to be compared with. Each stratum's variance is
    pooled from both sides; the error is that of the difference of the two
    weighted means, users as independent units.

    Returns:
        None when either side is missing or they share no stratum.
    """
    if not window or not reference:
        return None
    weights, window_means, reference_means, variances = [], [], [], []
    for key, (n, total, squares) in window.items():
        n_ref, total_ref, squares_ref = reference.get(key) or (0.0, 0.0, 0.0)
        if n < 1 or n_ref < _MIN_STRATUM_USERS:
            continue
        mean, mean_ref = total / n, total_ref / n_ref
        within = max(squares - n * mean * mean, 0.0)
        within_ref = max(squares_ref - n_ref * mean_ref * mean_ref, 0.0)
        pooled = (within + within_ref) / (n + n_ref - 2)
        weights.append(float(n))
        window_means.append(mean)
        reference_means.append(mean_ref)
        variances.append(pooled * (1.0 / n + 1.0 / n_ref))
    if not weights:
        return None
    w = np.asarray(weights) / sum(weights)
    return Standardized(
        window=float(w @ np.asarray(window_means)),
        reference=float(w @ np.asarray(reference_means)),
        error=float(math.sqrt(float(w**2 @ np.asarray(variances)))),
        users=int(sum(weights)),
    )
