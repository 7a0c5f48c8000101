"""Drift scores and categories between two profiles."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from reelops_monitoring import (
    DriftCategory,
    MissingColumnError,
    detect_drift,
    profile_view,
    window_features,
)
from reelops_monitoring.adapter import DriftStatistic, value_count
from reelops_monitoring.config import ColumnDriftConfig, DriftConfig
from reelops_monitoring.drift import (
    categorize,
    effect_size,
    scaled_score,
    small_sample_factor,
)
from reelops_monitoring.features import (
    RESIDUAL_SIGMA,
    RESIDUAL_TAU,
    catalogue_head,
    popular_shares,
)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.0, DriftCategory.NO_DRIFT),
        (0.099, DriftCategory.NO_DRIFT),
        (0.1, DriftCategory.POSSIBLE_DRIFT),
        (0.2, DriftCategory.DRIFT),
        (math.inf, DriftCategory.DRIFT),
        (None, DriftCategory.NO_DRIFT),
        (math.nan, DriftCategory.NO_DRIFT),
    ],
)
def test_categorize_bounds(score, expected):
    assert categorize(score, possible_drift=0.1, drift=0.2) is expected


def test_chi_square_effect_is_cohens_w():
    stat = DriftStatistic(
        "chi_square", statistic=25.0, pvalue=0.0, n_target=100, n_reference=900
    )
    assert effect_size(stat) == pytest.approx(0.5)
    ks = DriftStatistic("ks", statistic=0.3, pvalue=0.01, n_target=100, n_reference=900)
    assert effect_size(ks) == 0.3


def test_score_scales_effect_by_effective_sizes():
    assert scaled_score(0.3, 20, 180) == pytest.approx(0.3 * (20 * 180 / 200) ** 0.5)
    assert scaled_score(math.inf, 20, 180) == math.inf
    assert math.isnan(scaled_score(0.3, 0, 180))


def both(reference):
    """The same profile as training, traffic and deployment reference."""
    return {"training": reference, "traffic": reference, "deployment": reference}


@pytest.fixture(scope="module")
def halves_frames(ml_ratings):
    # two random halves of the same ratings, and the users the model knows
    window = ml_ratings.sample(6000, random_state=1)
    known = set(ml_ratings["user_id"].head(100))
    return window.iloc[:3000], window.iloc[3000:], known


@pytest.fixture(scope="module")
def halves(halves_frames, ml_movies, ml_ratings):
    # each half featurized as a window
    *frames, known = halves_frames
    head = catalogue_head(ml_ratings)
    shares = popular_shares(ml_ratings, head)
    return tuple(
        profile_view(
            window_features(
                half, ml_movies, known, head_movies=head, popular_shares=shares
            )
        )
        for half in frames
    )


def kish(frame) -> float:
    """Kish's effective number of users: (sum m)^2 / sum m^2 of their ratings."""
    per_user = frame.groupby("user_id").size().to_numpy(dtype="float64")
    return float(per_user.sum() ** 2 / (per_user**2).sum())


def test_random_halves_do_not_drift(halves):
    reference, target = halves
    report = detect_drift(both(reference), target, DriftConfig())
    assert report.assessed
    assert report.drifted == ()
    assert {c.column for c in report.columns} == {
        "new_user_rating",
        "known_user_residual",
        "known_user_mean_residual",
        "known_user_weighted_residual",
        "half_star",
        "genre",
        "known_user_ratings",
        "new_user_ratings",
        "new_user",
        "known_user_half_star_shift",
        "popular_movie",
        "known_user_popular_shift",
    }
    # every column's first reference is given; the residuals, the half-star habit
    # and popular_movie have only deployment (the windows the same model served)
    assert {
        c.column: c.reference for c in report.columns if c.reference != "traffic"
    } == dict.fromkeys(
        [
            "known_user_residual",
            "known_user_mean_residual",
            "known_user_weighted_residual",
            "known_user_half_star_shift",
            "popular_movie",
            "known_user_popular_shift",
        ],
        "deployment",
    )


