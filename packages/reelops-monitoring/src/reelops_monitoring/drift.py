"""Column drift between a reference profile and a window's profile.

Each configured column is tested with one whylogs algorithm (KS, chi-square or
Hellinger) or ``mean``, the difference of the means from the profiles' moments,
or ``weighted_mean`` (:func:`weighted_difference`: a user-level column of weight
x value and its weight column; the difference of the weighted means in standard
errors, a z, with the users as its sizes: the weights already count each user's
ratings, so none of the effective sizes below applies).
Its **effect** is the algorithm's effect size: the KS statistic D, Cohen's
w = sqrt(chi2 / n) for chi-square, the Hellinger distance, Cohen's d (the
difference of the means in pooled standard deviations). Its **score**,
which two thresholds put in a :class:`DriftCategory`, is the effect scaled by the
effective sample sizes of the two profiles::

    score = effect * sqrt(n_target * n_reference / (n_target + n_reference))

(for KS this is the classic scaled statistic, ~1.36 at the 5 % level for
independent rows). Ratings are not independent rows: a window holds a few users,
each with many ratings, and tastes are per user. So the effective size of a column
is its number of values capped by the effective number of units
(``DriftConfig.unit_column``, the users): a window of 900 ratings from 15 users
counts as at most 15, and as fewer when a few of them gave most of the ratings,
``(sum m_i)^2 / sum m_i^2`` over the users' ratings ``m_i`` (Kish's effective
number; ``DriftConfig.unit_sizes``, the user-level column of each user's ratings,
holds them): a window where one binge-rater gave 600 of 1,000 ratings is mostly
that user's taste. A column only some users have values in
(``known_user_residual``: known users only) is capped the same way by its
``units`` column, a user-level column counting those users and their ratings
(``known_user_ratings``), and a column
whose values come from fewer than ``DriftConfig.min_users`` users is not
assessed (a KS statistic of one user's ratings is large by chance), nor one whose
reference rests on fewer effective samples (a new deployment's first window, one
heavy rater's residuals). Without the
cap, p-values are ~0 and fixed effect-size thresholds false-alarm on small
windows; with it, one set of thresholds holds for windows of any size (measured
in ``bench/monitoring.py``). p-values are still reported.

A score measured against a handful of effective users has heavier tails than
the thresholds allow for (an average over a few users' tastes, as a t statistic
of few clusters): they are quantiles of windows judged against references of many
users, the window's own size included (calibration windows are like the judged
ones), and what they cannot foresee is a small reference: a new deployment's
``deployment`` reference is the one or two windows it has served. With
``DriftConfig.small_sample_users`` set, a reference of fewer effective users
discounts the score by ``t_q(users - 1) / t_q(n_reference - 1)``
(:func:`small_sample_factor`); a column's own ``small_sample_users`` does it for
that column alone. By default only new users' columns are discounted (20): off for
every column, for what it costs the detection of inflation by known users'
residuals against small references (conf/base/parameters_monitoring.yml has the
figures).
Discounting by Welch-Satterthwaite's df of both sides (small windows too) was
measured and not kept: it cost the suite's detection at 200 and 1,000 ratings.

Each column names its references in order of preference
(``ColumnDriftConfig.reference``): ``traffic``, the previous windows of served
traffic, ``deployment``, those of them measured against the same training data as
the window, or ``training``, the deployed model's training data; the first one given
and holding the column (a profile recorded before the column existed does not) is
used, and with none the column is not assessed (``reference`` null). A column
whose ``direction`` is ``increase`` is drift only when its mean went up (more new
users than usual is a reason to retrain; fewer is not), ``decrease`` only when it
went down (fewer half stars: a whole-star scale; more is how MovieLens itself
changed in 2003, when it added them).

A 0/1 column with ``vanished`` set is DRIFT, whatever its score, when none of the
window's values is 1 while the reference's mean is at least that share (from
``min_users`` users, as any score): no half star in a window whose reference
holds 41 % of them is a client that lost the widget. The score alone misses it
in small windows, whose few effective users are allowed a wide spread (200
ratings, 1.9 of Kish's effective users at the median on ml-latest-small, where no
window of 2 users or more since 2003 lacks half stars).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from reelops_monitoring.adapter import (
    column_mean,
    column_names,
    column_sums,
    distinct_count,
    drift_statistic,
    row_count,
    value_count,
)
from reelops_monitoring.effective import correlation_of, effective_size
from reelops_monitoring.errors import MissingColumnError
from reelops_monitoring.numbers import finite_or_none

if TYPE_CHECKING:
    from collections.abc import Mapping

    from reelops_monitoring.adapter import DriftStatistic, ProfileView
    from reelops_monitoring.config import (
        ColumnDriftConfig,
        DriftConfig,
        DriftReferenceSource,
    )

__all__ = [
    "ColumnDrift",
    "DriftCategory",
    "DriftReport",
    "categorize",
    "detect_drift",
    "effect_size",
    "moved",
    "scaled_score",
    "small_sample_factor",
    "weighted_difference",
]


class DriftCategory(StrEnum):
    """Drift categories, as whylogs names them."""

    NO_DRIFT = "NO_DRIFT"
    POSSIBLE_DRIFT = "POSSIBLE_DRIFT"
    DRIFT = "DRIFT"


@dataclass(frozen=True)
class ColumnDrift:
    """The drift of one column: effect, score, category and what they rest on."""

    column: str
    algorithm: str
    effect: float | None
    score: float | None
    pvalue: float | None
    category: DriftCategory
    threshold: float
    n_target: float
    n_reference: float
    reference: DriftReferenceSource | None = "training"
    mean_target: float | None = None
    mean_reference: float | None = None
    #: none of the window's values is 1 while the reference's mean is at least
    #: ``ColumnDriftConfig.vanished``: DRIFT whatever the score
    vanished: bool = False

    def reason(self) -> str:
        """One line: ``drift in 'x': ks score 2.41 >= 2.1 (effect 0.3, vs ...)``.

        A vanished column: ``drift in 'half_star': vanished, 0 % of the window's
        values against 41.2 % (vs traffic)``.
        """
        if self.vanished:
            return (
                f"drift in '{self.column}': vanished, 0 % of the window's values "
                f"against {100 * (self.mean_reference or 0.0):.1f} % "
                f"(vs {self.reference})"
            )
        return (
            f"drift in '{self.column}': {self.algorithm} score {_fmt(self.score, 2)} "
            f">= {self.threshold:g} (effect {_fmt(self.effect, 3)}, "
            f"vs {self.reference})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (a non-finite number becomes ``None``)."""
        return {
            "algorithm": self.algorithm,
            "effect": finite_or_none(self.effect),
            "score": finite_or_none(self.score),
            "pvalue": finite_or_none(self.pvalue),
            "category": self.category.value,
            "n_target": finite_or_none(self.n_target),
            "n_reference": finite_or_none(self.n_reference),
            "reference": self.reference,
            "mean_target": finite_or_none(self.mean_target),
            "mean_reference": finite_or_none(self.mean_reference),
            "vanished": self.vanished,
        }


