"""Deterministic Kubernetes-safe names (DNS-1123 labels) and Argo parameter names."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "DNS_LABEL_MAX",
    "PARAM_AT",
    "PARAM_SEPARATOR",
    "argo_parameter_name",
    "dns_label",
    "is_dns_label",
    "label_value",
    "unique_dns_labels",
]

DNS_LABEL_MAX = 63
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_INVALID_CHARS_RE = re.compile(r"[^a-z0-9-]+")
_DASHES_RE = re.compile(r"-{2,}")
_LABEL_VALUE_RE = re.compile(r"[^A-Za-z0-9._-]+")
_PARAM_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-]+$")
PARAM_SEPARATOR = "__"
#: What an '@' of a parameter key becomes in its Argo name.
PARAM_AT = "_at_"


def _digest(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def is_dns_label(name: str) -> bool:
    """Tell whether ``name`` is a valid DNS-1123 label.

    Args:
        name: Candidate name.

    Returns:
        True when ``name`` is lower-case alphanumeric or '-', starts and ends with an
        alphanumeric character and has at most 63 characters.
    """
    return len(name) <= DNS_LABEL_MAX and bool(_DNS_LABEL_RE.match(name))


def dns_label(text: str, *, max_length: int = DNS_LABEL_MAX) -> str:
    """Turn arbitrary text into a DNS-1123 label, deterministically.

    Invalid characters become '-'. When the text had to be changed in a lossy way
    (truncated) a short hash of the original is appended so different inputs keep
    different names.

    Args:
        text: Source text, e.g. a Kedro node, namespace or pipeline name.
        max_length: Maximum length of the label.

    Returns:
        A valid DNS-1123 label.
    """
    label = _INVALID_CHARS_RE.sub("-", text.lower())
    label = _DASHES_RE.sub("-", label).strip("-") or "x"
    if len(label) > max_length:
        suffix = _digest(text)
        label = label[: max_length - len(suffix) - 1].rstrip("-") + "-" + suffix
    return label


def unique_dns_labels(
    texts: Iterable[str], *, reserved: Iterable[str] = ()
) -> dict[str, str]:
    """Map every text to a DNS-1123 label, unique among them and the reserved ones.

    Texts whose label collides (with each other or a reserved name) get a short
    hash of the original text appended, so the mapping only depends on the input.

    Args:
        texts: Source texts.
        reserved: Labels that must not be produced.

    Returns:
        Mapping from each source text to its label.
    """
    unique_texts = sorted(set(texts))
    taken = set(reserved)
    first = {text: dns_label(text) for text in unique_texts}
    counts: dict[str, int] = {}
    for label in first.values():
        counts[label] = counts.get(label, 0) + 1
    result: dict[str, str] = {}
    for text in unique_texts:
        label = first[text]
        if counts[label] > 1 or label in taken:
            suffix = _digest(text)
            base = label[: DNS_LABEL_MAX - len(suffix) - 1].rstrip("-")
            label = f"{base}-{suffix}"
        result[text] = label
    return result


def label_value(text: str) -> str:
    """Turn text into a valid Kubernetes label value (at most 63 characters).

    Args:
        text: Source text.

    Returns:
        A label value: alphanumerics, '-', '_' or '.', starting and ending with an
        alphanumeric character.
    """
    value = _LABEL_VALUE_RE.sub("-", text).strip("-_.")
    if len(value) > DNS_LABEL_MAX:
        suffix = _digest(text)
        value = value[: DNS_LABEL_MAX - len(suffix) - 1].rstrip("-_.") + "-" + suffix
    return value or "none"


def argo_parameter_name(key: str) -> str | None:
    """Map a dotted Kedro parameter key to an Argo parameter name.

    Argo parameter names only allow letters, digits, '-' and '_' (no dots), so the
    dots of nested keys become a double underscore: ``model.learning_rate`` becomes
    ``model__learning_rate``. An '@' (metric names such as ``ndcg@10``, which
    ``kedro run --params`` reads fine) becomes ``_at_``: ``decay.ndcg@10.limit``
    becomes ``decay__ndcg_at_10__limit``.

    Args:
        key: Dotted Kedro parameter key.

    Returns:
        The Argo parameter name, or None when a segment of the key holds another
        character Argo does not allow.
    """
    segments = [segment.replace("@", PARAM_AT) for segment in key.split(".")]
    if not all(_PARAM_SEGMENT_RE.match(segment) for segment in segments):
        return None
    return PARAM_SEPARATOR.join(segments)
