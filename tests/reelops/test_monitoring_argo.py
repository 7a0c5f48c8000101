"""The compiled monitoring CronWorkflow: runs monitoring, checks, submits training."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kedro_hera.lint import SchemaLinter, hera_round_trip
from reelops.retrain import PRINTED_STATUSES
from tests.conftest import argo_schema

REPO = Path(__file__).resolve().parents[2]
ENVS = ("dev", "staging", "prod")
#: The gauge of the check's output (conf/base/argo.yml then.metric).
DECISION_GAUGE = "reelops_monitoring_decision"


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def linter() -> SchemaLinter:
    return SchemaLinter(argo_schema())


@pytest.mark.parametrize("env", ENVS)
def test_cron_runs_monitoring_then_submits_the_retraining(env: str) -> None:
    # GIVEN the committed, compiled cron of the env
    doc = _load(REPO / "argo" / env / "cron-monitoring.yaml")
    assert doc["kind"] == "CronWorkflow"
    spec = doc["spec"]
    assert spec["schedules"] == ["0 5 * * 1"]
    assert spec["concurrencyPolicy"] == "Forbid"
    templates = {t["name"]: t for t in spec["workflowSpec"]["templates"]}
    tasks = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    # THEN it creates the monitoring workflow and waits for it
    run = templates["run-monitoring"]["resource"]
    child = yaml.safe_load(run["manifest"])
    assert child["spec"]["workflowTemplateRef"] == {"name": "reelops-monitoring"}
    assert run["successCondition"] == "status.phase == Succeeded"
    # AND reads the decision with the retrain CLI, in the env of the cron
    check = templates["check"]["container"]
    assert check["command"] == [
        "python",
        "-m",
        "reelops.retrain",
        "--should-retrain",
        "--print-status",
    ]
    assert {"name": "KEDRO_ENV", "value": env} in check["env"]
    # AND submits the retrain path (the default pipeline: training on ratings and
    # feedback, registration, packaging, reference) only when it printed retrain
    # (retrain_page: a retrain that also pages a human)
    submit = templates["submit-default"]["resource"]
    target = yaml.safe_load(submit["manifest"])
    assert target["spec"]["workflowTemplateRef"] == {"name": "reelops-default"}
    assert tasks["submit-default"]["when"] == (
        "'{{tasks.check.outputs.result}}' == 'retrain' || "
        "'{{tasks.check.outputs.result}}' == 'retrain_page'"
    )
    assert tasks["submit-default"]["dependencies"] == ["check"]
    # AND both templates it names are compiled for the env
    for name in ("monitoring", "__default__"):
        assert _load(REPO / "argo" / env / f"{name}.yaml")["kind"] == (
            "WorkflowTemplate"
        )


@pytest.mark.parametrize("env", ENVS)
def test_cron_exports_every_decision_status_for_the_alerts(env: str) -> None:
    # GIVEN the committed cron and the alert rules that read its metrics
    doc = _load(REPO / "argo" / env / "cron-monitoring.yaml")
    templates = {t["name"]: t for t in doc["spec"]["workflowSpec"]["templates"]}
    metrics = templates["check"]["metrics"]["prometheus"]
    rules = (REPO / "deploy/monitoring/prometheusrule.yaml").read_text()
    # THEN the check sets a gauge for every status the CLI can print ...
    gauges = {m["labels"][-1]["value"] for m in metrics if m["name"] == DECISION_GAUGE}
    assert gauges == set(PRINTED_STATUSES)
    # ... counts its runs, and the rules read both as Argo exports them
    assert f"{DECISION_GAUGE}_runs_total" in {m["name"] for m in metrics}
    assert f"argo_workflows_{DECISION_GAUGE}{{" in rules
    assert f"argo_workflows_{DECISION_GAUGE}_runs_total{{" in rules


@pytest.mark.parametrize("env", ENVS)
def test_cron_and_its_workflows_are_schema_valid(
    env: str, linter: SchemaLinter
) -> None:
    doc = _load(REPO / "argo" / env / "cron-monitoring.yaml")
    assert linter.validate(doc) == []
    assert hera_round_trip(doc) == []
    for template in doc["spec"]["workflowSpec"]["templates"]:
        if "resource" in template:
            assert (
                linter.validate(yaml.safe_load(template["resource"]["manifest"])) == []
            )
    for name in ("monitoring", "__default__", "replay", "feedback_union"):
        assert linter.validate(_load(REPO / "argo" / env / f"{name}.yaml")) == []


def test_the_decision_the_check_reads_is_under_the_data_root() -> None:
    # The check step runs in its own pod: the decision must be on shared storage.
    catalog = _load(REPO / "conf/base/catalog_monitoring.yml")
    assert catalog["retrain_decision"]["filepath"].startswith("${globals:data_root}/")
