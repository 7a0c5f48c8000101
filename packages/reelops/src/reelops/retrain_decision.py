"""Whether a window of feedback calls for retraining the deployed model, and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reelops_monitoring import Decision, MonitoringConfig, assess_window, judge_health
from reelops_monitoring.raters import RaterScreen

if TYPE_CHECKING:
    from reelops_monitoring import ProfileView

__all__ = ["retrain_decision"]


def _status(decision: Decision, *, block_retrain: bool) -> str:
    drift, decay = decision.scores["drift"], decision.scores["decay"]
    quality_failed = any(not q["passed"] for q in decision.scores["quality"].values())
    if decision.retrain:
        return "retrain"
    if quality_failed and block_retrain:
        return "blocked"
    if not drift["assessed"] and not (decay and decay["assessed"]):
        return "not_enough_feedback"
    return "ok"


def _not_enough(window_info: dict[str, Any], config: MonitoringConfig) -> str:
    if window_info.get("n_feedback_total") == 0:
        return (
            "no feedback yet: the feedback table is empty or does not exist "
            "(POST /feedback fills it); nothing to assess"
        )
    return (
        f"not enough feedback: {window_info['n_rows']} rating(s) from "
        f"{window_info['start'][:10]} to {window_info['end'][:10]} "
        f"(drift needs {config.drift.min_rows}, decay "
        f"{config.decay.min_feedback_rows})"
    )


def retrain_decision(
    *,
    reference_profile: ProfileView,
    window_profile: ProfileView,
    reference_summary: dict[str, Any],
    holdout_metrics: dict[str, Any],
    window_info: dict[str, Any],
    window_performance: dict[str, Any],
    serving_summary: dict[str, Any],
    config: MonitoringConfig,
    traffic_reference: dict[str, Any] | None = None,
    rater_screen: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The retrain decision of the window (``decision.json``), with its grounds.

    Drift and quality come from the profiles, decay from the deployed model's
    window metrics against its holdout metrics (:func:`~reelops_monitoring.
    assess_window`, thresholds from ``config``). Each drift column is compared
    with the previous windows of served traffic (``traffic_reference``:
    :func:`~reelops.window_profiles.traffic_reference`; its ``deployment``, those
    served by the same deployment) or the training data, as
    configured. ``rater_screen`` (:meth:`~reelops_monitoring.raters.RaterScreen.
    to_dict`: the window's suspicious raters, already left out of the profile
    and the performance) adds a reason per flagged user and pages a human. An
    empty window is not assessed at all: ``status`` is ``not_enough_feedback``.

    Returns:
        The decision: ``retrain``, ``reasons`` and ``scores``
        (:meth:`~reelops_monitoring.Decision.to_dict`), ``data_sha256`` (the
        deployed model's training data, run tag ``data.sha256``), ``status``
        (``retrain``, ``ok``, ``blocked``, ``not_enough_feedback``, ``page``),
        ``page`` and ``page_reasons`` (the service's errors or latency past the
        ``serving`` limits, :func:`~reelops_monitoring.judge_health`, and
        suspicious raters: a human's job, not a retrain's; ``status`` is
        ``page`` unless it already asks for a retrain or is blocked),
        ``notes``, ``window``, ``model``, ``performance``, ``reference`` and
        ``serving`` (with ``health``).
    """
    model = window_performance["model"]
    notes = [n for n in (model.get("note"), window_performance.get("reason")) if n]
    training = (
        holdout_metrics.get("metrics") if holdout_metrics.get("assessed") else None
    )
    current = window_performance.get("metrics")
    traffic = traffic_reference or {"profile": None, "windows": []}
    raters = None if rater_screen is None else RaterScreen.from_dict(rater_screen)
    if current is not None and training is None:
        notes.append(
            "decay against the holdout not assessed: "
            f"{holdout_metrics.get('reason', 'no holdout metrics')}"
        )
    if traffic["profile"] is None and window_info["n_rows"] > 0:
        traffic_only = [
            c
            for c, spec in config.drift.columns.items()
            if spec.reference == ["traffic"]
        ]
        notes.append(
            "no earlier window of served traffic is kept yet: drift is judged "
            "against the training data"
            + (f"; {', '.join(traffic_only)} not assessed" if traffic_only else "")
        )
    same_deployment_only = [
        c
        for c, spec in config.drift.columns.items()
        if spec.reference == ["deployment"]
    ]
    if (
        traffic.get("deployment") is None
        and same_deployment_only
        and window_info["n_rows"]
    ):
        notes.append(
            "no earlier window of served traffic was served by this deployment "
            "(the deployed model and its reference stage's head of the catalogue): "
            f"{', '.join(same_deployment_only)} not assessed"
        )
    if window_info["n_rows"] == 0:
        body = {"retrain": False, "reasons": [], "scores": {}}
        status = "not_enough_feedback"
        notes.insert(0, _not_enough(window_info, config))
    else:
        decision = assess_window(
            reference_profile,
            window_profile,
            config,
            traffic=traffic["profile"],
            deployment=traffic.get("deployment"),
            correlation=reference_summary.get("intra_user_correlation"),
            training_metrics=training,
            window_metrics=current,
            traffic_metrics=traffic.get("metrics"),
            n_feedback=int(window_performance["n_feedback"]),
            raters=raters,
        )
        body = decision.to_dict()
        status = _status(decision, block_retrain=config.quality.block_retrain)
        if status == "not_enough_feedback":
            notes.insert(0, _not_enough(window_info, config))
    health = judge_health(serving_summary.get("answers"), config.serving)
    page_reasons = [*health.reasons, *(raters.reasons() if raters else ())]
    if page_reasons and status in ("ok", "not_enough_feedback"):
        status = "page"
    data_sha = model.get("data_sha256") or reference_summary.get("data_sha256")
    ref_sha = reference_summary.get("data_sha256")
    if model.get("data_sha256") and ref_sha and ref_sha != model["data_sha256"]:
        notes.append(
            "the reference profile was built from other data than the deployed "
            f"model's (data.sha256 {ref_sha[:12]} vs {model['data_sha256'][:12]}): "
            "run the reference_profile pipeline for the deployed model"
        )
    decision_json = {
        **body,
        "page": bool(page_reasons),
        "page_reasons": page_reasons,
        "data_sha256": data_sha,
        "status": status,
        "notes": notes,
        "window": window_info,
        "model": model,
        "performance": {
            "n_feedback": window_performance["n_feedback"],
            "window": current,
            "training": training,
        },
        "reference": {
            "data_sha256": ref_sha,
            "matches_deployed_model": None
            if not (ref_sha and model.get("data_sha256"))
            else ref_sha == model["data_sha256"],
            "n_ratings": reference_summary.get("n_ratings"),
            "traffic_windows": list(traffic["windows"]),
            "deployment_windows": list(traffic.get("deployment_windows", [])),
        },
        "serving": {**serving_summary, "health": health.to_dict()},
    }
    return decision_json
