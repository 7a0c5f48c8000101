"""reelops-monitoring: whylogs profiles, drift, data quality, decay, retrain decision.

Only :mod:`reelops_monitoring.adapter` imports whylogs (lazily, behind the NumPy 2
shim and with analytics off); every other module works on its profile views and
plain data.
"""

from __future__ import annotations

from reelops_monitoring.adapter import (
    ProfileView,
    deserialize_view,
    merge_views,
    profile_frame,
    profile_view,
    row_count,
    serialize_view,
    summarize_view,
)
from reelops_monitoring.config import MonitoringConfig
from reelops_monitoring.decay import DecayVerdict, assess_decay
from reelops_monitoring.decision import Decision, assess_window, decide
from reelops_monitoring.drift import DriftCategory, DriftReport, detect_drift
from reelops_monitoring.errors import (
    InvalidInputError,
    MissingColumnError,
    MonitoringError,
    ProfileError,
)
from reelops_monitoring.features import window_features
from reelops_monitoring.health import Health, judge_health
from reelops_monitoring.quality import QualityResult, check_quality

__all__ = [
    "DecayVerdict",
    "Decision",
    "DriftCategory",
    "DriftReport",
    "Health",
    "InvalidInputError",
    "MissingColumnError",
    "MonitoringConfig",
    "MonitoringError",
    "ProfileError",
    "ProfileView",
    "QualityResult",
    "assess_decay",
    "assess_window",
    "check_quality",
    "decide",
    "deserialize_view",
    "detect_drift",
    "judge_health",
    "merge_views",
    "profile_frame",
    "profile_view",
    "row_count",
    "serialize_view",
    "summarize_view",
    "window_features",
]
