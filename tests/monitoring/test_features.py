"""window_features: the columns profiled for a window of ratings."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from reelops_monitoring import InvalidInputError, MissingColumnError, window_features
from reelops_monitoring.features import (
    FEATURE_COLUMNS,
    OTHER_GENRE,
    RESIDUAL_SIGMA,
    RESIDUAL_TAU,
    TRACKED_GENRES,
    catalogue_head,
    head_share_by_tenure,
    popular_movie,
    popular_shares,
    tenure_ranks,
)

MOVIES = pd.DataFrame(
    {
        "movie_id": [1, 2, 3],
        "genres": ["Comedy|Romance", "Documentary", "(no genres listed)"],
    }
)
WINDOW = pd.DataFrame(
    {
        "user_id": [7, 7, 7, 8, 9],
        "movie_id": [1, 2, 3, 1, 99],
        "rating": [4.0, 3.5, 5.0, 2.0, 1.0],
        "timestamp": [1_500_000_000, 1_500_000_100, None, 1_500_000_200, 1_500_000_300],
    }
)


def test_columns_and_one_row_per_rating():
    features = window_features(WINDOW, MOVIES, known_users={7})
    assert tuple(features.columns) == FEATURE_COLUMNS
    assert len(features) == len(WINDOW)
    assert features["timestamp"].isna().tolist() == [False, False, True, False, False]
    assert str(features["timestamp"].dt.tz) == "UTC"


def test_half_star_marks_each_half_star_rating_and_keeps_nulls():
    window = WINDOW.assign(rating=[4.0, 3.5, None, 0.5, 1.0])
    features = window_features(window, MOVIES, known_users=set())
    assert features["half_star"].tolist()[:2] == [0.0, 1.0]
    assert pd.isna(features["half_star"].iloc[2])
    assert features["half_star"].tolist()[3:] == [1.0, 0.0]


def test_user_level_columns_count_each_user_once():
    features = window_features(WINDOW, MOVIES, known_users={7})
    # user 7 has three ratings: set on its first only
    assert features["user_ratings"].iloc[0] == 3.0
    assert features["user_ratings"].iloc[1:3].isna().all()
    assert features["user_ratings"].dropna().tolist() == [3.0, 1.0, 1.0]
    assert features["new_user"].dropna().tolist() == [0.0, 1.0, 1.0]
    # conditioned on the user being known (7) or new
    assert features["known_user_ratings"].dropna().tolist() == [3.0]
    assert features["new_user_ratings"].dropna().tolist() == [1.0, 1.0]


def test_genre_is_one_of_the_movies_and_rare_ones_are_other():
    features = window_features(WINDOW, MOVIES, known_users=set())
    assert features["genre"].iloc[0] in {"Comedy", "Romance"}
    # Documentary is not tracked; no genres and unknown movies are "other" too
    assert features["genre"].iloc[1:3].tolist() == [OTHER_GENRE, OTHER_GENRE]
    assert features["genre"].iloc[4] == OTHER_GENRE
    assert "Documentary" not in TRACKED_GENRES


def test_genre_pick_is_deterministic_and_spreads_over_genres(ml_ratings, ml_movies):
    window = ml_ratings.head(5000)
    first = window_features(window, ml_movies, set())["genre"]
    again = window_features(window, ml_movies, set())["genre"]
    assert first.equals(again)
    # Comedy|Romance movies split between both genres, not always the first
    assert set(first.unique()) >= {"Comedy", "Romance", "Drama", "Action"}


def test_inputs_are_not_modified():
    before = WINDOW.copy()
    window_features(WINDOW, MOVIES, known_users={7})
    pd.testing.assert_frame_equal(WINDOW, before)


def test_missing_column_is_named():
    with pytest.raises(
        MissingColumnError,
        match=re.escape(
            "ratings_window must have columns "
            "['user_id', 'movie_id', 'rating', 'timestamp'], missing ['rating']"
        ),
    ):
        window_features(WINDOW.drop(columns="rating"), MOVIES, known_users=set())


def test_ratings_are_split_into_new_users_ratings_and_known_users_residuals() -> None:
    # GIVEN user 7 known to the model, user 8 new, and the model's predictions
    window = pd.DataFrame(
        {
            "user_id": [7, 7, 8, 7],
            "movie_id": [1, 2, 1, 3],
            "rating": [4.0, 3.0, 5.0, 2.5],
            "timestamp": [1, 2, 3, 4],
        }
    )
    movies = pd.DataFrame({"movie_id": [1, 2, 3], "genres": ["Drama"] * 3})
    predictions = pd.DataFrame(
        {
            "user_id": [7, 7, 8, 7],
            "movie_id": [1, 2, 1, 3],
            "prediction": [3.5, 3.25, 4.0, 3.0],
            # movie 3 is unknown to the model: its fallback is no residual
            "cold_start": [False, False, False, True],
        }
    )
    # WHEN featurized
    features = window_features(window, movies, {7}, predictions=predictions)
    # THEN known users' ratings are residuals against the model, new users' as given
    assert features["known_user_residual"].tolist()[:2] == [0.5, -0.25]
    assert features["known_user_residual"].isna().tolist() == [False, False, True, True]
    assert features["new_user_rating"].isna().tolist() == [True, True, False, True]
    assert features.loc[2, "new_user_rating"] == 5.0
    # AND each known user's mean residual is on the user's first rating only
    means = features["known_user_mean_residual"]
    assert means.tolist()[0] == 0.125
    assert means.isna().tolist() == [False, True, True, True]
    # AND the weight of that mean, 1 / (tau^2 + sigma^2 / 2) over its 2 residuals,
    # and the weight times the mean, on the same row
    weight = 1 / (RESIDUAL_TAU**2 + RESIDUAL_SIGMA**2 / 2)
    assert features["known_user_residual_weight"].tolist()[0] == pytest.approx(weight)
    assert features["known_user_weighted_residual"].tolist()[0] == pytest.approx(
        0.125 * weight
    )
    for column in ("known_user_residual_weight", "known_user_weighted_residual"):
        assert features[column].isna().tolist() == [False, True, True, True]
    # AND without predictions there are no residuals
    plain = window_features(window, movies, {7})
    assert plain["known_user_residual"].isna().all()
    assert plain["known_user_residual_weight"].isna().all()


def test_half_star_shift_compares_known_users_with_their_own_habit():
    # GIVEN user 7 (known) gave half stars to 1 of 4 training ratings, user 8 to
    # none; user 9 is new
    shares = pd.Series({7: 0.25, 8: 0.0})
    features = window_features(WINDOW, MOVIES, {7, 8}, half_star_shares=shares)
    # THEN each known user's window share of half stars minus their own habit is
    # on the user's first rating (7: 1 of 3 is a half star), new users have none
    shift = features["known_user_half_star_shift"]
    assert shift.tolist()[0] == pytest.approx(1 / 3 - 0.25)
    assert shift.tolist()[3] == 0.0
    assert shift.isna().tolist() == [False, True, True, False, True]
    # AND without shares the column is null
    plain = window_features(WINDOW, MOVIES, {7, 8})
    assert plain["known_user_half_star_shift"].isna().all()


def test_popular_movie_is_whether_the_movie_is_in_the_head() -> None:
    # GIVEN a head of the catalogue holding movies 1 and 3
    head = catalogue_head(
        pd.DataFrame({"movie_id": [1, 1, 3, 3, 2, 4, 5, 6]}), share=0.5
    )
    assert head.to_dict() == {1: 2, 3: 2}
    # WHEN a window is featurized against it (ids, or the head's series)
    for given in (head, [1, 3]):
        features = window_features(WINDOW, MOVIES, known_users={7}, head_movies=given)
        # THEN each rating says whether its movie is in the head, any user
        assert features["popular_movie"].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    # AND without a head the column is null (never 0: nothing was measured)
    assert window_features(WINDOW, MOVIES, {7})["popular_movie"].isna().all()


def test_popular_movie_is_taken_against_the_heads_share_at_the_users_tenure():
    # GIVEN the head's share: 60 % of ratings before a user's 5th, 20 % after
    shares = pd.Series([0.6, 0.2], index=[0, 5])
    # AND user 7 rated 4 movies before the window, user 8 rated 600, 9 is new
    tenure = pd.Series({7: 4.0, 8: 600.0})
    # THEN a rating's tenure counts those and the user's ratings before it in
    # the window (by time; user 7's rating without a timestamp comes last)
    assert tenure_ranks(WINDOW, tenure).tolist() == [4.0, 5.0, 6.0, 600.0, 0.0]
    assert tenure_ranks(WINDOW).tolist() == [0.0, 1.0, 2.0, 0.0, 0.0]
    # WHEN the window is featurized against the head (movies 1 and 3) and them
    features = window_features(
        WINDOW, MOVIES, {7, 8}, head_movies=[1, 3], head_shares=shares, tenure=tenure
    )
    # THEN popular_movie is the flag (1, 0, 1, 1, 0) minus the share at the tenure
    assert features["popular_movie"].tolist() == pytest.approx(
        [1 - 0.6, 0 - 0.2, 1 - 0.2, 1 - 0.2, 0 - 0.6]
    )
    # AND known_user_popular_shift still counts the flags (7: 2 of 3 in the head)
    own = window_features(
        WINDOW,
        MOVIES,
        {7, 8},
        head_movies=[1, 3],
        popular_shares=pd.Series({7: 0.0}),
        head_shares=shares,
        tenure=tenure,
    )
    assert own["known_user_popular_shift"].tolist()[0] == pytest.approx(2 / 3)


def test_popular_movie_gives_the_flags_and_the_values_window_features_profiles():
    shares = pd.Series([0.6, 0.2], index=[0, 5])
    tenure = pd.Series({7: 4.0, 8: 600.0})
    # WHEN the head flags are taken against the tenure
    flags, values = popular_movie(WINDOW, [1, 3], head_shares=shares, tenure=tenure)
    # THEN the flags are plain and the values are window_features' column
    assert flags.tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    features = window_features(
        WINDOW, MOVIES, {7, 8}, head_movies=[1, 3], head_shares=shares, tenure=tenure
    )
    assert values.tolist() == pytest.approx([0.4, -0.2, 0.8, 0.8, -0.6])
    assert values.tolist() == features["popular_movie"].tolist()
    # AND without shares the values are the flags; without a head, all null
    assert popular_movie(WINDOW, [1, 3])[1].tolist() == flags.tolist()
    flags, values = popular_movie(WINDOW, None, head_shares=shares, tenure=tenure)
    assert pd.isna(flags).all() and pd.isna(values).all()


def test_head_share_by_tenure_follows_each_users_earlier_ratings() -> None:
    # GIVEN a user whose first 5 ratings are in the head (movie 1), the next 5
    # not, then 2 more in it
    ratings = pd.DataFrame(
        {
            "user_id": 7,
            "movie_id": [1] * 5 + [2] * 5 + [1] * 2,
            "timestamp": range(12),
        }
    )
    shares = head_share_by_tenure(ratings, [1])
    # THEN each tenure class has its share; classes past the user's last rating
    # take the share of the class before
    assert shares.index.name == "tenure"
    assert shares.to_dict() == {
        0: 1.0,
        5: 0.0,
        10: 1.0,
        20: 1.0,
        50: 1.0,
        100: 1.0,
        200: 1.0,
        500: 1.0,
    }


def test_newcomers_rate_the_head_more_than_veterans(ml_ratings) -> None:
    # the reason popular_movie is taken against tenure, on MovieLens itself
    shares = head_share_by_tenure(ml_ratings, catalogue_head(ml_ratings).index)
    assert shares[0] > 2 * shares[200] > 0


def test_popular_shift_compares_known_users_with_their_own_share_of_the_head():
    # GIVEN a head of movies 1 and 3; in training, user 7 rated 1 of 4 movies in
    # it, user 8 none; user 9 is new
    training = pd.DataFrame(
        {"user_id": [7, 7, 7, 7, 8], "movie_id": [1, 2, 4, 5, 2], "timestamp": 0}
    )
    shares = popular_shares(training, [1, 3])
    assert shares.to_dict() == {7: 0.25, 8: 0.0}
    # WHEN the window is featurized against the head and those shares
    features = window_features(
        WINDOW, MOVIES, {7, 8}, head_movies=[1, 3], popular_shares=shares
    )
    # THEN each known user's window share of the head minus their own share is on
    # the user's first rating (7: movies 1 and 3 of 1, 2, 3; 8: movie 1 of 1)
    shift = features["known_user_popular_shift"]
    assert shift.tolist()[0] == pytest.approx(2 / 3 - 0.25)
    assert shift.tolist()[3] == 1.0
    assert shift.isna().tolist() == [False, True, True, False, True]
    # AND without shares, or without a head, the column is null
    for kwargs in ({"head_movies": [1, 3]}, {"popular_shares": shares}):
        plain = window_features(WINDOW, MOVIES, {7, 8}, **kwargs)
        assert plain["known_user_popular_shift"].isna().all()


def test_popular_shares_count_each_users_latest_ratings_only() -> None:
    # GIVEN a user who rated the head first (movies 1 and 3), then other movies
    training = pd.DataFrame(
        {
            "user_id": [7] * 6,
            "movie_id": [4, 5, 1, 3, 6, 2],
            "timestamp": [50, 60, 10, 20, 40, 30],
        }
    )
    # THEN the share is taken on their latest ratings, as given
    assert popular_shares(training, [1, 3], recent=4).to_dict() == {7: 0.0}
    assert popular_shares(training, [1, 3], recent=5).to_dict() == {7: 0.2}
    assert popular_shares(training, [1, 3], recent=None).to_dict() == {7: 2 / 6}


def test_catalogue_head_is_the_most_rated_movies_up_to_the_share() -> None:
    ratings = pd.DataFrame({"movie_id": [9] * 4 + [2] * 3 + [5] * 3 + [8] * 2})
    # 12 ratings: a quarter (3) is reached by movie 9 alone
    assert catalogue_head(ratings, share=0.25).index.tolist() == [9]
    # 9 and the tie 2, 5 (by id) reach 10 >= 9 = three quarters
    assert catalogue_head(ratings, share=0.75).to_dict() == {9: 4, 2: 3, 5: 3}
    assert catalogue_head(ratings, share=1.0).index.tolist() == [9, 2, 5, 8]
    assert catalogue_head(ratings.iloc[:0]).empty


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_catalogue_head_refuses_a_share_outside_0_1(share: float) -> None:
    with pytest.raises(
        InvalidInputError,
        match=re.escape(f"share must be in (0, 1], got {share!r} instead"),
    ):
        catalogue_head(pd.DataFrame({"movie_id": [1]}), share=share)
