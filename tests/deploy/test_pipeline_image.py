"""The pipeline image: what can be checked without a Docker engine."""

from __future__ import annotations

from pathlib import Path

import yaml
from dockerfile_parse import DockerfileParser

from tests.conftest import REPO


def parsed() -> DockerfileParser:
    parser = DockerfileParser(fileobj=(REPO / "Dockerfile").open("rb"))
    return parser


def instructions(kind: str) -> list[str]:
    return [i["value"] for i in parsed().structure if i["instruction"] == kind]


def test_dockerfile_parses_into_a_multi_stage_build() -> None:
    froms = instructions("FROM")
    assert len(froms) == 2
    assert froms[0].endswith("AS build")
    assert parsed().baseimage.startswith("python:3.11")


def test_dependencies_are_installed_from_the_wheelhouse_only() -> None:
    # Hermetic: no package index at build time, the locked pins, the workspace wheels
    runs = " ".join(instructions("RUN"))
    assert runs.count("--no-index --find-links /wheelhouse") == 2
    assert "--requirement /wheelhouse/requirements.txt" in runs
    assert "/wheelhouse/workspace/*.whl" in runs
    assert "build/wheelhouse /wheelhouse" in instructions("COPY")
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "build/*" in ignored and "!build/wheelhouse" in ignored


def test_runs_as_a_non_root_user_with_kedro_as_entrypoint() -> None:
    user = instructions("USER")[-1]
    assert user.split(":")[0] not in {"0", "root"}
    assert instructions("ENTRYPOINT") == ['["kedro"]']
    env = " ".join(instructions("ENV"))
    assert "KEDRO_DISABLE_TELEMETRY=true" in env


def test_the_wheelhouse_holds_the_locked_pins_and_every_workspace_package() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "--frozen --no-dev --all-packages --no-emit-workspace" in makefile
    assert "--require-hashes" in makefile
    assert "build --quiet --all-packages --wheel" in makefile


def test_the_image_never_contains_local_secrets_or_data() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"conf/local", "data", ".git", ".venv"} <= set(ignored)


def test_compiled_templates_run_the_configured_image_and_tag() -> None:
    config = yaml.safe_load((REPO / "conf/base/argo.yml").read_text())
    repository = config["image"]["repository"]
    for path in sorted((REPO / "argo").glob("*/*.yaml")):
        doc = yaml.safe_load(path.read_text())
        sha = doc["metadata"]["annotations"]["kedro-hera/git-sha"]
        spec = (
            doc["spec"]
            if doc["kind"] == "WorkflowTemplate"
            else doc["spec"]["workflowSpec"]
        )
        images = {
            t["container"]["image"] for t in spec["templates"] if "container" in t
        }
        assert images == {f"{repository}:{sha}"}, path


def test_make_image_tags_with_the_git_sha() -> None:
    makefile = Path(REPO / "Makefile").read_text()
    assert (
        "docker build $(BASE_IMAGE_ARG) --build-arg GIT_SHA=$(GIT_SHA) "
        "-t $(IMAGE):$(GIT_SHA) ." in makefile
    )
