"""Comments of a parameters YAML file, by dotted key.

PyYAML drops comments, so this reads the text line by line: a comment at the end
of a ``key: value`` line, or the block of comment lines right above a key (no blank
line in between), describes that key.
"""

from __future__ import annotations

import re

__all__ = ["yaml_key_comments"]

_KEY_RE = re.compile(
    r"""^(?P<indent>\s*)(?P<key>"[^"]*"|'[^']*'|[^\s#'"\-][^:#]*?)\s*:(?:\s+(?P<rest>.*))?$"""
)
_COMMENT_RE = re.compile(r"^\s*#\s?(?P<text>.*)$")


def _inline_comment(rest: str) -> str | None:
    """Return the comment ending a value, ignoring '#' inside quotes."""
    quote: str | None = None
    for index, char in enumerate(rest):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or rest[index - 1].isspace()):
            return rest[index + 1 :].strip() or None
    return None


def yaml_key_comments(text: str) -> dict[str, str]:
    """Map the dotted path of every commented key of a YAML document to its comment.

    Args:
        text: YAML source made of block mappings (the usual parameters file).

    Returns:
        Mapping from dotted key (``model.learning_rate``) to the comment text.
    """
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            pending = []
            continue
        comment = _COMMENT_RE.match(line)
        if comment:
            pending.append(comment["text"].strip())
            continue
        match = _KEY_RE.match(line)
        if match is None:
            pending = []
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = match["key"].strip().strip("'\"")
        path = ".".join([*(name for _, name in stack), key])
        stack.append((indent, key))
        inline = _inline_comment(match["rest"] or "")
        described = inline or " ".join(text for text in pending if text)
        if described:
            comments[path] = described
        pending = []
    return comments