def test_effective_size_is_capped_by_users(halves, halves_frames):
    reference, target = halves
    _, frame, known = halves_frames
    report = detect_drift(both(reference), target, DriftConfig())
    by_column = {c.column: c for c in report.columns}
    # a user-level column: one value per user, each counts
    assert by_column["new_user"].n_target == pytest.approx(
        value_count(target, "new_user"), rel=0.02
    )
    # 3,000 ratings of ~700 users, but a few heavy raters gave most of them: the
    # ratings count as Kish's effective number of users, far below the users
    assert by_column["genre"].n_target == pytest.approx(kish(frame), rel=1e-6)
    assert by_column["genre"].n_target < 0.5 * value_count(target, "user_ratings")
    # a column of some users' values counts those users (its `units` column)
    new = frame[~frame["user_id"].isin(known)]
    assert by_column["new_user_rating"].n_target == pytest.approx(kish(new), rel=1e-6)
    assert by_column["new_user_rating"].n_target < value_count(
        target, "new_user_ratings"
    )
    # without the size column: capped at the users themselves, as before
    plain = detect_drift(both(reference), target, DriftConfig(unit_sizes=None))
    (rating,) = [c for c in plain.columns if c.column == "new_user_rating"]
    assert rating.n_target == value_count(target, "new_user_ratings")
    unclustered = detect_drift(both(reference), target, DriftConfig(unit_column=None))
    (genre,) = [c for c in unclustered.columns if c.column == "genre"]
    assert genre.n_target == 3000


def test_a_binge_rater_counts_as_few_users(ml_ratings, ml_movies):
    # GIVEN two windows of 20 users and the same 1,000 ratings in all, one even,
    # one where a single user gave 620 of them
    users = ml_ratings.groupby("user_id").size()
    heavy = users[users >= 620].index[:20]
    rows = ml_ratings[ml_ratings["user_id"].isin(heavy)]
    even = rows.groupby("user_id").head(50)
    binge = pd.concat(
        [
            rows[rows["user_id"] == heavy[0]].head(620),
            rows[rows["user_id"].isin(heavy[1:])].groupby("user_id").head(20),
        ]
    )
    reference = profile_view(window_features(ml_ratings, ml_movies, set()))
    config = DriftConfig(
        columns={
            "genre": ColumnDriftConfig(
                algorithm="chi_square", possible_drift=9, drift=9
            )
        }
    )
    sizes = {}
    for name, window in (("even", even), ("binge", binge)):
        target = profile_view(window_features(window, ml_movies, set()))
        (genre,) = detect_drift({"training": reference}, target, config).columns
        sizes[name] = genre.n_target
    # THEN the even window counts its 20 users; the binge one (sum m)^2 / sum m^2
    assert len(even) == len(binge) == 1000
    assert sizes["even"] == pytest.approx(20, rel=1e-6)
    assert sizes["binge"] == pytest.approx(1000**2 / (620**2 + 19 * 20**2), rel=1e-6)
    assert sizes["binge"] < 3


@pytest.mark.parametrize(
    ("n_reference", "df"),
    [(3.0, 2.0), (11.0, 10.0), (1.0, 1.0), (0.5, 1.0)],  # df = n - 1, at least 1
)
def test_a_small_references_factor_is_the_ratio_of_t_quantiles(n_reference, df):
    from scipy import stats

    expected = stats.t.ppf(0.995, 29) / stats.t.ppf(0.995, df)
    assert small_sample_factor(n_reference, 30, 0.995) == pytest.approx(expected)


def test_a_reference_of_enough_users_is_not_discounted():
    factors = [small_sample_factor(n, 30, 0.995) for n in (2, 5, 10, 20, 29)]
    assert factors == sorted(factors)
    assert factors[0] < 0.3
    assert factors[-1] == pytest.approx(1.0, abs=0.01)
    assert small_sample_factor(30.0, 30, 0.995) == 1.0
    assert small_sample_factor(1e6, 30, 0.995) == 1.0
    assert math.isnan(small_sample_factor(0.0, 30, 0.995))


def _heavy_raters(ml_ratings, ml_movies):
    """The users of >= 200 ratings, and a profile view of 200 ratings of each of some."""
    users = ml_ratings.groupby("user_id").size()

    def view(ids):
        rows = ml_ratings[ml_ratings["user_id"].isin(ids)].groupby("user_id").head(200)
        return profile_view(window_features(rows, ml_movies, set()))

    return users[users >= 200].index, view


