"""The serving image's Dockerfile: what can be checked without a Docker engine
(``make image-test`` builds and runs it)."""

from __future__ import annotations

import yaml
from dockerfile_parse import DockerfileParser

from reelops.serving_image import BENTOFILE, DOCKERFILE
from tests.conftest import REPO


def parsed() -> DockerfileParser:
    return DockerfileParser(fileobj=(REPO / DOCKERFILE).open("rb"))


def instructions(kind: str) -> list[str]:
    return [i["value"] for i in parsed().structure if i["instruction"] == kind]


def test_requirements_come_from_the_wheelhouse_with_no_index() -> None:
    runs = " ".join(instructions("RUN"))
    assert runs.count("--no-index --find-links /wheelhouse") == 2
    assert "--requirement /tmp/requirements.txt" in runs
    assert "bento/env/python/requirements.txt /tmp/requirements.txt" in instructions(
        "COPY"
    )


def test_the_image_sets_every_variable_the_bentofile_declares() -> None:
    env = parsed().envs
    for variable in yaml.safe_load(BENTOFILE.read_text("utf-8"))["envs"]:
        assert env.get(variable["name"]) == variable["value"], variable


def test_it_runs_as_the_user_the_deployment_runs_as() -> None:
    deployment = yaml.safe_load((REPO / "deploy/base/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]["securityContext"]
    uid, gid = instructions("USER")[-1].split(":")
    assert (int(uid), int(gid)) == (pod["runAsUser"], pod["runAsGroup"])
    # read-only root filesystem: everything the server writes goes to /tmp
    env = parsed().envs
    for variable in ("BENTOML_HOME", "NUMBA_CACHE_DIR", "MPLCONFIGDIR"):
        assert env[variable].startswith("/tmp/"), variable
