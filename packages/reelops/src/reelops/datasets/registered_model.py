"""``RegisteredModelDataset``: the MLflow model registry as a Kedro dataset.

Saving a :class:`~reelops.challenger.ChallengerPackage` logs the estimator as an
MLflow pyfunc model (signature and input example included) named after its
candidate, in the candidate's child run of the active run (so the logged model
carries that candidate's parameters and metrics only), registers a new version of
the active (pipeline) run and points an alias (``challenger``) at it. Saving a
:class:`~reelops.challenger.Rejection` registers nothing and records why on the run.
Loading returns the estimator behind an alias (``champion``), or ``None``.

A version holds two estimators: ``estimator``, the one served (fitted on every
rating), and ``evaluation_estimator``, the same configuration fitted on the split's
training part, which is what gates score on held-out pairs
(:func:`load_estimator` with ``which="evaluation"``). Versions registered before
there were two have only the first, which then stands for both.

Every pickle of a version (the two estimators and MLflow's ``python_model.pkl``) is
hashed as stored when it is registered, and the sha256 recorded as a model version
tag, ``artifact.sha256.<file stem>`` (the registry, not the artifact store that
holds the files). :func:`load_estimator` downloads the version, checks every pickle
against its tag and refuses a mismatch in one line before MLflow unpickles
anything; a version registered before the tags existed loads with a warning.
"""

import contextlib
import importlib.metadata
import json
import logging
import pickle
import re
import tempfile
from pathlib import Path
from typing import Any, Literal, get_args

import mlflow
import mlflow.pyfunc
import pandas as pd
from kedro.io.core import AbstractDataset, DatasetError
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel, PythonModelContext

from reelops.challenger import ChallengerPackage, PickledEstimator, Rejection
from reelops.datasets._integrity import (
    dump_pickle,
    sha256_file,
    verify_sha256,
    warn_unverified,
)
from reelops.datasets.candidate_run import candidate_run_id
from reelops.errors import ArtifactIntegrityError
from reelops.tracking import mlflow_metrics

__all__ = [
    "SHA256_TAG_PREFIX",
    "RecommenderModel",
    "RegisteredModelDataset",
    "load_estimator",
]

#: Which of a version's estimators: the one served, or the split's fit.
Which = Literal["served", "evaluation", "unfitted"]

logger = logging.getLogger(__name__)

#: Run tags copied onto every registered version, so a model carries its lineage.
_LINEAGE_TAGS = ("git.sha", "git.dirty", "data.sha256", "kedro.env")
#: Model version tag of each pickle's sha256: ``artifact.sha256.estimator``, ...
SHA256_TAG_PREFIX = "artifact.sha256."
#: What loading a version imports: the pyfunc wrapper (this module: kedro, mlflow,
#: cloudpickle, pandas, psutil) and the pickled recsys estimators (numba, numpy,
#: scikit-learn, scipy). Stated, not inferred: MLflow infers them by loading the
#: model in a subprocess, which cost 3-7 s of every training run; a test checks
#: the inferred set is contained in this one.
PIP_DISTRIBUTIONS = (
    "mlflow",
    "cloudpickle",
    "kedro",
    "numba",
    "numpy",
    "pandas",
    "psutil",
    "scikit-learn",
    "scipy",
)


def pip_requirements() -> list[str]:
    """``name==version`` of :data:`PIP_DISTRIBUTIONS`, as installed here."""
    return [f"{d}=={importlib.metadata.version(d)}" for d in PIP_DISTRIBUTIONS]


_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<v>\d+))$")