@dataclass(frozen=True)
class DriftReport:
    """Drift of every configured column of one window (none if it is too small)."""

    n_rows: int
    min_rows: int
    columns: tuple[ColumnDrift, ...]

    @property
    def assessed(self) -> bool:
        """Whether the window had enough rows for drift to be assessed."""
        return self.n_rows >= self.min_rows

    @property
    def drifted(self) -> tuple[ColumnDrift, ...]:
        """The columns in the DRIFT category."""
        return tuple(c for c in self.columns if c.category is DriftCategory.DRIFT)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{column: {...}}`` plus the window size."""
        return {
            "n_rows": self.n_rows,
            "assessed": self.assessed,
            "columns": {c.column: c.to_dict() for c in self.columns},
        }


def categorize(
    score: float | None, *, possible_drift: float, drift: float
) -> DriftCategory:
    """The category of ``score`` (``None`` or NaN, nothing to compare: NO_DRIFT)."""
    if score is None or math.isnan(score):
        return DriftCategory.NO_DRIFT
    if score >= drift:
        return DriftCategory.DRIFT
    if score >= possible_drift:
        return DriftCategory.POSSIBLE_DRIFT
    return DriftCategory.NO_DRIFT


def effect_size(statistic: DriftStatistic) -> float:
    """The effect size of a whylogs statistic (higher is more drift).

    ``ks`` and ``hellinger``: the statistic itself (in [0, 1]). ``chi_square``:
    Cohen's w = sqrt(chi2 / n_target); whylogs returns an infinite chi2 when the
    window has a value the reference (nearly) never had, and w is then infinite.
    """
    if statistic.algorithm != "chi_square":
        return statistic.statistic
    if statistic.n_target <= 0:
        return math.nan
    return math.sqrt(statistic.statistic / statistic.n_target)


def scaled_score(effect: float, n_target: float, n_reference: float) -> float:
    """``effect * sqrt(n_t * n_r / (n_t + n_r))`` (NaN without samples)."""
    if n_target <= 0 or n_reference <= 0 or math.isnan(effect):
        return math.nan
    if math.isinf(effect):
        return math.inf
    return effect * math.sqrt(n_target * n_reference / (n_target + n_reference))


def small_sample_factor(n_reference: float, users: int, quantile: float) -> float:
    """``t_q(users - 1) / t_q(n_reference - 1)``, at most 1: a small reference's factor.

    The scaled score is compared with thresholds set as quantiles of windows
    judged against references of many users; measured against a reference of a
    handful of users it is an average over those few users' tastes and its tails
    are heavier, as a t statistic's with few clusters are (cluster-robust
    inference uses t with G - 1 degrees of freedom for G clusters). A reference
    of ``users`` effective users or more is not discounted; one of fewer by the
    ratio of the t quantiles (q = 0.995, 30 users: 0.71 at 6.4 effective users,
    0.30 at 3.1, 0.96 at 20); one of a single user or less counts as df 1.
    NaN without a reference.
    """
    if n_reference <= 0:
        return math.nan
    df = max(n_reference - 1.0, 1.0)
    if df >= users - 1:
        return 1.0
    # scipy is heavy: imported here, not at startup (tests/reelops/test_startup_imports)
    from scipy import stats

    return float(stats.t.ppf(quantile, users - 1) / stats.t.ppf(quantile, df))


def detect_drift(
    references: Mapping[DriftReferenceSource, ProfileView | None],
    target: ProfileView,
    config: DriftConfig,
    *,
    correlation: Mapping[str, float] | None = None,
) -> DriftReport:
    """Test every column of ``config.columns`` against its reference.

    Args:
        references: ``{"training": ..., "traffic": ..., "deployment": ...}``:
            the deployed model's training data, the previous windows of served
            traffic (merged) and those of them measured against the same
            training data as ``target``; ``None`` or absent: not available.
        target: The window to assess.
        config: Columns, algorithms, thresholds, references, unit column, minimum
            window size.
        correlation: Each column's intra-user correlation, measured on the
            training data (:mod:`reelops_monitoring.effective`): effective sizes
            are then ``n / (1 + (m - 1) rho)``; a column without one is capped at
            the effective number of users.

    Returns:
        The report; when ``target`` has fewer than ``config.min_rows`` rows its
        columns are empty and :attr:`DriftReport.assessed` is false.

    Raises:
        MissingColumnError: If a configured column (or the unit column) is absent
            from the target or the reference it is compared with.
    """
    n_rows = row_count(target)
    if n_rows < config.min_rows:
        return DriftReport(n_rows=n_rows, min_rows=config.min_rows, columns=())
    columns = []
    present = column_names(target)
    given = {source: view for source, view in references.items() if view is not None}
    # each reference's columns, listed once rather than per drift column
    names = {source: column_names(view) for source, view in given.items()}
    target_units, reference_units = math.inf, dict.fromkeys(given, math.inf)
    if config.unit_column is not None:
        target_units = distinct_count(target, config.unit_column)
        reference_units = {
            source: distinct_count(view, config.unit_column)
            for source, view in given.items()
        }
    for column, spec in config.columns.items():
        if column not in present:
            raise MissingColumnError(
                f"the window's profile has no column '{column}' (drift columns "
                f"must be profiled; got {sorted(present)})"
            )
        source = next((s for s in spec.reference if column in names.get(s, ())), None)
        if source is None:
            columns.append(_unassessed(column, spec))
            continue
        reference = given[source]
        units = (math.inf, math.inf)
        unit_sums: tuple[_Sums | None, _Sums | None] = (None, None)
        if config.unit_column is not None and config.unit_sizes is not None:
            sizes = spec.units or config.unit_sizes
            unit_sums = (
                _sums(target, present, sizes),
                _sums(reference, names[source], sizes),
            )
        if spec.units is not None:
            units = (
                float(value_count(target, spec.units)),
                float(value_count(reference, spec.units)),
            )
        elif config.unit_column is not None:
            units = (target_units, reference_units[source])
        rho = (
            correlation_of(correlation, column)
            if spec.effective_size == "correlation"
            else math.nan
        )
        found = _column_drift(
            reference,
            target,
            column,
            spec,
            units,
            source=source,
            rho=rho,
            unit_sums=unit_sums,
            small_sample=(
                None
                if (small := config.small_sample_users_of(spec)) is None
                else (small, config.small_sample_quantile)
            ),
        )
        min_users = config.min_users_of(spec)
        if (
            _users(target, column, units[0]) < min_users
            or found.n_reference < min_users
        ):
            found = dataclasses.replace(
                _unassessed(column, spec),
                reference=source,
                n_target=found.n_target,
                n_reference=found.n_reference,
            )
        columns.append(found)
    return DriftReport(n_rows=n_rows, min_rows=config.min_rows, columns=tuple(columns))


#: ``(n, sum m_i, sum m_i^2)`` of a user-level size column.
_Sums = tuple[float, float, float]


def _sums(view: ProfileView, names: frozenset[str], column: str) -> _Sums | None:
    """``column_sums`` of a size column, ``None`` when ``view`` lacks it."""
    return column_sums(view, column) if column in names else None


def _users(view: ProfileView, column: str, units: float) -> float:
    """The users behind ``column``'s values: its units, capped at its values."""
    return min(float(value_count(view, column)), units)


