"""Candidate child runs and the pipeline run's summary, as Kedro datasets.

The pipeline run is the active MLflow run: kedro-mlflow's, or on Argo the
workflow's run that every task joins through ``MLFLOW_RUN_ID``. Each candidate
gets one child run of it (tag ``mlflow.parentRunId``), named after the candidate
and found again by the tag ``reelops.candidate``: a retried Argo task, or a task
in another pod, reuses the child instead of creating another. Every call names
its run explicitly (``MlflowClient``), so the active run never changes.

- :class:`MlflowCandidateRunDataset` writes a :class:`~reelops.tracking.CandidateRun`
  to the candidate's child run: parameters, metrics, the lineage tags of the
  pipeline run (git commit, data sha256) and the frames used as dataset inputs.
- :class:`MlflowTrainingSummaryDataset` writes a
  :class:`~reelops.tracking.TrainingSummary`: the champion's metrics and name on
  the pipeline run, raw files as its dataset inputs (digest: the ingest's sha256),
  and every candidate's role on its child run.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import mlflow
from kedro.io.core import AbstractDataset, DatasetError
from mlflow.entities import DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID

from reelops.tracking import (
    CANDIDATE_TAG,
    ROLE_TAG,
    CandidateRun,
    TrainingSummary,
    frame_digest,
)

if TYPE_CHECKING:
    from mlflow.data.dataset import Dataset

__all__ = [
    "DIGEST_LENGTH",
    "LINEAGE_TAGS",
    "MlflowCandidateRunDataset",
    "MlflowTrainingSummaryDataset",
    "candidate_run_id",
]

logger = logging.getLogger(__name__)

#: MLflow's limit on a dataset digest: a sha256 is recorded by its first 36 digits.
DIGEST_LENGTH = 36
#: Tags of the pipeline run that its child runs carry too (``data.sha256.*`` also).
LINEAGE_TAGS = (
    "git.sha",
    "git.dirty",
    "data.sha256",
    "kedro.env",
    "mlflow.source.git.commit",
    "mlflow.source.name",
    "mlflow.source.type",
    "mlflow.user",
)


def _pipeline_run_id(what: str) -> str:
    run = mlflow.active_run()
    if run is None:
        raise DatasetError(
            f"reading {what} needs an active MLflow run "
            "(is tracking disabled for this pipeline?)"
        )
    return str(run.info.run_id)


def _active_run_id(what: str) -> str | None:
    """The pipeline run's id, or ``None`` (logged) when tracking is off."""
    run = mlflow.active_run()
    if run is None:
        logger.warning("no active MLflow run: %s not recorded", what)
        return None
    return str(run.info.run_id)


def candidate_run_id(
    client: mlflow.MlflowClient, parent_id: str, candidate: str
) -> str | None:
    """The id of ``candidate``'s child run of ``parent_id`` (``None``: none yet)."""
    parent = client.get_run(parent_id)
    found = client.search_runs(
        [parent.info.experiment_id],
        filter_string=(
            f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_id}' "
            f"and tags.`{CANDIDATE_TAG}` = '{candidate}'"
        ),
        order_by=["attributes.start_time ASC"],
        max_results=1,
    )
    return str(found[0].info.run_id) if found else None


def _child_run(client: mlflow.MlflowClient, parent_id: str, candidate: str) -> str:
    """The candidate's child run, created (with the parent's lineage) if missing."""
    if (found := candidate_run_id(client, parent_id, candidate)) is not None:
        return found
    parent = client.get_run(parent_id)
    lineage = {
        k: v
        for k, v in parent.data.tags.items()
        if k in LINEAGE_TAGS or k.startswith("data.sha256.")
    }
    run = client.create_run(
        parent.info.experiment_id,
        run_name=candidate,
        tags={**lineage, MLFLOW_PARENT_RUN_ID: parent_id, CANDIDATE_TAG: candidate},
    )
    return str(run.info.run_id)


def _input(dataset: Dataset, context: str) -> DatasetInput:
    return DatasetInput(
        dataset._to_mlflow_entity(),
        tags=[InputTag(key=MLFLOW_DATASET_CONTEXT, value=context)],
    )


def _frame_input(name: str, frame: Any, context: str) -> DatasetInput:
    from mlflow.data.pandas_dataset import from_pandas

    dataset = from_pandas(frame, name=name, digest=frame_digest(frame)[:DIGEST_LENGTH])
    return _input(dataset, context)