def test_a_reference_of_few_users_discounts_the_score(ml_ratings, ml_movies):
    # GIVEN a window of 40 users' ratings (200 each), judged against a reference
    # of 5 other users and one of 60 others
    heavy, view = _heavy_raters(ml_ratings, ml_movies)
    target = view(heavy[:40])
    genre = {
        "genre": ColumnDriftConfig(algorithm="chi_square", possible_drift=9, drift=9)
    }
    factors = {}
    for n_users in (5, 60):
        reference = {"training": view(heavy[40 : 40 + n_users])}
        # (the default: no discount)
        (scaled,) = detect_drift(reference, target, DriftConfig(columns=genre)).columns
        (discounted,) = detect_drift(
            reference, target, DriftConfig(columns=genre, small_sample_users=30)
        ).columns
        # THEN the score is the scaled one times the factor at the reference's size
        assert discounted.effect == scaled.effect
        assert discounted.n_reference == scaled.n_reference
        # AND a column's own small_sample_users discounts it alone the same way
        own = {
            "genre": ColumnDriftConfig(
                algorithm="chi_square", possible_drift=9, drift=9, small_sample_users=30
            )
        }
        (its_own,) = detect_drift(reference, target, DriftConfig(columns=own)).columns
        assert its_own.score == discounted.score
        factors[n_users] = discounted.score / scaled.score
        assert factors[n_users] == pytest.approx(
            small_sample_factor(scaled.n_reference, 30, 0.995), rel=1e-9
        )
    # a reference of 5 users is discounted by 40 %, one of 60 not at all
    assert factors[5] == pytest.approx(0.60, abs=0.01)
    assert factors[60] == 1.0


def test_a_reference_of_fewer_users_than_min_users_is_not_judged(ml_ratings, ml_movies):
    # GIVEN a window of 40 users' ratings (200 each) and references of 3 and of 8
    # other users (a new deployment's first served window: a few heavy raters)
    heavy, view = _heavy_raters(ml_ratings, ml_movies)
    target = view(heavy[:40])
    genre = {
        "genre": ColumnDriftConfig(
            algorithm="chi_square", possible_drift=0.01, drift=0.01
        )
    }
    found = {}
    for n_users in (3, 8):
        reference = {"training": view(heavy[40 : 40 + n_users])}
        (found[n_users],) = detect_drift(
            reference, target, DriftConfig(columns=genre, min_users=5)
        ).columns
    # THEN against 3 users the column is measured but not judged, against 8 it is
    few, enough = found[3], found[8]
    assert few.n_reference == pytest.approx(3.0)
    assert (few.score, few.category, few.reference) == (
        None,
        DriftCategory.NO_DRIFT,
        "training",
    )
    assert few.n_target == pytest.approx(40.0)
    assert enough.n_reference == pytest.approx(8.0)
    assert enough.category == DriftCategory.DRIFT


def test_small_window_is_not_assessed(halves):
    reference, target = halves
    report = detect_drift(both(reference), target, DriftConfig(min_rows=10_000))
    assert not report.assessed
    assert report.columns == ()


def test_reason_is_one_line(halves):
    reference, target = halves
    config = DriftConfig(
        columns={
            "rating": ColumnDriftConfig(algorithm="ks", possible_drift=1e-9, drift=1e-9)
        }
    )
    (column,) = detect_drift(both(reference), target, config).drifted
    assert re.fullmatch(
        r"drift in 'rating': ks score \d+\.\d\d >= 1e-09 "
        r"\(effect 0\.\d{3}, vs traffic\)",
        column.reason(),
    )


def test_unknown_column_is_named(halves):
    reference, target = halves
    config = DriftConfig(
        columns={
            "nope": ColumnDriftConfig(algorithm="ks", possible_drift=0.1, drift=0.2)
        }
    )
    with pytest.raises(
        MissingColumnError,
        match=re.escape(
            "the window's profile has no column 'nope' (drift columns must be "
            "profiled; got ['genre', "
        ),
    ):
        detect_drift(both(reference), target, config)


def test_each_column_uses_the_first_reference_available(halves):
    reference, target = halves
    # no served traffic yet: a column compared with served traffic only is not
    # assessed, the others fall back to the training data
    config = DriftConfig(
        columns={
            "rating": ColumnDriftConfig(algorithm="ks", possible_drift=1, drift=2),
            "new_user": ColumnDriftConfig(
                algorithm="ks", possible_drift=1, drift=2, reference=["traffic"]
            ),
        }
    )
    report = detect_drift({"training": reference}, target, config)
    by_column = {c.column: c for c in report.columns}
    assert by_column["new_user"].reference is None
    assert by_column["new_user"].score is None
    assert by_column["new_user"].category is DriftCategory.NO_DRIFT
    assert by_column["rating"].reference == "training"
    assert by_column["rating"].score is not None
    # nothing at all: nothing assessed, nothing drifts
    none = detect_drift({"training": None, "traffic": None}, target, DriftConfig())
    assert {c.reference for c in none.columns} == {None}


