""".ci/argo-schema: the Argo schema from the environment, the shared copy, the cache,
or a download verified by sha256; never a silent skip."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, argo_schema, free_port

SCRIPT = REPO / ".ci" / "argo-schema"
CACHED = Path(".cache/argo-workflows/v4.1.2/schema.json")
SHARED = Path("schemas/argo-workflows/v4.1.2/schema.json")


@pytest.fixture
def schema_bytes() -> bytes:
    """The real schema (the pinned sha256 is checked by the script that found it)."""
    return argo_schema().read_bytes()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throw-away repo holding only the script, so its cache starts empty."""
    (tmp_path / "repo" / ".ci").mkdir(parents=True)
    shutil.copy2(SCRIPT, tmp_path / "repo" / ".ci" / "argo-schema")
    return tmp_path / "repo"


def argo_schema_in(
    repo: Path, url: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the copy of .ci/argo-schema in ``repo`` with no shared copy at all."""
    base = {k: v for k, v in os.environ.items() if k != "KEDRO_HERA_ARGO_SCHEMA"}
    return subprocess.run(
        [sys.executable, str(repo / ".ci" / "argo-schema")],
        env={
            **base,
            "ARGO_SCHEMA_URL": url,
            "REELOPS_SHARED_DIR": str(repo.parent / "no-shared"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_argo_lint_asks_the_script() -> None:
    lint = (REPO / ".ci" / "argo-lint").read_text()
    assert "schema=$(.venv/bin/python .ci/argo-schema)" in lint
    assert "../shared" not in lint
    assert "/work/" not in lint


def test_the_schema_is_downloaded_verified_and_cached(
    repo: Path, serve: Callable[[str, bytes], str], schema_bytes: bytes
) -> None:
    # GIVEN the schema served on 127.0.0.1 and no copy anywhere
    url = serve("schema.json", schema_bytes)
    # WHEN the script runs
    proc = argo_schema_in(repo, url)
    # THEN it prints the cache, which holds the verified bytes
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{repo / CACHED}\n"
    assert (repo / CACHED).read_bytes() == schema_bytes
    assert (repo / CACHED).stat().st_mode & 0o777 == 0o644
    # AND the next run uses the cache, with nobody answering at the URL
    offline = f"http://127.0.0.1:{free_port()}/schema.json"
    assert argo_schema_in(repo, offline).stdout == f"{repo / CACHED}\n"


def test_a_checksum_mismatch_is_one_line_and_caches_nothing(
    repo: Path, serve: Callable[[str, bytes], str], schema_bytes: bytes
) -> None:
    # GIVEN a server answering with bytes that are not the release's
    tampered = schema_bytes.replace(b'"WorkflowTemplate"', b'"WorkflowTemp1ate"', 1)
    url = serve("schema.json", tampered)
    # WHEN the script downloads them
    proc = argo_schema_in(repo, url)
    # THEN it fails in one line naming both sums, and writes nothing
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr == (
        f"argo-schema: sha256 mismatch for {url}: expected "
        f"{hashlib.sha256(schema_bytes).hexdigest()}, "
        f"got {hashlib.sha256(tampered).hexdigest()}\n"
    )
    assert not (repo / ".cache").exists() or not any(
        p.is_file() for p in (repo / ".cache").rglob("*")
    )


def test_offline_is_one_line_never_a_skip(repo: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/schema.json"
    proc = argo_schema_in(repo, url)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"argo-schema: cannot download {url} (")
    assert proc.stderr.endswith(
        "offline? set KEDRO_HERA_ARGO_SCHEMA to a local copy of the schema\n"
    )
    assert proc.stderr.count("\n") == 1


def test_a_damaged_cache_is_fetched_again(
    repo: Path, serve: Callable[[str, bytes], str], schema_bytes: bytes
) -> None:
    (repo / CACHED).parent.mkdir(parents=True)
    (repo / CACHED).write_bytes(schema_bytes[:1000])
    proc = argo_schema_in(repo, serve("schema.json", schema_bytes))
    assert proc.returncode == 0, proc.stderr
    assert (repo / CACHED).read_bytes() == schema_bytes


def test_the_environment_then_the_shared_copy_come_first(
    repo: Path, tmp_path: Path, schema_bytes: bytes
) -> None:
    offline = f"http://127.0.0.1:{free_port()}/schema.json"
    shared = tmp_path / "shared"
    (shared / SHARED).parent.mkdir(parents=True)
    (shared / SHARED).write_bytes(schema_bytes)
    # a shared copy is used as it is, without a download
    proc = argo_schema_in(repo, offline, REELOPS_SHARED_DIR=str(shared))
    assert proc.stdout == f"{shared / SHARED}\n", proc.stderr
    # KEDRO_HERA_ARGO_SCHEMA wins over everything, taken as given
    given = tmp_path / "mine.json"
    given.write_text("{}")
    proc = argo_schema_in(
        repo, offline, REELOPS_SHARED_DIR=str(shared), KEDRO_HERA_ARGO_SCHEMA=str(given)
    )
    assert proc.stdout == f"{given}\n", proc.stderr
    # and naming a file that does not exist is an error, not a fallback
    proc = argo_schema_in(repo, offline, KEDRO_HERA_ARGO_SCHEMA=str(tmp_path / "nope"))
    assert proc.returncode == 1
    assert proc.stderr == (
        f"argo-schema: KEDRO_HERA_ARGO_SCHEMA={tmp_path / 'nope'} is not a file\n"
    )
