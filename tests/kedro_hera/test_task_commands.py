"""Compiled task commands are self-contained `kedro run` calls.

A miniature executor runs every task of a compiled template the way Argo would:
it substitutes ``{{workflow.parameters.*}}`` (defaults, or overrides typed in the
Argo UI) into the container arguments and runs them with Kedro's own ``run``
command. Tasks exchange data only through the catalog.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.startup import bootstrap_project

from kedro_hera.compile import compile_project
from kedro_hera.parameters import encode_value

from .conftest import FIXED_SHA

PARAMETER_RE = re.compile(r"\{\{workflow\.parameters\.([-\w]+)\}\}")

RATINGS = [
    {"user": u, "item": f"i{(u * 7 + k) % 5}", "rating": (u + k) % 5 + 0.0}
    for u in range(12)
    for k in range(4)
]


def _execute(
    template: dict[str, Any], project: Path, overrides: dict[str, str]
) -> None:
    spec = template["spec"]
    values = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    values.update(overrides)
    templates = {t["name"]: t for t in spec["templates"]}
    dag = templates[spec["entrypoint"]]["dag"]["tasks"]
    metadata = bootstrap_project(project)
    for task in dag:  # compiled in topological order
        container = templates[task["template"]]["container"]
        assert container["command"] == ["kedro"]
        args = [PARAMETER_RE.sub(lambda m: values[m[1]], a) for a in container["args"]]
        assert args[0] == "run"
        result = CliRunner().invoke(kedro_run, args[1:], obj=metadata)
        assert result.exit_code == 0, (task["name"], result.output, result.exception)


@pytest.mark.slow
def test_compiled_tasks_run_and_receive_overridden_parameters(
    basic_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an env running on local files without MLflow, and raw data
    ci = basic_copy / "conf" / "ci"
    ci.mkdir()
    (ci / "argo.yml").write_text(
        "namespace: kh-basic-ci\npipelines: [__default__]\nmlflow: {enabled: false}\n"
    )
    raw = basic_copy / "data" / "01_raw" / "ratings.json"
    raw.parent.mkdir(parents=True)
    raw.write_text(json.dumps(RATINGS))
    monkeypatch.chdir(basic_copy)
    (manifest,) = compile_project(basic_copy, envs=["ci"], sha=FIXED_SHA).manifests
    template = yaml.safe_load(manifest.text)
    # WHEN every task runs with values a user typed in the Argo UI
    overrides = {
        "report_title": encode_value("Ratings, weekly: v2"),
        "metrics__names": encode_value(["coverage_score", "hit,rate", "ndcg@10"]),
        "candidates__popularity__top_k": "3",
    }
    _execute(template, basic_copy, overrides)
    # THEN the nodes received them with their types
    report = json.loads(
        (basic_copy / "data" / "08_reporting" / "report.json").read_text()
    )
    assert report["title"] == "Ratings, weekly: v2"
    assert report["metrics"] == ["coverage_score", "hit,rate", "ndcg@10"]
    assert report["published"] is True
    # AND intermediates that crossed tasks went through the catalog
    assert (basic_copy / "data" / "05_model_input" / "train_ratings.json").is_file()
    assert (basic_copy / "data" / "07_model_output" / "popularity_score.json").is_file()
