"""The checkov scan of make lint: the hook, its reviewed skip list, its inputs.

checkov itself runs as the pre-commit hook (its own environment, from PyPI), not in
the project's venv, so these tests check the wiring and ``.ci/checkov-scan``'s
per-environment decision; ``make lint`` runs the scan.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

CONFIG = REPO / ".checkov.yaml"
SCRIPT = REPO / ".ci" / "checkov-scan"


def hook() -> dict[str, Any]:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    (found,) = [
        h for repo in config["repos"] for h in repo["hooks"] if h["id"] == "checkov"
    ]
    return found


def scan() -> dict[str, Any]:
    return runpy.run_path(str(SCRIPT))


def test_the_hook_runs_the_scan_with_a_pinned_checkov() -> None:
    found = hook()
    assert found["entry"] == ".ci/checkov-scan"
    assert found["language"] == "python"
    assert found["pass_filenames"] is False
    (dependency,) = found["additional_dependencies"]
    assert re.fullmatch(r"checkov==\d+\.\d+\.\d+", dependency)


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile",
        "deploy/serving.Dockerfile",
        "deploy/base/deployment.yaml",
        "deploy/overlays/prod/kustomization.yaml",
        "deploy/environments/prod.yaml",
        "deploy/pipeline/overlays/staging/kustomization.yaml",
        "argo/prod/training.yaml",
        ".github/workflows/main.yml",
        ".checkov.yaml",
        ".ci/checkov-scan",
    ],
)
def test_a_change_to_what_is_scanned_runs_the_hook(path: str) -> None:
    assert re.search(hook()["files"], path), path


def test_every_skipped_check_says_why() -> None:
    # GIVEN the skip list as written (the reasons are comments)
    lines = CONFIG.read_text().splitlines()
    start = lines.index("skip-check:")
    entries = [line for line in lines[start + 1 :] if line.startswith("  - ")]
    skipped = yaml.safe_load(CONFIG.read_text())["skip-check"]
    # THEN each entry is one check id with a reason on its own line
    assert len(entries) == len(skipped)
    for line in entries:
        match = re.fullmatch(r"  - (CKV2?_[A-Z0-9_]+)  # (?P<why>\S.{20,})", line)
        assert match, f".checkov.yaml: {line!r} needs '  # <reason>'"
    assert len(set(skipped)) == len(skipped)


def test_the_scan_covers_every_framework_of_what_deploys() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert set(config["framework"]) == {
        "kubernetes",
        "dockerfile",
        "argo_workflows",
        "github_actions",
    }
    # the image pinning checks are never skipped everywhere
    assert not {"CKV_K8S_43", "CKV_K8S_15"} & set(config["skip-check"])


def test_only_an_environment_without_a_model_skips_image_pinning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN dev serving a model and prod serving none
    envs = tmp_path / "deploy" / "environments"
    envs.mkdir(parents=True)
    (envs / "dev.yaml").write_text("environment: dev\nmodel: {version: '3'}\n")
    (envs / "prod.yaml").write_text("environment: prod\nmodel: null\n")
    monkeypatch.chdir(tmp_path)
    module = scan()
    assert module["serves_a_model"]("dev")
    assert not module["serves_a_model"]("prod")
    # WHEN the placeholder's manifests are marked
    docs = [
        {"kind": "Deployment", "metadata": {"name": "reelops-serving"}},
        {"kind": "Service", "metadata": {"name": "reelops-serving"}},
    ]
    module["skip_image_pinning"](docs)
    # THEN only the Deployment skips the digest and pull-policy checks, with why
    assert docs[0]["metadata"]["annotations"] == {
        "checkov.io/skip1": f"CKV_K8S_43={module['UNPROMOTED']}",
        "checkov.io/skip2": f"CKV_K8S_15={module['UNPROMOTED']}",
    }
    assert "annotations" not in docs[1]["metadata"]