def test_a_reference_without_the_column_is_skipped(ml_ratings, ml_movies, halves):
    # a training reference profiled before a column existed
    _, target = halves
    old = profile_view(
        window_features(ml_ratings.head(3000), ml_movies, set()).drop(
            columns=["known_user_ratings"]
        )
    )
    report = detect_drift({"training": old}, target, DriftConfig())
    by_column = {c.column: c for c in report.columns}
    assert by_column["known_user_ratings"].reference is None
    assert by_column["new_user_rating"].reference == "training"


def test_an_increase_only_column_ignores_a_decrease(ml_ratings, ml_movies):
    # GIVEN a reference where every user is new and a window where none is
    users = ml_ratings["user_id"]
    all_new = profile_view(window_features(ml_ratings[users <= 300], ml_movies, set()))
    all_known = profile_view(
        window_features(ml_ratings[users > 300], ml_movies, set(users))
    )
    strict = {
        "new_user": ColumnDriftConfig(
            algorithm="ks", possible_drift=0.5, drift=1.0, direction="increase"
        )
    }
    config = DriftConfig(columns=strict)
    # THEN fewer new users is no drift, though the score is huge
    (fewer,) = detect_drift({"traffic": all_new}, all_known, config).columns
    assert fewer.score > 5
    assert fewer.category is DriftCategory.NO_DRIFT
    assert (fewer.mean_target, fewer.mean_reference) == (0.0, 1.0)
    # AND more new users is
    (more,) = detect_drift({"traffic": all_known}, all_new, config).columns
    assert more.category is DriftCategory.DRIFT


def test_a_decrease_only_column_ignores_an_increase(ml_ratings, ml_movies):
    # GIVEN MovieLens ratings since half stars exist, and the same rounded up to
    # whole stars (a client that lost its half-star widget)
    recent = ml_ratings[ml_ratings["timestamp"] >= 1_100_000_000]
    whole = recent.assign(rating=np.ceil(recent["rating"]))
    halves = profile_view(window_features(recent, ml_movies, set()))
    wholes = profile_view(window_features(whole, ml_movies, set()))
    config = DriftConfig(
        columns={
            "half_star": ColumnDriftConfig(
                algorithm="mean", possible_drift=1.0, drift=2.0, direction="decrease"
            )
        }
    )
    # THEN fewer half stars is drift
    (fewer,) = detect_drift({"traffic": halves}, wholes, config).columns
    assert fewer.category is DriftCategory.DRIFT
    assert fewer.mean_target == 0.0 and fewer.mean_reference > 0.1
    # AND more half stars (how MovieLens changed when it added them) is not
    (more,) = detect_drift({"traffic": wholes}, halves, config).columns
    assert more.score == fewer.score
    assert more.category is DriftCategory.NO_DRIFT


