"""The two images, run for real in Docker (``make image-test``; ``.ci/run`` runs it).

Selected by the ``image`` marker, which ``make test`` deselects: they need a Docker
engine and the images that ``make image`` and ``make serving-image`` built after
``make run``. A missing engine or image is a failure here, never a skip.

- The pipeline image (``REELOPS_PIPELINE_IMAGE``, ``kedro argo image``) runs
  ``kedro run --pipeline data_processing`` on real MovieLens, as an Argo task does:
  with the pod's security settings read from argo/ (its user, a read-only root
  filesystem, no capabilities, no privilege escalation, the emptyDirs as tmpfs),
  tracking to a real ``mlflow server``, writing the ingest report.
- The serving image is the one promotion names for the run's bento
  (``PromotionConfig.image_for``); it starts as the Deployment runs it (read-only
  root filesystem, /tmp writable, tokens on) and answers ``/readyz``,
  ``/recommend`` and ``/feedback``.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from reelops.promotion.gates import PromotionConfig
from reelops.serving_image import BENTOFILE, bento_tag
from tests.conftest import REPO, free_port, movielens_dir

pytestmark = pytest.mark.image

TOKEN = "image-smoke-token"


def docker(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def existing_image(name: str) -> str:
    inspected = docker("image", "inspect", "--format", "{{.Id}}", name)
    if inspected.returncode != 0:
        pytest.fail(f"image {name} not found ({inspected.stderr.strip()})")
    return name


@pytest.fixture(scope="module")
def pipeline_image() -> str:
    name = os.environ.get("REELOPS_PIPELINE_IMAGE")
    if not name:
        pytest.fail("REELOPS_PIPELINE_IMAGE is not set (make image-test sets it)")
    return existing_image(name)


@pytest.fixture(scope="module")
def serving_image() -> str:
    """The image promotion writes for the last packaged bento, which must exist."""
    summary = json.loads(
        (REPO / "data/08_reporting/packaging_summary.json").read_text("utf-8")
    )
    tag = bento_tag(summary, yaml.safe_load(BENTOFILE.read_text("utf-8"))["name"])
    promotion = yaml.safe_load((REPO / "conf/base/promotion.yml").read_text("utf-8"))
    image = PromotionConfig(
        model_name="unused", serving_image=promotion["serving_image"]
    ).image_for(tag)
    return existing_image(image)


def argo_pod_flags(manifest: Path, *, data_dir: str) -> list[str]:
    """``docker run`` flags giving a container what the manifest's pods get.

    The pod's user, and the first container's read-only root, dropped capabilities,
    no privilege escalation and emptyDir mounts (tmpfs; ``data_dir`` is left to
    the caller, who mounts a host directory there to read the results).
    """
    doc = yaml.safe_load(manifest.read_text("utf-8"))
    spec = doc["spec"]
    pod = spec["securityContext"]
    container = next(t["container"] for t in spec["templates"] if "container" in t)
    security = container["securityContext"]
    owner = f"uid={pod['runAsUser']},gid={pod['runAsGroup']}"
    flags = ["--user", f"{pod['runAsUser']}:{pod['runAsGroup']}"]
    if security.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    flags += [f"--cap-drop={c}" for c in security["capabilities"]["drop"]]
    if security.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    for mount in container.get("volumeMounts", []):
        if mount["mountPath"] != data_dir:
            flags += ["--tmpfs", f"{mount['mountPath']}:{owner}"]
    return flags


def test_pipeline_image_ingests_movielens_as_an_argo_task(
    pipeline_image: str, mlflow_server: str, tmp_path: Path
) -> None:
    # GIVEN a writable data root for the image's non-root user and real MovieLens
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    pod = argo_pod_flags(
        REPO / "argo" / "staging" / "data_processing.yaml", data_dir="/app/data"
    )
    assert "--read-only" in pod
    # WHEN the image runs the data_processing pipeline as the pod would, tracking
    # to a real server
    proc = docker(
        "run",
        "--rm",
        "--network=host",
        *pod,
        "--volume",
        f"{movielens_dir()}:/movielens:ro",
        "--volume",
        f"{data}:/app/data",
        "--env",
        "MOVIELENS_DIR=/movielens",
        "--env",
        f"MLFLOW_TRACKING_URI={mlflow_server}",
        pipeline_image,
        "run",
        "--pipeline",
        "data_processing",
        timeout=600,
    )
    # THEN it succeeds as uid 10001 and every rating is accounted for
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((data / "08_reporting/ingest_report.json").read_text())
    ratings = report["sources"]["ratings"]
    assert report["balanced"] is True
    assert ratings["input_rows"] == 100_836
    assert ratings["valid_rows"] + ratings["quarantined_rows"] == 100_836
    assert (data / "03_primary/ratings.parquet").stat().st_uid == 10001
    # AND the run and its report reached the tracking server
    runs = httpx.post(
        f"{mlflow_server}/api/2.0/mlflow/runs/search",
        json={"experiment_ids": ["1"], "max_results": 1},
        timeout=10,
    ).json()["runs"]
    tags = {t["key"]: t["value"] for t in runs[0]["data"]["tags"]}
    assert tags["kedro.pipelines"] == "data_processing"
    assert runs[0]["info"]["status"] == "FINISHED"


@pytest.fixture(scope="module")
def serving_container(serving_image: str) -> Iterator[str]:
    port = free_port()
    name = f"reelops-smoke-{port}"
    started = docker(
        "run",
        "--detach",
        "--name",
        name,
        "--read-only",
        "--tmpfs",
        "/tmp:rw,exec",
        "--publish",
        f"127.0.0.1:{port}:3000",
        "--env",
        f"REELOPS_API_TOKENS={TOKEN}",
        "--env",
        "REELOPS_FEEDBACK_DB_URL=sqlite:////tmp/feedback.db",
        "--env",
        "REELOPS_PROFILE_PATH=/tmp/profiles",
        serving_image,
    )
    assert started.returncode == 0, started.stderr
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            state = docker("inspect", "--format", "{{.State.Running}}", name)
            if state.stdout.strip() != "true" or time.monotonic() > deadline:
                logs = docker("logs", "--tail", "40", name)
                pytest.fail(
                    f"{serving_image} never became ready:\n{logs.stdout}{logs.stderr}"
                )
            time.sleep(1)
        yield url
    finally:
        docker("rm", "--force", name)


def test_serving_image_recommends_for_a_known_user(serving_container: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    answer = httpx.post(
        f"{serving_container}/recommend",
        json={"user_id": 1, "k": 5},
        headers=headers,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert len(body["items"]) == 5
    assert body["cold_start"] is False
    assert body["model_version"].startswith("reelops-recommender:")


def test_serving_image_stores_feedback(serving_container: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    stored = httpx.post(
        f"{serving_container}/feedback",
        json={"user_id": 1, "movie_id": 318, "rating": 4.5},
        # no timestamp (the server's clock): the key makes a retry safe
        headers={**headers, "Idempotency-Key": "image-smoke-feedback"},
        timeout=10,
    )
    assert stored.status_code in {200, 201}, stored.text
    assert stored.json()["created"] is True


def test_serving_image_refuses_requests_without_a_token(serving_container: str) -> None:
    answer = httpx.post(
        f"{serving_container}/recommend", json={"user_id": 1}, timeout=10
    )
    assert answer.status_code == 401
