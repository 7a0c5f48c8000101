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


def test_dependencies_are_installed_from_the_lock_file_only() -> None:
    runs = " ".join(instructions("RUN"))
    assert "uv sync --frozen --no-dev" in runs
    assert "pip install" not in runs
    copies = instructions("COPY")
    assert any(c.startswith("pyproject.toml uv.lock") for c in copies)


def test_runs_as_a_non_root_user_with_kedro_as_entrypoint() -> None:
    user = instructions("USER")[-1]
    assert user.split(":")[0] not in {"0", "root"}
    assert instructions("ENTRYPOINT") == ['["kedro"]']
    env = " ".join(instructions("ENV"))
    assert "KEDRO_DISABLE_TELEMETRY=true" in env


def test_every_workspace_package_manifest_is_copied_before_the_sync() -> None:
    copies = " ".join(instructions("COPY"))
    for manifest in sorted(REPO.glob("packages/*/pyproject.toml")):
        rel = manifest.relative_to(REPO).as_posix()
        assert rel in copies, rel


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
        "docker build --build-arg GIT_SHA=$(GIT_SHA) -t $(IMAGE):$(GIT_SHA) ."
        in makefile
    )