def test_half_stars_that_vanished_are_drift_whatever_the_score(ml_ratings, ml_movies):
    # GIVEN MovieLens ratings since half stars exist as the served traffic, and
    # 200 ratings of two users, one of them a binge rater (Kish's effective users
    # 1.2), all rounded up to whole stars: a client that lost the widget
    recent = ml_ratings[ml_ratings["timestamp"] >= 1_100_000_000]
    traffic = profile_view(window_features(recent, ml_movies, set()))
    users = recent["user_id"].value_counts()
    heavy, light = users.index[0], users.index[users.between(10, 20)][0]
    window = pd.concat(
        [
            recent[recent["user_id"] == heavy].head(190),
            recent[recent["user_id"] == light].head(10),
        ]
    )
    spec = {"algorithm": "mean", "possible_drift": 0.74, "drift": 1.2}
    spec |= {"direction": "decrease", "min_users": 2}
    plain = DriftConfig(columns={"half_star": ColumnDriftConfig(**spec)})
    vanishing = DriftConfig(
        columns={"half_star": ColumnDriftConfig(**spec, vanished=0.05)}
    )

    def judged(rows: pd.DataFrame, config: DriftConfig):
        whole = rows.assign(rating=np.ceil(rows["rating"]))
        view = profile_view(window_features(whole, ml_movies, set()))
        (column,) = detect_drift({"traffic": traffic}, view, config).columns
        return column

    # THEN the score alone leaves it under its threshold (two users' habits)
    assert judged(window, plain).category is not DriftCategory.DRIFT
    # AND a vanished test calls it drift, and says why in one line
    found = judged(window, vanishing)
    assert found.category is DriftCategory.DRIFT and found.vanished
    share = 100 * found.mean_reference
    assert found.reason() == (
        f"drift in 'half_star': vanished, 0 % of the window's values against "
        f"{share:.1f} % (vs traffic)"
    )
    assert found.to_dict()["vanished"] is True
    # AND one user's ratings are not judged (min_users), vanished or not
    alone = judged(recent[recent["user_id"] == heavy].head(200), vanishing)
    assert alone.score is None and not alone.vanished
    # AND a reference with fewer half stars than `vanished` is left to the score
    rare = DriftConfig(columns={"half_star": ColumnDriftConfig(**spec, vanished=0.9)})
    assert not judged(window, rare).vanished
    # AND a single half star left in the window is no vanishing
    kept = window.assign(rating=np.ceil(window["rating"]))
    kept.iloc[0, kept.columns.get_loc("rating")] = 3.5
    view = profile_view(window_features(kept, ml_movies, set()))
    (column,) = detect_drift({"traffic": traffic}, view, vanishing).columns
    assert not column.vanished


def test_correlation_sets_the_effective_size_of_the_columns_that_ask(halves):
    reference, target = halves
    config = DriftConfig(
        columns={
            "rating": ColumnDriftConfig(algorithm="ks", possible_drift=9, drift=9),
            "genre": ColumnDriftConfig(
                algorithm="chi_square",
                possible_drift=9,
                drift=9,
                effective_size="correlation",
            ),
        }
    )
    capped = {
        c.column: c for c in detect_drift(both(reference), target, config).columns
    }
    rho = {"rating": 0.2, "genre": 0.02}
    designed = {
        c.column: c
        for c in detect_drift(both(reference), target, config, correlation=rho).columns
    }
    # rating keeps the users cap; genre counts n / (1 + (m - 1) rho) ratings
    assert designed["rating"].n_target == capped["rating"].n_target
    users = capped["genre"].n_target
    per_user = 3000 / users
    assert designed["genre"].n_target == pytest.approx(
        3000 / (1 + (per_user - 1) * 0.02), rel=0.02
    )
    assert designed["genre"].score > capped["genre"].score


def test_a_column_of_too_few_users_is_not_assessed(ml_ratings, ml_movies):
    # GIVEN a window where 3 users are new, against a reference of many new users
    users = ml_ratings["user_id"]
    reference = profile_view(
        window_features(ml_ratings[users <= 300], ml_movies, set())
    )
    window = ml_ratings[users > 290]
    known = set(users[users > 293])
    target = profile_view(window_features(window, ml_movies, known))
    config = DriftConfig(
        columns={
            "new_user_rating": ColumnDriftConfig(
                algorithm="ks",
                possible_drift=1e-9,
                drift=1e-9,
                units="new_user_ratings",
            )
        }
    )
    # THEN their ratings are not judged at the default minimum of 5 users
    (few,) = detect_drift({"traffic": reference}, target, config).columns
    new = window[~window["user_id"].isin(known)]
    assert new["user_id"].nunique() == 3
    assert few.n_target == pytest.approx(kish(new), rel=1e-6)
    assert (few.score, few.category) == (None, DriftCategory.NO_DRIFT)
    assert few.reference == "traffic"
    # AND they are with a minimum of 3
    lower = config.model_copy(update={"min_users": 3})
    (judged,) = detect_drift({"traffic": reference}, target, lower).columns
    assert judged.category is DriftCategory.DRIFT
    # AND with the column's own minimum of 3 (the others keep the default)
    column = config.columns["new_user_rating"].model_copy(update={"min_users": 3})
    own = config.model_copy(update={"columns": {"new_user_rating": column}})
    (judged,) = detect_drift({"traffic": reference}, target, own).columns
    assert (judged.category, own.min_users) == (DriftCategory.DRIFT, 5)


