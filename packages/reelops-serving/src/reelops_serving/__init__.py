"""reelops-serving: the BentoML recommendation service of reelops.

The service is :class:`reelops_serving.service.Recommender` (import it from there:
importing this package does not load BentoML). Configuration is
:mod:`reelops_serving.config`; the logic behind the endpoints is
:class:`reelops_serving.engine.RecommenderEngine`.
"""
