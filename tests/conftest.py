"""Fixtures shared by the whole suite: paths, a scratch Kedro project, kedro runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MOVIELENS = REPO.parent / "shared" / "data" / "movielens" / "ml-latest-small"
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


def argo_schema() -> Path:
    """The official Argo Workflows 4.1.2 JSON schema (as .ci/argo-lint finds it):
    $KEDRO_HERA_ARGO_SCHEMA, else the shared copy. Missing is a failure, never a skip.
    """
    relative = Path("schemas/argo-workflows/v4.1.2/schema.json")
    candidates = [REPO.parent / "shared" / relative, Path("/work/shared") / relative]
    if _ARGO_SCHEMA_ENV:
        candidates.insert(0, Path(_ARGO_SCHEMA_ENV))
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        pytest.fail(
            "Argo Workflows 4.1.2 JSON schema not found at any of "
            f"{[str(c) for c in candidates]}; set KEDRO_HERA_ARGO_SCHEMA"
        )
    return found


def movielens_dir() -> Path:
    """Real ml-latest-small: MOVIELENS_DIR, else the shared copy."""
    path = Path(os.environ.get("MOVIELENS_DIR", SHARED_MOVIELENS))
    if not (path / "ratings.csv").exists():
        pytest.fail(f"MovieLens ml-latest-small not found at {path}; set MOVIELENS_DIR")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    """One real ``kedro run`` (default pipeline) on ml-latest-small, shared by tests."""
    project = make_project(tmp_path_factory.mktemp("default_run"))
    run_kedro(project, "run", env={"MOVIELENS_DIR": str(movielens_dir())})
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
