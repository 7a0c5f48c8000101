"""Validation of generated manifests against the Argo JSON schema and Hera's models.

The schema is the one Argo publishes (``api/jsonschema/schema.json``); it names its
definitions ``io.argoproj.workflow.v1alpha1.<Kind>``. Objects of that schema accept
unknown keys, so linting also closes every object that declares its properties:
a misspelt field such as ``retryStratgy`` is reported instead of being ignored by
the controller. Each manifest is then loaded into Hera's models and dumped again,
which must give back the same document.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import yaml

from kedro_hera.errors import LintError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = ["DEFINITION_PREFIX", "SchemaLinter", "lint_directory"]

DEFINITION_PREFIX = "io.argoproj.workflow.v1alpha1."


def _close_objects(node: Any) -> None:
    if isinstance(node, dict):
        if (
            "properties" in node
            and "additionalProperties" not in node
            and "x-kubernetes-preserve-unknown-fields" not in node
        ):
            node["additionalProperties"] = False
        for value in node.values():
            _close_objects(value)
    elif isinstance(node, list):
        for value in node:
            _close_objects(value)


def _where(path: Any) -> str:
    parts: list[str] = []
    for item in path:
        parts.append(
            f"[{item}]" if isinstance(item, int) else ("." if parts else "") + str(item)
        )
    return "".join(parts) or "<root>"


class SchemaLinter:
    """Validates manifests against the Argo JSON schema.

    Args:
        schema_path: Path of Argo's ``schema.json``.
        strict: Reject keys the schema does not declare.

    Raises:
        LintError: When the schema cannot be read.
    """

    def __init__(self, schema_path: Path, *, strict: bool = True) -> None:
        try:
            schema = json.loads(schema_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            msg = f"cannot read the Argo JSON schema '{schema_path}': {exc}"
            raise LintError(msg) from exc
        definitions = schema.get("definitions")
        if not isinstance(definitions, dict):
            msg = f"'{schema_path}' has no 'definitions'; expected Argo's schema.json"
            raise LintError(msg)
        self.definitions = copy.deepcopy(definitions) if strict else definitions
        if strict:
            _close_objects(self.definitions)
        self._validators: dict[str, Any] = {}

    def _validator(self, kind: str) -> Any:
        from jsonschema import Draft202012Validator

        if kind not in self._validators:
            self._validators[kind] = Draft202012Validator(
                {
                    "$ref": f"#/definitions/{DEFINITION_PREFIX}{kind}",
                    "definitions": self.definitions,
                }
            )
        return self._validators[kind]

    def validate(self, document: Mapping[str, Any]) -> list[str]:
        """Validate one manifest.

        Args:
            document: The parsed manifest.

        Returns:
            One line per schema violation.
        """
        kind = document.get("kind")
        if (
            not isinstance(kind, str)
            or f"{DEFINITION_PREFIX}{kind}" not in self.definitions
        ):
            return [f"kind {kind!r} is not an Argo Workflows kind"]
        errors = sorted(
            self._validator(kind).iter_errors(dict(document)),
            key=lambda e: (list(map(str, e.absolute_path)), e.message),
        )
        return [f"{_where(e.absolute_path)}: {e.message}" for e in errors]


def hera_round_trip(document: Mapping[str, Any]) -> list[str]:
    """Load a manifest into Hera's models and compare what they dump.

    Args:
        document: The parsed manifest.

    Returns:
        A problem when Hera cannot load it or loses or changes a field.
    """
    from hera.workflows import CronWorkflow, Workflow, WorkflowTemplate

    classes: dict[str, Any] = {
        "WorkflowTemplate": WorkflowTemplate,
        "CronWorkflow": CronWorkflow,
        "Workflow": Workflow,
    }
    kind = document.get("kind")
    if kind not in classes:
        return [f"Hera round trip: kind {kind!r} is not supported"]
    try:
        dumped = classes[str(kind)].from_dict(copy.deepcopy(dict(document))).to_dict()
    except Exception as exc:
        return [f"Hera round trip: cannot load the manifest: {exc}".replace("\n", " ")]
    if dumped != document:
        return ["Hera round trip: the manifest changes when loaded into Hera's models"]
    return []


def lint_directory(output_dir: Path, schema_path: Path | None) -> dict[str, list[str]]:
    """Lint every YAML manifest below a directory.

    Args:
        output_dir: The ``argo/`` directory.
        schema_path: Argo's ``schema.json``; None runs the Hera round trip only.

    Returns:
        Problems by relative file path (files without problems are left out).

    Raises:
        LintError: When the schema cannot be read or there is no manifest.
    """
    linter = SchemaLinter(schema_path) if schema_path is not None else None
    files = (
        sorted(
            p
            for p in output_dir.rglob("*")
            if p.suffix in {".yaml", ".yml"} and p.is_file()
        )
        if output_dir.is_dir()
        else []
    )
    if not files:
        msg = f"no manifest to lint in '{output_dir}'; run `kedro argo compile` first"
        raise LintError(msg)
    problems: dict[str, list[str]] = {}
    for path in files:
        relative = path.relative_to(output_dir).as_posix()
        try:
            documents = [
                d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d
            ]
        except yaml.YAMLError as exc:
            problems[relative] = [f"invalid YAML: {exc}".replace("\n", " ")]
            continue
        found: list[str] = []
        for document in documents:
            if not isinstance(document, dict):
                found.append("expected a mapping at the top level")
                continue
            if linter is not None:
                found.extend(linter.validate(document))
            found.extend(hera_round_trip(document))
        if found:
            problems[relative] = found
    return problems
