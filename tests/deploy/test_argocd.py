"""Argo CD Applications: one per environment, pointing at paths that exist."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO

ENVS = ["dev", "staging", "prod"]


@pytest.mark.parametrize("env", ENVS)
def test_application_points_at_the_env_overlay_and_pipelines(env: str) -> None:
    app = yaml.safe_load((REPO / f"deploy/argocd/{env}.yaml").read_text())
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    assert app["metadata"]["name"] == f"reelops-{env}"
    assert app["spec"]["destination"]["namespace"] == f"reelops-{env}"
    paths = [s["path"] for s in app["spec"]["sources"]]
    assert f"deploy/overlays/{env}" in paths
    for path in paths:
        assert (REPO / path).is_dir(), path
    assert f"argo/{env}" in paths
    argo_ns = {
        yaml.safe_load(p.read_text())["metadata"]["namespace"]
        for p in (REPO / f"argo/{env}").glob("*.yaml")
    }
    assert argo_ns == {f"reelops-{env}"}
    assert app["spec"]["syncPolicy"]["automated"]["selfHeal"] is True


def test_project_allows_exactly_the_three_namespaces() -> None:
    project = yaml.safe_load((REPO / "deploy/argocd/project.yaml").read_text())
    namespaces = {d["namespace"] for d in project["spec"]["destinations"]}
    assert namespaces == {f"reelops-{e}" for e in ENVS}


def test_overlay_images_match_the_environment_files() -> None:
    import subprocess

    from tests.conftest import VENV_BIN

    proc = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "reelops.promotion.overlay"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "prod: ghcr.io/reelops/reelops-serving:v0-unpromoted" in proc.stdout


def test_a_hand_edited_overlay_image_is_caught(tmp_path) -> None:
    import shutil
    import subprocess

    from tests.conftest import VENV_BIN

    for part in ("environments", "overlays"):
        shutil.copytree(REPO / "deploy" / part, tmp_path / part)
    kust = tmp_path / "overlays/prod/kustomization.yaml"
    kust.write_text(kust.read_text().replace("v0-unpromoted", "v9-handmade"))
    proc = subprocess.run(
        [
            str(VENV_BIN / "python"),
            "-m",
            "reelops.promotion.overlay",
            "--environments",
            str(tmp_path / "environments"),
            "--overlays",
            str(tmp_path / "overlays"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert (
        "image ghcr.io/reelops/reelops-serving:v9-handmade, prod.yaml says "
        "ghcr.io/reelops/reelops-serving:v0-unpromoted"
    ) in proc.stderr
