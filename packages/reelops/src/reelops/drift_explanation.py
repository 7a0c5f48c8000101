"""Plain sentences behind a monitoring decision: each drift score, and what it lacks.

:func:`explain_drift` says how one column's score was reached (the algorithm's
effect, the effective sample sizes, the scaled score against the configured
thresholds; :mod:`reelops_monitoring.drift`); :func:`window_warnings` says what
the window was too small to judge. Both read ``decision.json`` defensively (a
missing field is "not assessed", never an error): its shape grows over time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from reelops_monitoring import MonitoringConfig
    from reelops_monitoring.config import ColumnDriftConfig

__all__ = ["MIN_EFFECTIVE_SAMPLES", "explain_drift", "window_warnings"]

#: Fewer effective samples (distinct users) than this: scores are only indicative.
MIN_EFFECTIVE_SAMPLES = 30

_EFFECTS = {
    "ks": (
        "KS statistic D",
        "the largest gap between the cumulative distributions of reference and window",
    ),
    "chi_square": (
        "Cohen's w",
        "sqrt(chi-square / n_target), the size of the difference in category shares",
    ),
    "hellinger": ("Hellinger distance H", "between the two histograms"),
    "mean": (
        "Cohen's d",
        "the difference of the means in pooled standard deviations",
    ),
    "weighted_mean": (
        "The difference of the weighted means",
        "in stars; each user's mean weighs 1 / (tau^2 + sigma^2 / m) over their "
        "m values",
    ),
}


def _count(value: Any) -> str:
    return f"{round(float(value)):,}"


def _sizes(
    drift: Mapping[str, Any],
    n_values: tuple[int, int] | None,
    spec: ColumnDriftConfig | None = None,
) -> str:
    n_t, n_r = drift.get("n_target") or 0, drift.get("n_reference") or 0
    text = f"n_target = {_count(n_t)} and n_reference = {_count(n_r)}"
    if spec is not None and spec.effective_size == "correlation":
        values = (
            ""
            if n_values is None
            else f": window {_count(n_values[0])} and reference "
            f"{_count(n_values[1])} values"
        )
        return text + (
            " effective samples (ratings clustered by user count for "
            "n / (1 + (m - 1) rho), m the users' ratings' size-weighted mean "
            "sum m^2 / sum m, rho the intra-user correlation on the training "
            f"data{values})"
        )
    users = (
        f"the users '{spec.units}' counts"
        if spec is not None and spec.units is not None
        else "users"
    )
    users = f"the effective number of {users}, (sum m)^2 / sum m^2 of their ratings m"
    if n_values is None:
        return text + f" effective samples (values capped at {users})"
    capped = [
        f"{label} {_count(raw)} values"
        for label, raw, n in (
            ("window", n_values[0], n_t),
            ("reference", n_values[1], n_r),
        )
        if raw > round(float(n))
    ]
    if not capped:
        return text + " effective samples (one value per user: no cap applies)"
    return text + f" effective samples (capped at {users}: {' and '.join(capped)})"


def _against(score: float, spec: ColumnDriftConfig | None) -> str:
    if spec is None:
        return "no thresholds for this column in the configuration"
    if score >= spec.drift:
        return (
            f"at or above the DRIFT threshold {spec.drift:g} "
            f"(POSSIBLE_DRIFT from {spec.possible_drift:g})"
        )
    if score >= spec.possible_drift:
        return (
            f"at or above the POSSIBLE_DRIFT threshold {spec.possible_drift:g}, "
            f"below the DRIFT threshold {spec.drift:g}"
        )
    return (
        f"below the POSSIBLE_DRIFT threshold {spec.possible_drift:g} "
        f"(DRIFT from {spec.drift:g})"
    )


def explain_drift(
    drift: Mapping[str, Any],
    spec: ColumnDriftConfig | None,
    *,
    n_values: tuple[int, int] | None = None,
    min_users: int | None = None,
) -> str:
    """One plain sentence: how a column's drift score and category were reached.

    Args:
        drift: The column's entry of ``decision["scores"]["drift"]["columns"]``
            (``algorithm``, ``effect``, ``score``, ``category``, ``n_target``,
            ``n_reference``).
        spec: The column's thresholds, or ``None`` when not configured.
        n_values: The non-null values of the column in (window, reference), to
            say when the effective sizes were capped at distinct users.
        min_users: The users the column needs on each side (its own
            ``min_users`` or ``drift.min_users``), to say why it was not judged.
    """
    algorithm = str(drift.get("algorithm", "?"))
    name, meaning = _EFFECTS.get(algorithm, (f"{algorithm} effect", ""))
    effect, score = drift.get("effect"), drift.get("score")
    category = str(drift.get("category", "NO_DRIFT"))
    if drift.get("vanished"):
        reference = float(drift.get("mean_reference") or 0.0)
        return (
            f"Vanished: none of the window's values is 1, against {reference:.1%} "
            "of the reference's (at least the column's `vanished` share), so DRIFT "
            "whatever the score: a value the users gave has disappeared, as when a "
            "client loses the half-star widget."
        )
    if effect is None and category == "DRIFT":
        return (
            f"{name} is infinite: the window has a category the reference (nearly) "
            "never had, so the score is infinite, above any threshold: DRIFT."
        )
    if "reference" in drift and drift["reference"] is None:
        return (
            "Not assessed: none of the references this column is compared with "
            f"({', '.join(spec.reference) if spec else '?'}) is available yet "
            "(served traffic is kept from the first monitored window on; "
            "deployment: the windows served by the same deployment, the same "
            "model measured against the same head of the catalogue, kept since "
            "the last training)."
        )
    sized = drift.get("n_target") or drift.get("n_reference")
    if effect is None and score is None and sized and min_users is not None:
        n_r = float(drift.get("n_reference") or 0)
        side = (
            f"the reference's values rest on {n_r:.1f} effective samples, fewer than"
            if n_r < min_users
            else "the window's values come from fewer than"
        )
        return (
            f"Not judged: {side} the {min_users} users a column needs on each "
            "side (monitoring.drift.min_users, or the column's own): a handful of "
            "users' tastes is no distribution to compare."
        )
    if effect is None or score is None or math.isnan(float(score)):
        return (
            f"Not testable: one of the profiles has no value {algorithm} can use; "
            f"{category} by default."
        )
    return _scored(drift, spec, n_values, f"{name} = {effect:.3f}", meaning)


def _scored(
    drift: Mapping[str, Any],
    spec: ColumnDriftConfig | None,
    n_values: tuple[int, int] | None,
    effect: str,
    meaning: str,
) -> str:
    """The sentence of a scored column: ``effect`` (its name and value), on what."""
    meaning = f" ({meaning})" if meaning else ""
    score, category = float(drift["score"]), str(drift.get("category", "NO_DRIFT"))
    verdict = f"{score:.2f}, {_against(score, spec)}: {category}."
    if drift.get("algorithm") == "weighted_mean":
        return (
            f"{effect}{meaning}, from n_target = {_count(drift.get('n_target') or 0)}"
            f" and n_reference = {_count(drift.get('n_reference') or 0)} users. "
            "Score = effect / "
            "sqrt(1 / W_target + 1 / W_reference), W the sums of the weights "
            f"(a z) = {verdict}"
        )
    return (
        f"{effect}{meaning}, on {_sizes(drift, n_values, spec)}. "
        f"Score = effect x sqrt(n_target x n_reference / (n_target + n_reference)) "
        f"= {verdict}"
    )


def _drift_warnings(
    decision: Mapping[str, Any], config: MonitoringConfig, min_samples: int
) -> list[str]:
    drift = (decision.get("scores") or {}).get("drift") or {}
    n_rows = drift.get("n_rows", (decision.get("window") or {}).get("n_rows", 0))
    if not drift.get("assessed", False):
        return [
            f"Drift not assessed: the window has {_count(n_rows or 0)} rows, fewer "
            f"than the {config.drift.min_rows:,} drift needs "
            "(monitoring.drift.min_rows)."
        ]
    sizes = [
        (side, float(column.get(key) or 0))
        for column in (drift.get("columns") or {}).values()
        for side, key in (("window", "n_target"), ("reference", "n_reference"))
        if column.get(key)
    ]
    warnings = []
    for side in ("window", "reference"):
        smallest = min((n for s, n in sizes if s == side), default=None)
        if smallest is not None and smallest < min_samples:
            warnings.append(
                f"Small {side}: its drift tests rest on {_count(smallest)} effective "
                f"samples (distinct users), fewer than {min_samples}; read the "
                "scores as indicative, not as evidence."
            )
    return warnings


def _decay_warning(decision: Mapping[str, Any], config: MonitoringConfig) -> list[str]:
    decay = (decision.get("scores") or {}).get("decay")
    performance = decision.get("performance") or {}
    n_feedback = _count(performance.get("n_feedback") or 0)
    if decay is None:
        missing = (
            "no holdout metrics of the deployed model"
            if performance.get("window") and not performance.get("training")
            else f"no window metrics ({n_feedback} rated rows)"
        )
        return [f"Decay not assessed: {missing}."]
    if not decay.get("assessed", False):
        rows = decay.get("n_feedback") or 0
        if rows < config.decay.min_feedback_rows:
            return [
                f"Decay not assessed: {_count(rows)} rated rows, "
                f"fewer than the {config.decay.min_feedback_rows:,} decay needs "
                "(monitoring.decay.min_feedback_rows)."
            ]
        return [
            f"Decay not assessed: {_count(decay.get('n_users') or 0)} users, fewer "
            f"than the {config.decay.min_users:,} decay needs "
            "(monitoring.decay.min_users)."
        ]
    return [
        _unjudged(name, found, decay.get("n_users") or 0, config.decay.min_users)
        for name, found in (decay.get("metrics") or {}).items()
        if found.get("judged") is False
    ]


def _unjudged(name: str, found: Mapping[str, Any], n_users: int, least: int) -> str:
    """One line: a decay metric resting on too few users, and on how many."""
    from recsys import resolve

    users = (
        "effective users (Kish's, of their ratings)"
        if resolve(name)[0].kind != "ranking"
        else "users ranked like the reference's (known or new, as many movies)"
        if found.get("standardized")
        else "users ranked"
    )
    return (
        f"Decay in '{name}' not judged: its value rests on "
        f"{float(found.get('users') or 0):.1f} {users} of the window's "
        f"{_count(n_users)}, fewer than the {least:,} decay needs "
        "(monitoring.decay.min_users)."
    )


def window_warnings(
    decision: Mapping[str, Any],
    config: MonitoringConfig,
    *,
    min_samples: int = MIN_EFFECTIVE_SAMPLES,
) -> list[str]:
    """What the window was too small to judge, with the numbers (one line each).

    Drift not assessed (fewer rows than ``config.drift.min_rows``), decay not
    assessed (no metrics, or fewer rated rows than
    ``config.decay.min_feedback_rows``), and drift tests resting on fewer than
    ``min_samples`` effective samples on either side.
    """
    return _drift_warnings(decision, config, min_samples) + _decay_warning(
        decision, config
    )
