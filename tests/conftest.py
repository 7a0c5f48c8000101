"""Fixtures shared by the whole suite: paths, a scratch Kedro project, kedro runs."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml

if TYPE_CHECKING:
    from reelops.datasets._download import ArchiveSource

REPO = Path(__file__).resolve().parents[1]
# The read-only shared copies our machines have (a GitHub runner has neither): next
# to the repo, or at /work/shared for clones made elsewhere, as the Makefile and
# .ci/argo-schema look; REELOPS_SHARED_DIR=/nowhere behaves as a runner.
SHARED_ROOTS = (
    (Path(os.environ["REELOPS_SHARED_DIR"]),)
    if os.environ.get("REELOPS_SHARED_DIR")
    else (REPO.parent / "shared", Path("/work/shared"))
)
SHARED_MOVIELENS = tuple(
    root / "data" / "movielens" / "ml-latest-small" for root in SHARED_ROOTS
)
# The pipeline's default raw directory (conf/base/globals.yml: movielens_dir), where
# `make run` downloads ml-latest-small too; git-ignored, cached by the workflows.
RAW_MOVIELENS = REPO / "data" / "01_raw" / "ml-latest-small"
DATA = Path(__file__).resolve().parent / "data"
VENV_BIN = Path(sys.executable).parent

# The whole suite runs without telemetry, usage reports or uploads.
QUIET_ENV = {
    "KEDRO_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "1",
    "BENTOML_DO_NOT_TRACK": "true",
    "WHYLOGS_NO_ANALYTICS": "True",
    "MPLBACKEND": "Agg",
    "PYTHONWARNINGS": "ignore",
    # numba sizes its thread pool once per process, from this variable; conftests
    # load in directory order, so it is pinned here, before any module imports
    # numba, or a later reload of numba's config sees another value and refuses.
    "NUMBA_NUM_THREADS": "1",
}
os.environ.update(QUIET_ENV)


# Read at import time: the kedro-hera tests clear the variable for hermeticity.
_ARGO_SCHEMA_ENV = os.environ.get("KEDRO_HERA_ARGO_SCHEMA")


@functools.cache
def argo_schema() -> Path:
    """The official Argo Workflows 4.1.2 JSON schema, as .ci/argo-lint finds it.

    ``.ci/argo-schema`` (the one place pinning its URL and sha256) looks at
    $KEDRO_HERA_ARGO_SCHEMA, the shared copy, the cache in .cache/, else downloads
    and verifies it. Missing is a failure, never a skip.
    """
    env = {k: v for k, v in os.environ.items() if k != "KEDRO_HERA_ARGO_SCHEMA"}
    if _ARGO_SCHEMA_ENV:
        env["KEDRO_HERA_ARGO_SCHEMA"] = _ARGO_SCHEMA_ENV
    proc = subprocess.run(
        [sys.executable, str(REPO / ".ci" / "argo-schema")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(proc.stderr.strip() or f"argo-schema exited {proc.returncode}")
    return Path(proc.stdout.strip())


def kustomize(directory: Path) -> list[dict]:
    """The objects ``kubectl kustomize`` renders from ``directory``."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is required on PATH")
    out = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def movielens_download() -> ArchiveSource:
    """The pipeline's pinned GroupLens archive (conf/base/globals.yml)."""
    from reelops.datasets._download import ArchiveSource

    globals_ = yaml.safe_load((REPO / "conf" / "base" / "globals.yml").read_text())
    return ArchiveSource(**globals_["movielens_download"])


def fetch_movielens(target: Path, source: ArchiveSource) -> Path:
    """``target`` holding every pinned file of ``source``, downloaded when missing by
    the pipeline's own code (each file verified by sha256 before it is written)."""
    from reelops.datasets._download import ensure_local_file
    from reelops.errors import DataSourceError

    try:
        for name in sorted(source.members):
            ensure_local_file(str(target / name), source)
    except DataSourceError as exc:
        pytest.fail(f"MovieLens ml-latest-small: {exc}", pytrace=False)
    return target


