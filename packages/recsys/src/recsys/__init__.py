"""recsys: a pure recommender library of scikit-learn estimators.

Estimators (fit on ``(user_id, movie_id)`` pairs and ratings, predict ratings,
recommend top-k movies): :class:`PopularityRecommender`, :class:`BiasBaseline`,
:class:`MatrixFactorization`, :class:`SVDpp`, :class:`ItemKNN`, :class:`EASE`,
:class:`RatedEASE`, :class:`BlendRecommender`, :class:`HybridRecommender`; by short
name through :data:`ESTIMATORS` and :func:`make_estimator`. Also metrics
(:mod:`recsys.metrics`), their vocabulary (:mod:`recsys.vocabulary`: names such
as ``ndcg@10``, directions, :func:`relative_improvement`), the evaluation protocol
(:func:`evaluate`), splits
(:mod:`recsys.splits`) and a synthetic MovieLens-shaped generator
(:func:`make_movielens_like`).

The package imports no platform code (Kedro, MLflow, BentoML, whylogs).
"""

from __future__ import annotations

from recsys._base import RATING_MAX, RATING_MIN, BaseRecommender
from recsys.baseline import BiasBaseline
from recsys.blend import BlendRecommender
from recsys.ease import EASE
from recsys.evaluation import (
    evaluate,
    evaluate_by_user,
    evaluate_ranking,
    evaluate_with_errors,
)
from recsys.exceptions import (
    InvalidInputError,
    InvalidParameterError,
    NotFittedError,
    RecsysError,
    UnknownEstimatorError,
    UnknownMetricError,
)
from recsys.hybrid import HybridRecommender
from recsys.knn import ItemKNN
from recsys.metrics import (
    coverage_at_k_score,
    mae_error,
    map_at_k_score,
    ndcg_at_k_score,
    precision_at_k_score,
    recall_at_k_score,
    rmse_error,
)
from recsys.mf import MatrixFactorization
from recsys.popularity import PopularityRecommender
from recsys.rated_ease import RatedEASE
from recsys.registry import ESTIMATORS, make_estimator
from recsys.results import Recommendations, SimilarItems
from recsys.splits import (
    hash_split,
    leave_last_n_split,
    random_split,
    temporal_split,
)
from recsys.svdpp import SVDpp
from recsys.synthetic import make_movielens_like
from recsys.vocabulary import (
    METRICS,
    Metric,
    direction_of,
    is_better,
    metric_names,
    relative_improvement,
    resolve,
)

__all__ = [
    "EASE",
    "ESTIMATORS",
    "METRICS",
    "RATING_MAX",
    "RATING_MIN",
    "BaseRecommender",
    "BiasBaseline",
    "BlendRecommender",
    "HybridRecommender",
    "InvalidInputError",
    "InvalidParameterError",
    "ItemKNN",
    "MatrixFactorization",
    "Metric",
    "NotFittedError",
    "PopularityRecommender",
    "RatedEASE",
    "Recommendations",
    "RecsysError",
    "SVDpp",
    "SimilarItems",
    "UnknownEstimatorError",
    "UnknownMetricError",
    "coverage_at_k_score",
    "direction_of",
    "evaluate",
    "evaluate_by_user",
    "evaluate_ranking",
    "evaluate_with_errors",
    "hash_split",
    "is_better",
    "leave_last_n_split",
    "mae_error",
    "make_estimator",
    "make_movielens_like",
    "map_at_k_score",
    "metric_names",
    "ndcg_at_k_score",
    "precision_at_k_score",
    "random_split",
    "recall_at_k_score",
    "relative_improvement",
    "resolve",
    "rmse_error",
    "temporal_split",
]
