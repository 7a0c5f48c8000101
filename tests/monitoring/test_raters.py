"""screen_raters(): one-value floods flagged, real users left alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from reelops_monitoring import MonitoringConfig, decide
from reelops_monitoring.config import RatersConfig
from reelops_monitoring.drift import DriftReport
from reelops_monitoring.errors import MissingColumnError
from reelops_monitoring.raters import RaterScreen, screen_raters
from reelops_monitoring.scenarios import bot_burst

LIMITS = RatersConfig()


def _user(user_id: int, ratings: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": user_id,
            "movie_id": np.arange(len(ratings)),
            "rating": ratings,
            "timestamp": 1_500_000_000 + np.arange(len(ratings)),
        }
    )


def test_a_bot_burst_in_a_real_window_is_flagged_and_nobody_else(
    ml_ratings: pd.DataFrame,
) -> None:
    # GIVEN a real quarter of MovieLens (2,000+ ratings) and the suite's bot
    ts = pd.to_datetime(ml_ratings["timestamp"], unit="s")
    quarter = ml_ratings[(ts >= "2018-04-01") & (ts < "2018-07-01")]
    injected = bot_burst(quarter, share=0.2, seed=3)
    bot = int(injected["user_id"].max())
    # THEN the real users pass and the bot is flagged with its numbers
    assert screen_raters(quarter, LIMITS).flagged == ()
    screen = screen_raters(injected, LIMITS)
    assert screen.user_ids == {bot}
    (flag,) = screen.flagged
    n_bot = round(0.2 * len(quarter))
    assert (flag.n_ratings, flag.top_rating, flag.top_share) == (n_bot, 5.0, 1.0)
    assert screen.n_users == quarter["user_id"].nunique() + 1
    # AND split keeps the real window whole and quarantines the bot's rows
    kept, held = screen.split(injected)
    pd.testing.assert_frame_equal(kept, quarter.reset_index(drop=True))
    assert len(held) == n_bot and set(held["user_id"]) == {bot}


def test_the_limits_are_inclusive_of_min_ratings_and_exclusive_of_the_share() -> None:
    # 30 ratings, 27 of one value (90 %): at the limit, not over it
    at_limit = _user(1, [4.0] * 27 + [3.0] * 3)
    over = _user(2, [4.0] * 28 + [3.0] * 2)  # 93 %
    few = _user(3, [5.0] * 29)  # 100 %, but fewer than 30 ratings
    window = pd.concat([at_limit, over, few], ignore_index=True)
    screen = screen_raters(window, LIMITS)
    assert [f.user_id for f in screen.flagged] == [2]


def test_the_reason_is_one_line_with_the_numbers() -> None:
    screen = screen_raters(_user(7, [0.5] * 120), LIMITS)
    assert screen.reasons() == (
        "suspicious rater quarantined: user 7 gave 120 ratings, 100% of them 0.5 "
        "(limit 90% of one value); a human should look, retraining does not fix it",
    )


def test_null_ratings_are_not_counted() -> None:
    # 30 rows, but 5 without a rating: 25 ratings, fewer than min_ratings
    rows = _user(4, [5.0] * 25 + [np.nan] * 5)
    assert screen_raters(rows, LIMITS).flagged == ()


def test_the_screen_round_trips_through_json_form() -> None:
    screen = screen_raters(_user(9, [3.0] * 40), LIMITS)
    assert RaterScreen.from_dict(screen.to_dict()) == screen
    assert screen.to_dict() == {
        "min_ratings": 30,
        "max_top_share": 0.9,
        "users_screened": 1,
        "flagged": [
            {"user_id": 9, "n_ratings": 40, "top_rating": 3.0, "top_share": 1.0}
        ],
    }


def test_a_window_without_user_or_rating_is_a_one_line_error() -> None:
    with pytest.raises(MissingColumnError) as raised:
        screen_raters(pd.DataFrame({"user_id": [1], "stars": [4.0]}), LIMITS)
    assert str(raised.value) == (
        "ratings window lacks column(s) ['rating']: expected ['user_id', 'rating'], "
        "got ['user_id', 'stars']"
    )


@pytest.mark.parametrize(
    ("limits", "field"),
    [({"max_top_share": 1.0}, "max_top_share"), ({"min_ratings": 1}, "min_ratings")],
)
def test_limits_out_of_range_are_refused(limits: dict, field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        MonitoringConfig.model_validate({"raters": limits})
    with pytest.raises(ValidationError, match="extra"):
        MonitoringConfig.model_validate({"raters": {"max_share": 0.9}})


def test_a_flagged_rater_is_a_reason_and_never_a_retrain() -> None:
    screen = screen_raters(_user(5, [5.0] * 50), LIMITS)
    decision = decide(
        DriftReport(n_rows=500, min_rows=200, columns=()),
        [],
        None,
        raters=screen,
    )
    assert decision.retrain is False
    assert decision.alert is True
    assert decision.reasons == screen.reasons()
    assert decision.scores["raters"] == screen.to_dict()