def _unassessed(column: str, spec: ColumnDriftConfig) -> ColumnDrift:
    return ColumnDrift(
        column=column,
        algorithm=spec.algorithm,
        effect=None,
        score=None,
        pvalue=None,
        category=DriftCategory.NO_DRIFT,
        threshold=spec.drift,
        n_target=0.0,
        n_reference=0.0,
        reference=None,
    )


def _column_drift(
    reference: ProfileView,
    target: ProfileView,
    column: str,
    spec: ColumnDriftConfig,
    units: tuple[float, float],
    *,
    source: DriftReferenceSource,
    rho: float = math.nan,
    unit_sums: tuple[_Sums | None, _Sums | None] = (None, None),
    small_sample: tuple[int, float] | None = None,
) -> ColumnDrift:
    means: tuple[float | None, float | None] = (None, None)
    if spec.weights is not None:
        # the weights already count each user's ratings: no effective sizes
        effect, score, pvalue, n_target, n_reference, means = weighted_difference(
            target, reference, column, spec.weights
        )
    elif (
        statistic := drift_statistic(target, reference, column, spec.algorithm)
    ) is None:
        effect = score = pvalue = None
        n_target = n_reference = 0.0
    else:
        effect, pvalue = effect_size(statistic), statistic.pvalue
        if math.isinf(units[0]) or math.isinf(units[1]):
            n_target = min(float(statistic.n_target), units[0])
            n_reference = min(float(statistic.n_reference), units[1])
        else:
            n_target = effective_size(
                statistic.n_target, units[0], rho, unit_sums=unit_sums[0]
            )
            n_reference = effective_size(
                statistic.n_reference, units[1], rho, unit_sums=unit_sums[1]
            )
        score = scaled_score(effect, n_target, n_reference)
        if small_sample is not None:
            users, quantile = small_sample
            score *= small_sample_factor(n_reference, users, quantile)
    if spec.algorithm not in ("chi_square", "weighted_mean"):
        means = (column_mean(target, column), column_mean(reference, column))
    category = categorize(score, possible_drift=spec.possible_drift, drift=spec.drift)
    if not moved(means, spec.direction):
        category = DriftCategory.NO_DRIFT
    vanished = spec.vanished is not None and _vanished(means, spec.vanished)
    if vanished:
        category = DriftCategory.DRIFT
    return ColumnDrift(
        column=column,
        algorithm=spec.algorithm,
        effect=effect,
        score=score,
        pvalue=pvalue,
        category=category,
        threshold=spec.drift,
        n_target=n_target,
        n_reference=n_reference,
        reference=source,
        mean_target=means[0],
        mean_reference=means[1],
        vanished=vanished,
    )