class MlflowCandidateRunDataset(AbstractDataset[CandidateRun, dict[str, Any]]):
    """Save a candidate's child run of the active run; load what it recorded.

    Example::

        "{candidate}.candidate_run":
          type: reelops.datasets.MlflowCandidateRunDataset
          candidate: "{candidate}"
    """

    def __init__(self, *, candidate: str, metadata: dict[str, Any] | None = None):
        """Create the dataset of ``candidate``'s child run."""
        self._candidate = candidate
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"candidate": self._candidate}

    def save(self, data: CandidateRun) -> None:
        """Record ``data`` on the child run (created on first use), then finish it.

        Without an active run (tracking disabled) this logs a warning and records
        nothing, as kedro-mlflow's own datasets do.
        """
        parent_id = _active_run_id(f"candidate '{self._candidate}'")
        if parent_id is None:
            return
        client = mlflow.MlflowClient()
        run_id = _child_run(client, parent_id, self._candidate)
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[
                Metric(key, value, timestamp=now, step=0)
                for key, value in sorted(data.metrics.items())
            ],
            params=[Param(key, value) for key, value in sorted(data.params.items())],
            tags=[
                RunTag(key, value)
                for key, value in {
                    **data.tags,
                    "reelops.estimator": data.estimator,
                }.items()
            ],
        )
        client.log_inputs(
            run_id,
            datasets=[
                _frame_input(name, frame, context)
                for context, (name, frame) in data.inputs.items()
            ],
        )
        client.set_terminated(run_id)
        logger.info("candidate %s recorded in MLflow run %s", self._candidate, run_id)

    def load(self) -> dict[str, Any]:
        """``{"run_id", "params", "metrics", "tags"}`` of the child run."""
        parent_id = _pipeline_run_id(f"candidate '{self._candidate}'")
        client = mlflow.MlflowClient()
        run_id = candidate_run_id(client, parent_id, self._candidate)
        if run_id is None:
            raise DatasetError(
                f"no child run of MLflow run {parent_id} for candidate "
                f"'{self._candidate}' (expected one tagged {CANDIDATE_TAG})"
            )
        run = client.get_run(run_id)
        return {
            "run_id": run_id,
            "params": dict(run.data.params),
            "metrics": dict(run.data.metrics),
            "tags": dict(run.data.tags),
        }


class MlflowTrainingSummaryDataset(AbstractDataset[TrainingSummary, dict[str, Any]]):
    """Save the training summary on the active run and roles on its child runs.

    ``raw_files`` names the raw files whose sha256 the ingest tagged
    (``data.sha256.<name>``); each becomes a dataset input of the pipeline run.

    Example::

        training_summary:
          type: reelops.datasets.MlflowTrainingSummaryDataset
          raw_files: {ratings: data/01_raw/ratings.csv}
    """

    def __init__(
        self,
        *,
        raw_files: dict[str, str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset; ``raw_files`` maps a raw file's name to its path."""
        self._raw_files = dict(sorted((raw_files or {}).items()))
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"raw_files": self._raw_files}

    def _raw_inputs(self, tags: dict[str, str]) -> list[DatasetInput]:
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset

        inputs = []
        for name, path in self._raw_files.items():
            sha = tags.get(f"data.sha256.{name}")
            if sha is None:
                logger.warning(
                    "raw file %s has no data.sha256.%s tag: not logged as an input",
                    name,
                    name,
                )
                continue
            # MLflow leaves MetaDataset.profile abstract for type checkers only.
            dataset = MetaDataset(  # type: ignore[abstract]
                resolve_dataset_source(path),
                name=f"raw_{name}",
                digest=sha[:DIGEST_LENGTH],
            )
            inputs.append(_input(dataset, "source"))
        return inputs

    def save(self, data: TrainingSummary) -> None:
        """Champion metrics and tags on the pipeline run, roles on the children.

        Without an active run (tracking disabled) this logs a warning and records
        nothing.
        """
        parent_id = _active_run_id("the training summary")
        if parent_id is None:
            return
        client = mlflow.MlflowClient()
        parent = client.get_run(parent_id)
        now = int(time.time() * 1000)
        client.log_batch(
            parent_id,
            metrics=[
                Metric(key, value, timestamp=now, step=0)
                for key, value in sorted(data.metrics.items())
            ],
            tags=[
                RunTag("reelops.champion", data.champion),
                RunTag("reelops.champion.registered", str(data.registered).lower()),
            ],
        )
        if inputs := self._raw_inputs(parent.data.tags):
            client.log_inputs(parent_id, datasets=inputs)
        for candidate, role in data.roles.items():
            run_id = candidate_run_id(client, parent_id, candidate)
            if run_id is None:
                logger.warning("candidate %s has no child run to tag", candidate)
                continue
            client.set_tag(run_id, ROLE_TAG, role)

    def load(self) -> dict[str, Any]:
        """``{"champion", "metrics"}`` as the pipeline run recorded them."""
        run = mlflow.MlflowClient().get_run(_pipeline_run_id("the training summary"))
        if "reelops.champion" not in run.data.tags:
            raise DatasetError(
                f"MLflow run {run.info.run_id} has no training summary "
                "(expected the tag reelops.champion)"
            )
        return {
            "champion": run.data.tags["reelops.champion"],
            "metrics": dict(run.data.metrics),
        }
