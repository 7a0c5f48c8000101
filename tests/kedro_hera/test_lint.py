"""Linting against Argo's JSON schema and Hera's models."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from kedro_hera.errors import LintError
from kedro_hera.lint import SchemaLinter, hera_round_trip, lint_directory

from .conftest import BASIC


def test_committed_manifests_lint_clean(schema_path: Path) -> None:
    assert lint_directory(BASIC / "argo", schema_path) == {}


def test_misspelt_field_is_reported(tmp_path: Path, schema_path: Path) -> None:
    # GIVEN a manifest with a field Argo does not know
    out = tmp_path / "argo"
    shutil.copytree(BASIC / "argo", out)
    path = out / "staging" / "train.yaml"
    path.write_text(
        path.read_text().replace("entrypoint: main", "entrypoint: main\n  entrypoin: x")
    )
    # WHEN linted THEN the field is named
    problems = lint_directory(out, schema_path)
    assert list(problems) == ["staging/train.yaml"]
    assert problems["staging/train.yaml"][0] == (
        "spec: Additional properties are not allowed ('entrypoin' was unexpected)"
    )


def test_wrong_type_is_reported(schema_path: Path) -> None:
    linter = SchemaLinter(schema_path)
    document = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": "x"},
        "spec": {"templates": [{"name": "a", "retryStrategy": {"limit": 2}}]},
    }
    assert linter.validate(document) == [
        "spec.templates[0].retryStrategy.limit: 2 is not of type 'string'"
    ]


def test_unknown_kind_and_round_trip_of_unsupported_kind(schema_path: Path) -> None:
    assert SchemaLinter(schema_path).validate({"kind": "Pod"}) == [
        "kind 'Pod' is not an Argo Workflows kind"
    ]
    assert hera_round_trip({"kind": "Pod"}) == [
        "Hera round trip: kind 'Pod' is not supported"
    ]


def test_empty_directory_and_bad_schema_are_errors(
    tmp_path: Path, schema_path: Path
) -> None:
    with pytest.raises(LintError, match=re.escape("no manifest to lint in")):
        lint_directory(tmp_path, schema_path)
    bad = tmp_path / "schema.json"
    bad.write_text("{}")
    with pytest.raises(LintError, match=re.escape("has no 'definitions'")):
        SchemaLinter(bad)