def weighted_difference(
    target: ProfileView, reference: ProfileView, column: str, weights: str
) -> tuple[float | None, float | None, float | None, float, float, tuple[float, float]]:
    """The precision-weighted means of ``column`` (weight x value) compared.

    Each profile's weighted mean is ``sum(column) / sum(weights)``, its variance
    ``1 / sum(weights)`` (weights the inverse variances of the users' means).
    Returns ``(effect, score, pvalue, n_target, n_reference, means)``: the
    absolute difference of the weighted means, that difference in standard
    errors ``sqrt(1 / W_t + 1 / W_r)`` (a z), its two-sided normal p-value, the
    users on each side (the weight column's values) and the two weighted means;
    ``None`` for the first three (and NaN means) when a side has no weight.
    """
    (n_t, weighted_t, _), (_, total_t, _) = (
        column_sums(target, column),
        column_sums(target, weights),
    )
    (n_r, weighted_r, _), (_, total_r, _) = (
        column_sums(reference, column),
        column_sums(reference, weights),
    )
    if total_t <= 0 or total_r <= 0:
        return None, None, None, n_t, n_r, (math.nan, math.nan)
    means = (weighted_t / total_t, weighted_r / total_r)
    effect = abs(means[0] - means[1])
    score = effect / math.sqrt(1 / total_t + 1 / total_r)
    return effect, score, math.erfc(score / math.sqrt(2)), n_t, n_r, means


def _vanished(means: tuple[float | None, float | None], share: float) -> bool:
    """Whether the target's mean is 0 and the reference's at least ``share``."""
    target, reference = means
    return target == 0 and reference is not None and reference >= share


def moved(means: tuple[float | None, float | None], direction: str) -> bool:
    """Whether the target's mean (``means[0]``) moved from the reference's that way.

    ``"both"``: always (a two-way column needs no move); ``"increase"``: went up;
    ``"decrease"``: went down; either mean unknown: False for a one-way column.
    """
    if direction == "both":
        return True
    target, reference = means
    if target is None or reference is None:
        return False
    return target > reference if direction == "increase" else target < reference


def _fmt(value: float | None, decimals: int) -> str:
    if value is None:
        return "n/a"
    return "inf" if math.isinf(value) else f"{value:.{decimals}f}"