@pytest.fixture(scope="module")
def thirty_ratings(ml_ratings):
    """100 real users' first 30 ratings, and a model predicting 3.5 for each."""
    counts = ml_ratings.groupby("user_id").size()
    users = counts[counts >= 30].index[:100]
    rows = ml_ratings[ml_ratings["user_id"].isin(users)].groupby("user_id").head(30)
    predictions = rows[["user_id", "movie_id"]].assign(prediction=3.5, cold_start=False)
    return users, rows, predictions


def test_known_users_mean_residuals_are_compared_by_ks_each_user_once(
    thirty_ratings, ml_movies
):
    # GIVEN 30 ratings of each of 100 real users, known to a model predicting 3.5
    # for every pair: every other user's ratings served before (the deployment
    # reference), and the others' window
    users, rows, predictions = thirty_ratings

    def view(ids, shift: float = 0.0):
        frame = rows[rows["user_id"].isin(ids)]
        frame = frame.assign(rating=np.minimum(frame["rating"] + shift, 5.0))
        return profile_view(
            window_features(frame, ml_movies, set(users), predictions=predictions)
        )

    name = "known_user_mean_residual"
    config = DriftConfig(columns={name: DriftConfig().columns[name]})
    reference = {"deployment": view(users[::2])}
    # WHEN the other 50 users' window is judged as it is and with +0.5 stars for all
    (unchanged,) = detect_drift(reference, view(users[1::2]), config).columns
    (inflated,) = detect_drift(reference, view(users[1::2], 0.5), config).columns
    # THEN the default compares the users' means by KS, each user counted once
    assert config.columns[name].algorithm == "ks"
    assert (unchanged.n_target, unchanged.n_reference) == (50.0, 50.0)
    assert unchanged.category is DriftCategory.NO_DRIFT
    # AND a shift every user shares moves the whole distribution of their means
    assert inflated.category is DriftCategory.DRIFT
    assert inflated.reason().startswith(f"drift in '{name}': ks score ")
    assert inflated.mean_target > inflated.mean_reference


def test_known_users_residuals_are_weighed_by_the_precision_of_their_means(
    thirty_ratings, ml_movies
):
    # GIVEN 30 ratings of each of 100 real users, known to a model predicting 3.5
    # for every pair: every other user's ratings served before (the deployment
    # reference), and the others' window
    users, rows, predictions = thirty_ratings

    def view(frame):
        return profile_view(
            window_features(frame, ml_movies, set(users), predictions=predictions)
        )

    name = "known_user_weighted_residual"
    spec = ColumnDriftConfig(
        algorithm="weighted_mean",
        weights="known_user_residual_weight",
        possible_drift=2.0,
        drift=3.0,
        reference=["deployment"],
    )
    config = DriftConfig(columns={name: spec})
    reference = {"deployment": view(rows[rows["user_id"].isin(users[::2])])}
    window = rows[rows["user_id"].isin(users[1::2])]
    # WHEN the window is judged as it is and with +0.5 stars for all (clipped)
    inflated = window.assign(rating=np.minimum(window["rating"] + 0.5, 5.0))
    (unchanged,) = detect_drift(reference, view(window), config).columns
    (shifted,) = detect_drift(reference, view(inflated), config).columns
    # THEN each side's weighted mean is sum(w d) / sum(w), the score the
    # difference in standard errors sqrt(1 / W_t + 1 / W_r), each user once
    weight = 1 / (RESIDUAL_TAU**2 + RESIDUAL_SIGMA**2 / 30)
    residual = window["rating"].mean() - 3.5
    assert unchanged.mean_target == pytest.approx(residual)
    assert (unchanged.n_target, unchanged.n_reference) == (50.0, 50.0)
    difference = abs(unchanged.mean_target - unchanged.mean_reference)
    assert unchanged.effect == pytest.approx(difference)
    assert unchanged.score == pytest.approx(difference / math.sqrt(2 / (50 * weight)))
    assert unchanged.category is DriftCategory.NO_DRIFT
    # AND a shift every user shares is drift
    assert shifted.category is DriftCategory.DRIFT
    assert shifted.reason().startswith(f"drift in '{name}': weighted_mean score ")
    moved = inflated["rating"].mean() - window["rating"].mean()
    assert shifted.mean_target - unchanged.mean_target == pytest.approx(moved)