def movielens_dir() -> Path:
    """Real ml-latest-small: MOVIELENS_DIR, else the shared copy, else the pipeline's
    default directory, downloaded there (verified) the first time it is needed."""
    if os.environ.get("MOVIELENS_DIR"):
        path = Path(os.environ["MOVIELENS_DIR"])
        if not (path / "ratings.csv").exists():
            pytest.fail(f"MOVIELENS_DIR={path} has no ratings.csv")
        return path
    for shared in SHARED_MOVIELENS:
        if (shared / "ratings.csv").exists():
            return shared
    return fetch_movielens(RAW_MOVIELENS, movielens_download())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[str, bytes], str]]:
    """Serve bytes at http://127.0.0.1:<port>/<name> from a background thread."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):  # keep pytest output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def publish(name: str, data: bytes) -> str:
        (root / name).write_bytes(data)
        return f"http://127.0.0.1:{server.server_address[1]}/{name}"

    yield publish
    server.shutdown()


def make_project(target: Path) -> Path:
    """A scratch git repo holding the Kedro project (config, pipeline specs,
    pyproject; the source dir links to the real package)."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("conf", "pipelines"):
        shutil.copytree(
            REPO / name, target / name, ignore=shutil.ignore_patterns("local")
        )
    (target / "conf" / "local").mkdir(exist_ok=True)
    for name in ("pyproject.toml", ".telemetry", ".gitignore"):
        shutil.copy2(REPO / name, target / name)
    # Kedro wants the source dir inside the project; the package itself is the
    # installed (editable) one, linked for readers of the scratch tree.
    src = target / "packages" / "reelops" / "src"
    src.mkdir(parents=True)
    (src / "reelops").symlink_to(REPO / "packages" / "reelops" / "src" / "reelops")
    git = ["git", "-C", str(target), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "scratch project"], check=True)
    return target


def run_kedro(
    project: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: int = 600,
) -> subprocess.CompletedProcess[str]:
    """``kedro <args>`` in ``project`` with its own tracking DB unless told otherwise."""
    full_env = {
        **os.environ,
        **QUIET_ENV,
        "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        "REELOPS_PROJECT_ROOT": str(project),
        **(env or {}),
    }
    proc = subprocess.run(
        [str(VENV_BIN / "kedro"), *args],
        cwd=project,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"kedro {' '.join(args)} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def real_movielens() -> Path:
    return movielens_dir()


def movielens_subset(target: Path, n_users: int) -> Path:
    """A MovieLens directory with the ratings of the first ``n_users`` real users
    (all movies, tags and links kept), written at test time, never committed."""
    source = movielens_dir()
    target.mkdir(parents=True, exist_ok=True)
    for name in ("movies.csv", "tags.csv", "links.csv"):
        shutil.copy2(source / name, target / name)
    with (
        (source / "ratings.csv").open("rb") as src,
        (target / "ratings.csv").open("wb") as dst,
    ):
        dst.write(src.readline())
        for line in src:
            if int(line.split(b",", 1)[0]) > n_users:
                break
            dst.write(line)
    return target


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One real ``kedro run`` (default pipeline) on ml-latest-small, shared by tests.

    Its BentoML store is the project's own ``bentoml_home/`` (whatever
    ``BENTOML_HOME`` other tests set for their process).
    """
    project = make_project(tmp_path_factory.mktemp("default_run"))
    run_kedro(
        project,
        "run",
        env={
            "MOVIELENS_DIR": str(movielens_dir()),
            "BENTOML_HOME": str(project / "bentoml_home"),
        },
    )
    yield project


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    """Poll ``url`` until it answers 200, failing early if ``proc`` died."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 (SQLite backend, proxied artifacts)."""
    root = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow.db'}",
            "--artifacts-destination",
            str(root / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=root,
        env={**os.environ, **QUIET_ENV},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/health", proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def tracking_at(uri: str) -> Iterator[None]:
    """MLflow's tracking URI set to ``uri`` for a block, then exactly as before.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``, and
    ``get_tracking_uri`` returns a default when none is set: restoring that value
    would pin it for every later test (and subprocess) of the worker.
    """
    import mlflow
    from mlflow.tracking._tracking_service import utils

    explicit, exported = utils._tracking_uri, os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(explicit)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        if exported is not None:
            os.environ["MLFLOW_TRACKING_URI"] = exported


@pytest.fixture(autouse=True)
def _mlflow_state_restored() -> Iterator[None]:
    """No test leaves MLflow state behind for the next test of its worker.

    ``mlflow.set_tracking_uri`` exports ``MLFLOW_TRACKING_URI``, and kedro-mlflow's
    hook sets it for any in-process session (``kedro promote`` through CliRunner):
    the explicit URI and every ``MLFLOW_*`` variable are put back after each test.
    """
    exported = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
    fluent = sys.modules.get("mlflow.tracking.fluent")
    explicit = getattr(utils, "_tracking_uri", None)
    experiment = getattr(fluent, "_active_experiment_id", None)
    yield
    utils = sys.modules.get("mlflow.tracking._tracking_service.utils")
    fluent = sys.modules.get("mlflow.tracking.fluent")
    if fluent is not None:
        while fluent.active_run() is not None:
            fluent.end_run()
        fluent._active_experiment_id = experiment
    if utils is not None and utils._tracking_uri != explicit:
        import mlflow

        mlflow.set_tracking_uri(explicit)
    for key in [k for k in os.environ if k.startswith("MLFLOW_")]:
        if key not in exported:
            del os.environ[key]
    os.environ.update(exported)
