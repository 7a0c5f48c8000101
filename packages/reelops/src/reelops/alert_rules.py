"""Check the rendered PrometheusRules and write their groups for promtool.

``kubernetes-validate`` knows no CRD (it warns and passes), and the official
PrometheusRule schema (the Prometheus Operator's CRD) is not on a package index,
so the object is checked here against the fields of ``monitoring.coreos.com/v1``
``PrometheusRule`` (unknown keys fail), plus this repo's policy: every alert has
``severity`` page, ticket or info and ``summary``, ``description`` and
``runbook`` annotations. The rules themselves (PromQL, durations, templates) are
left to ``promtool check rules`` on the file written here::

    python -m reelops.alert_rules build/deploy-prod.yaml --out build/rules.yaml
    promtool check rules build/rules.yaml

Limit: the model mirrors the CRD's fields of prometheus-operator 0.7x-0.8x; the
CRD's own OpenAPI checks (e.g. duration patterns) are promtool's here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import click
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reelops.errors import ConfigError

__all__ = [
    "ANNOTATIONS",
    "SEVERITIES",
    "PrometheusRule",
    "main",
    "rule_groups",
]

#: ``severity`` of an alert: page wakes someone, ticket waits a working day,
#: info never notifies alone.
SEVERITIES = ("page", "ticket", "info")
#: Annotations every alert carries.
ANNOTATIONS = ("summary", "description", "runbook")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Metadata(_Model):
    name: str = Field(min_length=1)
    namespace: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class _Rule(_Model):
    alert: str | None = None
    record: str | None = None
    expr: str | int
    for_: str | None = Field(default=None, alias="for")
    keep_firing_for: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}

    @model_validator(mode="after")
    def _alert_policy(self) -> _Rule:
        if (self.alert is None) == (self.record is None):
            msg = f"a rule needs exactly one of alert and record, got {self.alert!r}"
            raise ValueError(msg)
        if self.alert is None:
            return self
        severity = self.labels.get("severity")
        if severity not in SEVERITIES:
            msg = (
                f"alert {self.alert}: label severity must be one of "
                f"{list(SEVERITIES)}, got {severity!r}"
            )
            raise ValueError(msg)
        missing = [a for a in ANNOTATIONS if not self.annotations.get(a)]
        if missing:
            msg = f"alert {self.alert}: missing annotations {missing}"
            raise ValueError(msg)
        return self


class _Group(_Model):
    name: str = Field(min_length=1)
    interval: str | None = None
    query_offset: str | None = None
    limit: int | None = None
    partial_response_strategy: str | None = None
    labels: dict[str, str] = {}
    rules: list[_Rule] = Field(min_length=1)


class _Spec(_Model):
    groups: list[_Group] = Field(min_length=1)


class PrometheusRule(_Model):
    """A ``monitoring.coreos.com/v1`` PrometheusRule (unknown keys are errors)."""

    api_version: Literal["monitoring.coreos.com/v1"] = Field(alias="apiVersion")
    kind: Literal["PrometheusRule"]
    metadata: _Metadata
    spec: _Spec


def rule_groups(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The rule groups of every PrometheusRule in ``docs``, as a promtool file.

    Raises:
        ConfigError: If there is none, one is invalid, or a group name repeats.
    """
    rules = [
        _parse(doc)
        for doc in docs
        if isinstance(doc, dict) and doc.get("kind") == "PrometheusRule"
    ]
    if not rules:
        raise ConfigError("no PrometheusRule in the rendered manifests")
    groups = [group for rule in rules for group in rule.spec.groups]
    names = [group.name for group in groups]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"rule group names must be unique, got {repeated} twice")
    return {
        "groups": [
            g.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True)
            for g in groups
        ]
    }


def _parse(doc: dict[str, Any]) -> PrometheusRule:
    metadata = doc.get("metadata")
    name = repr(metadata.get("name")) if isinstance(metadata, dict) else "<unnamed>"
    try:
        return PrometheusRule.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(part) for part in err["loc"])
        if err["type"] == "extra_forbidden":
            problem = "unknown key"
        elif err["type"] == "missing":
            problem = "required key is missing"
        elif err["type"] == "value_error":
            problem = str(err["msg"]).removeprefix("Value error, ")
        else:
            problem = f"{err['msg']}, got {err.get('input')!r}"
        raise ConfigError(f"PrometheusRule {name}: {where}: {problem}") from exc


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument(
    "rendered", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False)
)
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Rule file to write (promtool check rules / test rules read it).",
)
def main(rendered: tuple[str, ...], out: Path) -> None:
    """Check the PrometheusRules of RENDERED manifests and write their groups."""
    docs: list[dict[str, Any]] = []
    for path in rendered:
        try:
            docs.extend(d for d in yaml.safe_load_all(Path(path).read_text()) if d)
        except yaml.YAMLError as exc:
            detail = " ".join(str(exc).split())
            raise click.ClickException(f"{path}: not YAML: {detail}") from exc
    try:
        groups = rule_groups(docs)
    except ConfigError as exc:
        raise click.ClickException(f"{', '.join(rendered)}: {exc}") from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(groups, sort_keys=False, width=1_000_000))
    n_rules = sum(len(g["rules"]) for g in groups["groups"])
    click.echo(
        f"alert_rules: {n_rules} rules in {len(groups['groups'])} groups -> {out}"
    )


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    sys.exit(main())
