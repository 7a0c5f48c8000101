"""The pipeline image: what can be checked without a Docker engine."""

from __future__ import annotations

import os
import re
import subprocess

import yaml
from dockerfile_parse import DockerfileParser

from tests.conftest import REPO, VENV_BIN


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
    runs = instructions("RUN")
    assert all("--no-index" in run for run in runs if "install" in run)
    assert " ".join(runs).count("--find-links /wheelhouse") == 2
    assert "--requirement /wheelhouse/requirements.txt" in " ".join(runs)
    assert "/tmp/workspace-wheels/*.whl" in " ".join(runs)
    ignored = (REPO / ".dockerignore").read_text().split()
    assert "build/*" in ignored
    assert {"!build/wheelhouse", "!build/workspace-wheels"} <= set(ignored)


def test_a_code_change_leaves_the_dependency_layers_cached() -> None:
    # GIVEN the build stage: the locked dependencies only
    structure = parsed().structure
    stages: list[list[tuple[str, str]]] = []
    for i in structure:
        if i["instruction"] == "FROM":
            stages.append([])
        elif i["instruction"] in {"COPY", "RUN"}:
            stages[-1].append((i["instruction"], i["value"]))
    build, final = stages
    assert [kind for kind, _ in build] == ["COPY", "RUN"]
    assert build[0][1] == "build/wheelhouse /wheelhouse"
    assert "workspace" not in build[1][1]
    # THEN the final stage copies that venv before anything made from packages/
    # (Docker's cache keeps every layer before the first changed one)
    assert final[1] == ("COPY", "--from=build /app/.venv /app/.venv")
    assert final[2] == ("COPY", "build/workspace-wheels /tmp/workspace-wheels")
    assert "/tmp/workspace-wheels/*.whl" in final[3][1]
    assert "rm -rf /tmp/workspace-wheels" in final[3][1]
    # AND the commit (a build argument: part of the cache key of every RUN after
    # it) is declared after the last RUN
    kinds = [i["instruction"] for i in structure]
    git_sha = next(
        n
        for n, i in enumerate(structure)
        if i["instruction"] == "ARG" and i["value"].startswith("GIT_SHA")
    )
    assert "RUN" not in kinds[git_sha:]


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


def test_compiled_templates_run_one_content_addressed_image() -> None:
    config = yaml.safe_load((REPO / "conf/base/argo.yml").read_text())
    repository = config["image"]["repository"]
    found = set()
    for path in sorted((REPO / "argo").glob("*/*.yaml")):
        doc = yaml.safe_load(path.read_text())
        named = doc["metadata"]["annotations"]["kedro-hera/image"]
        spec = (
            doc["spec"]
            if doc["kind"] == "WorkflowTemplate"
            else doc["spec"]["workflowSpec"]
        )
        images = {
            t["container"]["image"]
            for t in spec.get("templates", [])
            if "container" in t
        }
        assert images <= {named}, path
        # no commit in the manifests: a commit that changes no input changes no file
        assert "git-sha" not in path.read_text(), path
        found.add(named)
    # THEN every env runs the same image, tagged with a content hash
    (image,) = found
    assert re.fullmatch(rf"{re.escape(repository)}:[0-9a-f]{{16}}", image)


def _tag_from() -> list[str]:
    return yaml.safe_load((REPO / "conf/base/argo.yml").read_text())["image"][
        "tag_from"
    ]


def test_the_tag_hashes_everything_the_image_is_built_from() -> None:
    # GIVEN what the Dockerfile copies from the build context
    sources = set()
    for value in instructions("COPY"):
        words = value.split()
        if any(w.startswith("--from") for w in words):
            continue
        sources.update(w.rstrip("/") for w in words[:-1] if not w.startswith("--"))
    # the wheels are made from the lock and the workspace packages (make wheelhouse)
    wheels = {"build/wheelhouse", "build/workspace-wheels"}
    assert wheels <= sources
    sources = (sources - wheels) | {"uv.lock", "packages"}
    tag_from = _tag_from()

    def covered(source: str) -> bool:
        return any(source == p or source.startswith(f"{p}/") for p in tag_from)

    # THEN each is below a tag_from path, and so are the build's own files
    assert [s for s in sorted(sources) if not covered(s)] == []
    assert {"Dockerfile", ".dockerignore"} <= set(tag_from)
    # AND nothing the image never holds (local credentials, tests, argo/) is hashed
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert not [p for p in tag_from if p in ignored or p == "conf"]


def _make(*args: str) -> str:
    return subprocess.run(
        ["make", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout


def test_make_image_builds_and_pushes_what_argo_names() -> None:
    # GIVEN the reference `kedro argo image` prints
    reference = subprocess.run(
        [str(VENV_BIN / "kedro"), "argo", "image"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "true"},
    ).stdout.strip()
    # WHEN make image runs (printing its commands only)
    out = _make("image", "IMAGE_FLAGS=--dry-run --push").splitlines()
    # THEN it builds with the commit as a label only, tagged with that reference
    build = next(line for line in out if line.startswith("docker build"))
    assert build.endswith(f"-t {reference} .")
    assert "--build-arg GIT_SHA=" in build
    assert f"docker push {reference}" in out
    # AND make image-test runs the same image
    assert "REELOPS_PIPELINE_IMAGE=$(.venv/bin/kedro argo image)" in _make(
        "-n", "image-test"
    )
