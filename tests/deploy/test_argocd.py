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
    if env != "dev":
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
