"""Kedro parameters become Argo parameters that round-trip through kedro run."""

from __future__ import annotations

import re
from typing import Any

import click
import pytest
from kedro.framework.cli.utils import _split_params

from kedro_hera._comments import yaml_key_comments
from kedro_hera.errors import ParameterError
from kedro_hera.parameters import (
    decode_params_option,
    decode_value,
    describe_parameters,
    encode_override,
    encode_value,
    flatten_parameters,
    parameter_specs,
    params_option,
    used_parameter_keys,
)

VALUES: list[Any] = [
    0,
    7,
    -3,
    0.01,
    1.0,
    1e-5,
    3.0e10,
    True,
    False,
    None,
    "hello",
    "hello world",
    "007",
    "true",
    "null",
    "",
    " padded ",
    "a,b",
    "key: value",
    "# not a comment",
    "x=y",
    "- dash",
    "multi\nline",
    "it's",
    '"quoted"',
    "ünïcode",
    [],
    {},
    [5, 10, 20],
    ["a,b", "c"],
    [1.5, None, True, "x"],
    [{"a": 1, "b": [1, 2]}],
    [[1, 2], [3]],
]


def _kedro_parses(option: str) -> dict[str, Any]:
    """Parse a --params value with Kedro's own callback."""
    command = click.Command("run")
    ctx = click.Context(command)
    param = click.Option(["--params"])
    return _split_params(ctx, param, option)


def _same(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(
            _same(left[k], right[k]) for k in left
        )
    return bool(left == right)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_encoded_value_round_trips_through_kedro_run_params(value: Any) -> None:
    # GIVEN a parameter value WHEN it is encoded as an Argo parameter value
    encoded = encode_value(value, key="k")
    # THEN it holds no comma, and Kedro's own --params parser gives it back typed
    assert "," not in encoded
    parsed = _kedro_parses(f"other=1,section.k={encoded},last=x")
    assert _same(parsed["section"]["k"], value)
    assert parsed["other"] == 1
    assert parsed["last"] == "x"


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_decode_matches_kedro(value: Any) -> None:
    encoded = encode_value(value)
    assert _same(decode_value(encoded), _kedro_parses(f"k={encoded}")["k"])


def test_json_list_in_params_is_what_kedro_cannot_read() -> None:
    # GIVEN the naive JSON encoding of a list
    # THEN Kedro splits it on its comma, which is why lists are block YAML
    with pytest.raises(ParameterError, match=re.escape("cannot read item '2]'")):
        decode_params_option("k=[1,2]")
    with pytest.raises(click.UsageError):
        _kedro_parses("k=[1,2]")


def test_scalars_are_readable_in_the_argo_ui() -> None:
    assert encode_value(0.01) == "0.01"
    assert encode_value(True) == "true"
    assert encode_value("hello") == "hello"
    assert encode_value("007") == '"007"'
    assert encode_value([5, 10]) == "- 5\n- 10"
    assert encode_value("a,b") == '"a\\x2cb"'


def test_flatten_parameters_uses_dotted_keys_and_drops_descriptions() -> None:
    params = {
        "model": {"_description": "Model", "lr": 0.1, "layers": [1, 2], "extra": {}},
        "seed": 1,
    }
    assert flatten_parameters(params) == {
        "model.lr": 0.1,
        "model.layers": [1, 2],
        "model.extra": {},
        "seed": 1,
    }


def test_yaml_comments_are_found_by_dotted_key() -> None:
    text = (
        "# Header of the file\n"
        "\n"
        "# Learning rate of the optimiser\n"
        "lr: 0.1\n"
        "model:\n"
        "  depth: 3  # Number of layers\n"
        "  # Names of the features,\n"
        "  # in order\n"
        "  features: [a, b]\n"
        "  url: 'http://x#y'  # Where it lives\n"
        "  plain: 1\n"
    )
    assert yaml_key_comments(text) == {
        "lr": "Learning rate of the optimiser",
        "model.depth": "Number of layers",
        "model.features": "Names of the features, in order",
        "model.url": "Where it lives",
    }


def test_descriptions_come_from_comments_then_description_entries() -> None:
    params = {
        "model": {
            "_description": {"lr": "Step size"},
            "lr": 0.1,
            "depth": 3,
        },
        "split": {"_description": "How data is split", "seed": 1, "share": 0.2},
        "bare": 1,
    }
    comments = {"model.depth": "Number of layers", "split.share": "Test share"}
    assert describe_parameters(params, comments) == {
        "model.lr": "Step size",
        "model.depth": "Number of layers",
        "split.seed": "How data is split",
        "split.share": "Test share",
    }


def test_used_parameter_keys_resolve_params_prefixes() -> None:
    flat = ["model.lr", "model.depth", "seed", "modelx"]
    used, missing = used_parameter_keys(
        ["data", "params:model", "params:seed", "params:absent"], flat
    )
    assert used == {"model.lr", "model.depth", "seed"}
    assert missing == ["absent"]
    everything, _ = used_parameter_keys(["parameters"], flat)
    assert everything == set(flat)


def test_parameter_specs_name_argo_parameters_and_build_params_option() -> None:
    flat = {"model.lr": 0.1, "seed": 1}
    specs = parameter_specs(flat, flat, {"seed": "Random seed"})
    assert [(s.key, s.argo_name, s.encoded, s.description) for s in specs] == [
        ("model.lr", "model__lr", "0.1", None),
        ("seed", "seed", "1", "Random seed"),
    ]
    assert params_option(specs) == (
        "model.lr={{workflow.parameters.model__lr}},seed={{workflow.parameters.seed}}"
    )


def test_parameter_key_argo_cannot_name_is_rejected() -> None:
    with pytest.raises(
        ParameterError,
        match=re.escape(
            "parameter key 'my model.lr' cannot be an Argo parameter name: each "
            "dotted segment may only hold letters, digits, '-', '_' and '@'"
        ),
    ):
        parameter_specs(["my model.lr"], {"my model.lr": 1}, {})


def test_colliding_argo_names_are_rejected() -> None:
    flat = {"a.b": 1, "a__b": 2}
    with pytest.raises(
        ParameterError,
        match=re.escape(
            "parameters 'a.b' and 'a__b' both map to the Argo parameter 'a__b'"
        ),
    ):
        parameter_specs(flat, flat, {})


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("0.5", 0.1, 0.5),
        ("3", 0.1, 3.0),
        ("[5, 10]", [1], [5, 10]),
        ("007", "abc", "007"),
        ("true", False, True),
        ("null", None, None),
    ],
)
def test_overrides_keep_the_default_type(
    text: str, default: Any, expected: Any
) -> None:
    assert _same(decode_value(encode_override("k", text, default)), expected)


def test_override_of_another_type_is_rejected() -> None:
    with pytest.raises(
        ParameterError,
        match=re.escape(
            "parameter 'model.depth' expects a int like 3, got 0.5 instead"
        ),
    ):
        encode_override("model.depth", "0.5", 3)
