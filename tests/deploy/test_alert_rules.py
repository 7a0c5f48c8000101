"""Alerts and dashboard of the service (deploy/monitoring), as every overlay renders them.

The PrometheusRule is checked by ``reelops.alert_rules`` (kubernetes-validate knows
no CRD), its rules by ``promtool check rules``, and each alert by the unit tests of
deploy/monitoring/tests (``promtool test rules``): firing when its condition holds,
silent when it does not. Every metric name the rules and the dashboard query must
be one the service exports (or the monitoring CronWorkflow's check, through Argo).
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from reelops.alert_rules import PrometheusRule, rule_groups
from reelops.alert_rules import main as alert_rules_cli
from reelops.errors import ConfigError
from tests.conftest import REPO, kustomize

ENVS = ["dev", "staging", "prod"]
MONITORING = REPO / "deploy" / "monitoring"
UNIT_TESTS = sorted((MONITORING / "tests").glob("*.test.yaml"))
DASHBOARD = MONITORING / "grafana" / "reelops-serving.json"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is required on PATH: make promtool "
            "(apt-get install prometheus on Debian/Ubuntu)"
        )
    return found


def render(env: str) -> list[dict[str, Any]]:
    return kustomize(REPO / "deploy" / "overlays" / env)


@pytest.fixture(scope="module", params=ENVS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(request.param)


def run_promtool(groups: dict[str, Any], where: Path) -> subprocess.CompletedProcess:
    """``promtool check rules`` then ``test rules`` on ``groups``, in ``where``."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "rules.yaml").write_text(yaml.safe_dump(groups, sort_keys=False))
    for test in UNIT_TESTS:
        shutil.copy2(test, where / test.name)
    check = subprocess.run(
        [promtool(), "check", "rules", "rules.yaml"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check.returncode != 0:
        return check
    return subprocess.run(
        [promtool(), "test", "rules", *(t.name for t in UNIT_TESTS)],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def alerts(groups: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for g in groups["groups"] for r in g["rules"] if "alert" in r]


# ------------------------------------------------------------------- promtool


def test_the_rendered_rules_pass_promtool_and_their_unit_tests(
    rendered: tuple[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    # GIVEN the rule groups of the env's rendered PrometheusRule
    env, docs = rendered
    groups = rule_groups(docs)
    # WHEN promtool checks them and runs deploy/monitoring/tests against them
    proc = run_promtool(groups, tmp_path / env)
    # THEN both pass
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("SUCCESS") == len(UNIT_TESTS)


def test_a_changed_threshold_fails_the_unit_tests(tmp_path: Path) -> None:
    # GIVEN the 5xx alert at 50% instead of 5% (9% of errors no longer fires)
    groups = rule_groups(render("prod"))
    (rule,) = [
        r for r in alerts(groups) if r["alert"] == "ReelopsServingHighErrorRatio"
    ]
    assert "> 0.05" in rule["expr"]
    rule["expr"] = rule["expr"].replace("> 0.05", "> 0.5")
    # WHEN the unit tests run, THEN they fail on that alert
    proc = run_promtool(groups, tmp_path)
    assert proc.returncode == 1
    assert "alertname: ReelopsServingHighErrorRatio" in proc.stdout + proc.stderr


def test_every_alert_has_a_firing_and_a_silent_unit_test() -> None:
    # GIVEN the alerts and the unit tests' expectations
    names = {r["alert"] for r in alerts(rule_groups(render("dev")))}
    fires: set[str] = set()
    silent: set[str] = set()
    for path in UNIT_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case["alert_rule_test"]:
                (fires if check["exp_alerts"] else silent).add(check["alertname"])
            # a series for a silent case: something in the input must not fire
    # THEN each alert is expected to fire somewhere, and to stay silent somewhere
    assert fires == names
    assert silent == names


def test_make_deploy_check_runs_promtool(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "-n", "deploy-check", "ENV=staging"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "-m reelops.alert_rules build/deploy-staging.yaml" in proc.stdout
    assert "promtool check rules build/prometheus-staging/rules.yaml" in proc.stdout
    assert "promtool test rules *.test.yaml" in proc.stdout


# ------------------------------------------------------- the PrometheusRule


def test_every_env_renders_one_rule_and_one_dashboard_in_its_namespace(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    env, docs = rendered
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert rule["metadata"]["namespace"] == f"reelops-{env}"
    (dashboard,) = [
        d
        for d in docs
        if d["kind"] == "ConfigMap"
        and d["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert dashboard["metadata"]["namespace"] == f"reelops-{env}"
    assert json.loads(dashboard["data"][DASHBOARD.name]) == json.loads(
        DASHBOARD.read_text()
    )


def test_every_alert_says_how_bad_what_and_where_to_start(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    for rule in alerts(rule_groups(docs)):
        assert rule["labels"]["severity"] in {"page", "ticket", "info"}
        # the description names the metric it reads and its threshold
        metric = re.search(r"\b((?:argo_workflows_)?reelops_[a-z_]+)", rule["expr"])
        assert metric, rule["alert"]
        assert metric[1].split("_bucket")[0] in rule["annotations"]["description"]
        assert "threshold" in rule["annotations"]["description"], rule["alert"]
        assert rule["annotations"]["runbook"], rule["alert"]


def _rule_doc() -> dict[str, Any]:
    return yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["spec"].update(group=[]),
            "PrometheusRule 'reelops-serving': spec.group: unknown key",
        ),
        (
            lambda d: d["spec"]["groups"][0]["rules"][0]["labels"].pop("severity"),
            "PrometheusRule 'reelops-serving': spec.groups.0.rules.0: alert "
            "ReelopsServingHighErrorRatio: label severity must be one of ['page', "
            "'ticket', 'info'], got None",
        ),
        (
            lambda d: d["spec"]["groups"][0]["rules"][0]["annotations"].pop("runbook"),
            "PrometheusRule 'reelops-serving': spec.groups.0.rules.0: alert "
            "ReelopsServingHighErrorRatio: missing annotations ['runbook']",
        ),
        (
            lambda d: d.update(apiVersion="monitoring.coreos.com/v1beta1"),
            "PrometheusRule 'reelops-serving': apiVersion: Input should be "
            "'monitoring.coreos.com/v1', got 'monitoring.coreos.com/v1beta1'",
        ),
    ],
)
def test_an_invalid_rule_is_one_line(edit: Any, message: str) -> None:
    doc = _rule_doc()
    edit(doc)
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}$"):
        rule_groups([doc])


def test_repeated_group_names_and_no_rule_at_all_are_errors() -> None:
    copy = _rule_doc()
    copy["metadata"]["name"] = "copy"
    copy["spec"]["groups"] = copy["spec"]["groups"][:1]
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "rule group names must be unique, got ['reelops-serving.requests'] twice"
        ),
    ):
        rule_groups([_rule_doc(), copy])
    with pytest.raises(
        ConfigError, match=re.escape("no PrometheusRule in the rendered manifests")
    ):
        rule_groups([{"kind": "ConfigMap"}])
    assert PrometheusRule.model_validate(_rule_doc()).metadata.name == "reelops-serving"


def test_the_cli_writes_the_groups_and_fails_in_one_line(tmp_path: Path) -> None:
    rendered = tmp_path / "deploy.yaml"
    rendered.write_text(yaml.safe_dump(_rule_doc()))
    out = tmp_path / "rules" / "rules.yaml"
    result = CliRunner().invoke(alert_rules_cli, [str(rendered), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text()) == rule_groups([_rule_doc()])
    rendered.write_text(yaml.safe_dump({"kind": "ConfigMap"}))
    result = CliRunner().invoke(alert_rules_cli, [str(rendered), "--out", str(out)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {rendered}: no PrometheusRule in the rendered manifests\n"
    )


# --------------------------------------------------------------- metric names

#: PromQL words that are not metric names.
_PROMQL_WORDS = {
    "sum", "count", "max", "min", "avg", "by", "without", "on", "ignoring",
    "group_left", "group_right", "and", "or", "unless", "offset", "rate",
    "increase", "histogram_quantile", "max_over_time", "min_over_time", "bool",
    "label_values", "time",
}  # fmt: skip


def exported_names() -> set[str]:
    """Every series name the service exports, from its metric objects."""
    names: set[str] = set()
    for name, kind in serving_families():
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_count", "_sum"),
            "gauge": ("",),
        }[kind]
        names.update(name + s for s in suffixes)
    return names


# In a child process: importing reelops_serving.metrics here would fix its value
# class before tests/serving/conftest.py sets PROMETHEUS_MULTIPROC_DIR, and the
# serving tests of this worker would read an empty /metrics.
_FAMILIES = """
import json
from prometheus_client.metrics import MetricWrapperBase
import reelops_serving.metrics as m
print(json.dumps([
    (f.name, f.type)
    for obj in vars(m).values() if isinstance(obj, MetricWrapperBase)
    for f in obj.describe()
]))
"""


@functools.cache
def serving_families() -> tuple[tuple[str, str], ...]:
    """``(family name, type)`` of every metric object of reelops_serving.metrics."""
    found = subprocess.run(
        [sys.executable, "-c", _FAMILIES], capture_output=True, text=True, check=True
    )
    return tuple((name, kind) for name, kind in json.loads(found.stdout))


def argo_names() -> set[str]:
    """The series Argo's controller exports for the monitoring check."""
    argo = yaml.safe_load((REPO / "conf" / "base" / "argo.yml").read_text())
    names: set[str] = set()
    for schedule in argo["schedules"]:
        metric = (schedule.get("then") or {}).get("metric")
        if metric:
            base = f"argo_workflows_{metric['name']}"
            names.update({base, f"{base}_runs_total"})
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text
    )
    text = re.sub(r"\boffset\s+\w+", "", text)
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", text))
    return {w for w in words if w not in _PROMQL_WORDS and not w.startswith("$")}


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    # a variable's label_values(metric, label): the metric
    exprs += [
        re.sub(r"label_values\((\w+), *\w+\)", r"\1", v["query"]["query"])
        for v in board["templating"]["list"]
        if isinstance(v.get("query"), dict)
    ]
    return exprs


def test_the_parser_finds_names_and_skips_the_rest() -> None:
    assert metric_names(
        'histogram_quantile(0.99, sum by (le, endpoint) (rate(a_bucket{x="y"}[5m])))'
        " > 0.02 and b offset 1h unless on (namespace) c"
    ) == {"a_bucket", "b", "c"}


def test_rules_and_dashboard_query_only_exported_metrics() -> None:
    # GIVEN what the service and the monitoring check export
    known = exported_names() | argo_names()
    assert {
        "reelops_http_requests_total",
        "reelops_http_request_duration_seconds_bucket",
        "reelops_model_info",
    } <= known
    # WHEN every expression of the rules and the dashboard is read
    exprs = [r["expr"] for r in alerts(rule_groups([_rule_doc()]))] + dashboard_exprs()
    used = set().union(*(metric_names(e) for e in exprs))
    # THEN each name it selects is exported, and every family is shown somewhere
    assert used - known == set()
    families = {n.removesuffix("_bucket") for n in used}
    for name, _ in serving_families():
        assert any(f.startswith(name) for f in families), name


def test_a_renamed_metric_is_caught() -> None:
    known = exported_names()
    expr = _rule_doc()["spec"]["groups"][0]["rules"][0]["expr"]
    renamed = expr.replace("reelops_http_requests_total", "reelops_requests_total")
    assert metric_names(renamed) - known == {"reelops_requests_total"}