class RecommenderModel(PythonModel):
    """pyfunc wrapper of a recsys estimator: ``(user_id, movie_id)`` -> rating.

    ``predict`` returns a DataFrame with ``rating`` (clipped to [0.5, 5]) and
    ``cold_start`` (True where the user or movie was unknown to the model and the
    fallback answered). The estimator itself is ``unwrap_python_model().estimator``.
    """

    estimator: Any = None
    evaluation_artifact: str | None = None

    def load_context(self, context: PythonModelContext) -> None:
        """Unpickle the served estimator; remember where the evaluation one is."""
        with Path(context.artifacts["estimator"]).open("rb") as handle:
            self.estimator = pickle.load(handle)  # noqa: S301 - our own artifact
        self.evaluation_artifact = context.artifacts.get("evaluation_estimator")

    def evaluation_estimator(self) -> Any:
        """The split's fit, or the served estimator for a version that has none."""
        if self.evaluation_artifact is None:
            return self.estimator
        with Path(self.evaluation_artifact).open("rb") as handle:
            return pickle.load(handle)  # noqa: S301 - our own artifact

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Predict ratings for the ``(user_id, movie_id)`` pairs of ``model_input``."""
        ratings, fallback = self.estimator.predict_with_fallback(
            model_input[["user_id", "movie_id"]]
        )
        return pd.DataFrame({"rating": ratings, "cold_start": fallback})


def _create_version(
    client: mlflow.MlflowClient, name: str, info: Any, run_id: str | None
) -> str:
    """Register the logged model ``info`` as a new version of ``name``.

    ``mlflow.register_model`` would give the version the logged model's run (the
    candidate's child run); the version's run is ``run_id`` instead, the pipeline
    run, which holds the lineage tags and, once packaged, the bento tags.
    """
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if "ALREADY_EXISTS" not in str(exc.error_code):
            raise
    mv = client.create_model_version(
        name, source=info.model_uri, run_id=run_id, model_id=info.model_id
    )
    # What mlflow.register_model records on the logged model (the UI's link).
    client.set_logged_model_tags(
        info.model_id,
        {"mlflow.modelVersions": json.dumps([{"name": name, "version": mv.version}])},
    )
    return str(mv.version)


def _pickle_digests(model_dir: Path) -> dict[str, str]:
    """``{file stem: sha256}`` of every pickle in a downloaded model directory."""
    return {p.stem: sha256_file(p) for p in sorted(model_dir.rglob("*.pkl"))}


def _verify_model_dir(model_dir: Path, tags: dict[str, str], where: str) -> None:
    """Check every pickle of ``model_dir`` against the version's sha256 tags.

    Raises:
        ArtifactIntegrityError: A pickle's sha256 differs from its tag, or a version
            that records digests has a pickle without one.
    """
    recorded = {
        k.removeprefix(SHA256_TAG_PREFIX): v
        for k, v in tags.items()
        if k.startswith(SHA256_TAG_PREFIX)
    }
    if not recorded:
        warn_unverified(where)
        return
    for path in sorted(model_dir.rglob("*.pkl")):
        name = path.relative_to(model_dir).as_posix()
        if path.stem not in recorded:
            raise ArtifactIntegrityError(
                f"{where} {name}: no sha256 recorded (expected model version tag "
                f"'{SHA256_TAG_PREFIX}{path.stem}') (refusing to unpickle)"
            )
        verify_sha256(
            f"{where} {name}", expected=recorded[path.stem], actual=sha256_file(path)
        )


def load_estimator(uri: str, which: Which = "served") -> Any:
    """The estimator of the registered model at ``uri`` (``models:/name/3``, ...).

    The version is downloaded and its pickles checked against the sha256 tags
    recorded when it was registered before anything is unpickled.

    Raises:
        MlflowException: No such model, version or alias.
        ArtifactIntegrityError: A pickle of the version is not the one registered.
        ValueError: ``uri`` is not ``models:/<name>/<version>`` or
            ``models:/<name>@<alias>``.
    """
    match = _MODEL_URI.match(uri)
    if match is None:
        raise ValueError(
            f"model uri must be 'models:/<name>/<version>' or "
            f"'models:/<name>@<alias>', got '{uri}'"
        )
    client = mlflow.MlflowClient()
    mv = (
        client.get_model_version_by_alias(match["name"], match["alias"])
        if match["alias"]
        else client.get_model_version(match["name"], match["v"])
    )
    where = f"models:/{mv.name}/{mv.version}"
    with tempfile.TemporaryDirectory(prefix="reelops-model-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(where, dst_path=tmp))
        _verify_model_dir(local, dict(mv.tags), where)
        wrapper = mlflow.pyfunc.load_model(str(local)).unwrap_python_model()
        if which == "served":
            return wrapper.estimator
        if wrapper.evaluation_artifact is None:
            logger.warning(
                "%s has no evaluation estimator (registered before there was one): "
                "the served one, fitted on every rating, is scored instead",
                uri,
            )
        return wrapper.evaluation_estimator()


class RegisteredModelDataset(AbstractDataset[Any, Any]):
    """Register challengers / load the model behind an alias.

    Example::

        challenger_model:
          type: reelops.datasets.RegisteredModelDataset
          model_name: reelops-recommender
          alias: challenger
          estimator: served      # or evaluation: the split's fit (loading only)

    ``estimator: unfitted`` loads the served estimator's configuration: an
    unfitted clone (``sklearn.base.clone``), the fitted one let go before the
    node runs, for a node that fits the model again (the reference's holdout
    refit: at 25M ratings the fitted model weighs gigabytes). Declare it as a
    transcoded twin (``challenger_model@registry`` and
    ``challenger_model@unfitted``) so the node still follows the registration.
    """

    def __init__(
        self,
        *,
        model_name: str,
        alias: str,
        estimator: Which = "served",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset for ``model_name@alias``."""
        known = [f"'{w}'" for w in get_args(Which)]
        if estimator not in get_args(Which):
            raise DatasetError(
                f"estimator must be {', '.join(known[:-1])} or {known[-1]}, "
                f"got '{estimator}'"
            )
        self._model_name = model_name
        self._alias = alias
        self._which: Which = estimator
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "model_name": self._model_name,
            "alias": self._alias,
            "estimator": self._which,
        }

    def load(self) -> Any:
        """The estimator registered under the alias, or ``None`` when there is none."""
        uri = f"models:/{self._model_name}@{self._alias}"
        try:
            if self._which == "unfitted":
                from sklearn.base import clone

                return clone(load_estimator(uri, "served"))
            return load_estimator(uri, self._which)
        except MlflowException as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc.error_code) or "not found" in str(
                exc
            ):
                logger.info("no model registered as %s", uri)
                return None
            raise DatasetError(f"cannot load {uri}: {exc.message}") from exc

    def save(self, data: ChallengerPackage | Rejection) -> None:
        """Register ``data`` (and move the alias), or record its rejection."""
        if mlflow.active_run() is None:
            raise DatasetError(
                f"registering {self._model_name} needs an active MLflow run "
                "(is tracking disabled for this pipeline?)"
            )
        if isinstance(data, Rejection):
            mlflow.set_tags(
                {
                    "challenger.registered": "false",
                    "challenger.candidate": data.candidate,
                    "challenger.rejected_because": " | ".join(data.reasons)[:5000],
                }
            )
            logger.warning(
                "%s not registered: %s", data.candidate, "; ".join(data.reasons)
            )
            return
        self._register(data)

    def _register(self, pkg: ChallengerPackage) -> None:
        run = mlflow.active_run()
        pipeline_run_id = run.info.run_id if run is not None else None
        client = mlflow.MlflowClient()
        child = (
            candidate_run_id(client, pipeline_run_id, pkg.candidate)
            if pipeline_run_id
            else None
        )
        if child is None:
            logger.warning(
                "candidate %s has no child run: its model is logged in the pipeline "
                "run",
                pkg.candidate,
            )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "estimator.pkl"
            with path.open("wb") as handle:
                dump_pickle(pkg.estimator, handle)
            artifacts = {"estimator": str(path)}
            if pkg.evaluation_estimator is not None:
                evaluation = Path(tmp) / "evaluation_estimator.pkl"
                with evaluation.open("wb") as handle:
                    if isinstance(pkg.evaluation_estimator, PickledEstimator):
                        pkg.evaluation_estimator.copy_to(handle)
                    else:
                        dump_pickle(pkg.evaluation_estimator, handle)
                artifacts["evaluation_estimator"] = str(evaluation)
            wrapper = RecommenderModel()
            wrapper.estimator = pkg.estimator
            output = wrapper.predict(None, pkg.input_example)
            # Logged in the candidate's child run, the model is named after the
            # candidate and carries that run's metrics and parameters only.
            with (
                mlflow.start_run(run_id=child, nested=True)
                if child
                else contextlib.nullcontext()
            ):
                info = mlflow.pyfunc.log_model(
                    name=pkg.candidate,
                    python_model=RecommenderModel(),
                    artifacts=artifacts,
                    signature=infer_signature(pkg.input_example, output),
                    input_example=pkg.input_example,
                    pip_requirements=pip_requirements(),
                )
        # The version belongs to the pipeline run, which holds the lineage (git,
        # data sha256) and, once packaged, the bento: what promotion reads.
        version = _create_version(client, self._model_name, info, pipeline_run_id)
        # Hash what the artifact store holds, as load_estimator will download it.
        with tempfile.TemporaryDirectory(prefix="reelops-model-") as tmp:
            digests = _pickle_digests(
                Path(
                    mlflow.artifacts.download_artifacts(
                        f"models:/{self._model_name}/{version}", dst_path=tmp
                    )
                )
            )
        run_tags = client.get_run(pipeline_run_id).data.tags if pipeline_run_id else {}
        lineage = {k: run_tags[k] for k in _LINEAGE_TAGS if k in run_tags}
        if pipeline_run_id is not None:
            lineage["mlflow.run_id"] = pipeline_run_id
        for key, value in {
            "candidate": pkg.candidate,
            **({"candidate.run_id": child} if child else {}),
            **{f"metric.{k}": str(v) for k, v in mlflow_metrics(pkg.metrics).items()},
            **lineage,
            **pkg.tags,
            **{f"{SHA256_TAG_PREFIX}{k}": v for k, v in digests.items()},
        }.items():
            client.set_model_version_tag(self._model_name, version, key, value)
        # The alias moves last, to a version whose tags (digests included) are set.
        client.set_registered_model_alias(self._model_name, self._alias, version)
        mlflow.set_tags(
            {
                "challenger.registered": "true",
                "challenger.candidate": pkg.candidate,
                "challenger.version": version,
            }
        )
        logger.info(
            "registered %s version %s as @%s", self._model_name, version, self._alias
        )
