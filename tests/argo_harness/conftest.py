"""Fixtures of the Argo harness tests: the S3 server, the raw data, the cluster."""

from __future__ import annotations

import compileall
import itertools
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest

from reelops.lineage import git_state
from tests.argo_harness import (
    LocalArgo,
    S3Server,
    WorkflowTemplate,
    load_workflow_template,
)
from tests.conftest import (
    QUIET_ENV,
    REPO,
    VENV_BIN,
    free_port,
    make_project,
    movielens_subset,
)

#: Users of the MovieLens subset every harness test (and its local twin) reads.
N_USERS = 150
RAW_PREFIX = "data/01_raw/ml-latest-small"
STAGING_TRAINING = REPO / "argo" / "staging" / "training.yaml"
EXPERIMENT = "reelops-staging"
MODEL_NAME = "reelops-recommender"

#: Where the image holds the frozen workspace packages, relative to ``/app``.
SITE = ".site"

ProjectFactory = Callable[[Path], Path]


def image_env() -> dict[str, str]:
    """The ENV of the Dockerfile's final stage, as the pipeline image has it."""
    return {
        **QUIET_ENV,  # telemetry off, PYTHONWARNINGS=ignore, MPLBACKEND=Agg
        "PYTHONPATH": f"/app/{SITE}",  # container path: the pod's copy of the image
        "PYTHONUNBUFFERED": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        # The image's build arg: the commit it was built from (this checkout's).
        "GIT_SHA": git_state(REPO).sha,
        "GIT_DIRTY": "false",
    }


@dataclass(frozen=True)
class Cluster:
    """A LocalArgo wired to one bucket of the S3 server and the MLflow server."""

    argo: LocalArgo
    s3: S3Server
    bucket: str
    tracking_uri: str

    @property
    def data_root(self) -> str:
        return f"s3://{self.bucket}/data"

    def keys(self, prefix: str = "data/") -> list[str]:
        return self.s3.keys(self.bucket, prefix)

    def client(self) -> mlflow.MlflowClient:
        return mlflow.MlflowClient(tracking_uri=self.tracking_uri)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """``moto_server`` on 127.0.0.1 for the whole session."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with S3Server(
        bin_dir=VENV_BIN, port=free_port(), log_path=log, env=dict(QUIET_ENV)
    ) as server:
        yield server


@pytest.fixture(scope="session")
def raw_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ratings of the first ``N_USERS`` MovieLens users, written at test time."""
    return movielens_subset(tmp_path_factory.mktemp("raw"), n_users=N_USERS)


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline image's ``/app``, built once: the project as it is when the
    session starts, and the workspace packages frozen in ``.site`` (see
    ``SITE``), so that every pod of every workflow, and the local twin run, runs
    the same code and config even if the checkout changes meanwhile.
    """
    app = make_project(tmp_path_factory.mktemp("image") / "app")
    for package in sorted((REPO / "packages").glob("*/src/*/__init__.py")):
        shutil.copytree(
            package.parent,
            app / SITE / package.parent.name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    # Kedro puts the project's source dir first on sys.path: make it the frozen copy.
    source = app / "packages" / "reelops" / "src" / "reelops"
    source.unlink()
    source.symlink_to(Path("..", "..", "..", SITE, "reelops"))
    compileall.compile_dir(app / SITE, quiet=1)  # UV_COMPILE_BYTECODE=1
    return app


def local_env(project: Path) -> dict[str, str]:
    """Env of a plain ``kedro`` run in a copy of the image: its frozen packages."""
    return {"PYTHONPATH": str(project / SITE)}


def from_image(image: Path, *, overlay: dict[str, str] | None = None) -> ProjectFactory:
    """A project factory writing a fresh copy of ``image`` (plus ``overlay`` files,
    by relative path) into each pod's working dir."""

    def factory(target: Path) -> Path:
        shutil.copytree(image, target, symlinks=True)
        for relative, text in (overlay or {}).items():
            (target / relative).write_text(text)
        return target

    return factory


@pytest.fixture(scope="session")
def staging_template() -> WorkflowTemplate:
    """The committed ``argo/staging/training.yaml``."""
    return load_workflow_template(STAGING_TRAINING)


_buckets = itertools.count()


@pytest.fixture(scope="session")
def make_cluster(
    s3_server: S3Server,
    mlflow_server: str,
    raw_subset: Path,
    image: Path,
    staging_template: WorkflowTemplate,
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., Cluster]:
    """Build a cluster whose data root is a new bucket holding the raw subset.

    Each workflow gets its own bucket, so runs never see each other's data; they
    share the MLflow server (runs are told apart by the workflow-name tag). Pods
    get a fresh copy of ``image``, or what ``project_factory`` writes.
    """

    def build(project_factory: ProjectFactory | None = None) -> Cluster:
        bucket = f"reelops-harness-{next(_buckets)}"
        s3_server.create_bucket(bucket)
        s3_server.upload_dir(raw_subset, bucket, RAW_PREFIX)
        argo = LocalArgo(
            work_dir=tmp_path_factory.mktemp(bucket),
            project_factory=project_factory or from_image(image),
            bin_dir=VENV_BIN,
            image_env=image_env(),
            cluster_env={
                **s3_server.env,
                "REELOPS_DATA_ROOT": f"s3://{bucket}/data",
                "MLFLOW_TRACKING_URI": mlflow_server,
            },
            # The Secrets the staging manifests reference, as the cluster holds them
            # (a feedback database of this workflow's own).
            secrets={
                ("reelops-feedback-db", "url"): (
                    f"sqlite:///{tmp_path_factory.mktemp('feedback') / 'feedback.db'}"
                ),
            },
            timeout=600,
        )
        return Cluster(
            argo=argo, s3=s3_server, bucket=bucket, tracking_uri=mlflow_server
        )

    return build


def workflow_runs(cluster: Cluster, workflow: str) -> list[mlflow.entities.Run]:
    """MLflow runs tagged with ``workflow`` (kedro-hera's ``kedro-hera.workflow``)."""
    client = cluster.client()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return []
    return list(
        client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`kedro-hera.workflow` = '{workflow}'",
        )
    )
