"""Kubernetes-safe names and quantities."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kedro_hera._names import (
    argo_parameter_name,
    dns_label,
    is_dns_label,
    label_value,
    unique_dns_labels,
)
from kedro_hera._quantity import parse_cpu, parse_memory


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("train_model_node", "train-model-node"),
        ("Candidates.Popularity", "candidates-popularity"),
        ("__default__", "default"),
        ("--", "x"),
    ],
)
def test_dns_label(text: str, label: str) -> None:
    assert dns_label(text) == label
    assert is_dns_label(label)


def test_long_names_are_truncated_with_a_stable_hash() -> None:
    text = "a" * 100
    label = dns_label(text)
    assert len(label) == 63
    assert is_dns_label(label)
    assert label == dns_label(text)
    assert label != dns_label("a" * 99)


def test_colliding_names_get_distinct_hashes_and_avoid_reserved() -> None:
    labels = unique_dns_labels(
        ["data_prep", "data-prep", "main", "train"], reserved=["main"]
    )
    assert labels["train"] == "train"
    assert labels["data_prep"] != labels["data-prep"]
    assert labels["main"].startswith("main-")
    assert all(is_dns_label(v) for v in labels.values())


def test_label_value_and_argo_parameter_name() -> None:
    assert label_value("__default__") == "default"
    assert label_value("kh_basic") == "kh_basic"
    assert argo_parameter_name("model.lr") == "model__lr"
    assert argo_parameter_name("model lr") is None
    assert argo_parameter_name("decay.ndcg@10.limit") == "decay__ndcg_at_10__limit"


@pytest.mark.parametrize(
    ("text", "cores"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        ("0.25", Decimal("0.25")),
        ("x", None),
    ],
)
def test_parse_cpu(text: str, cores: Decimal | None) -> None:
    assert parse_cpu(text) == cores


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512Mi", Decimal(512 * 1024**2)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("128974848", Decimal(128974848)),
        ("1GB", None),
    ],
)
def test_parse_memory(text: str, size: Decimal | None) -> None:
    assert parse_memory(text) == size
