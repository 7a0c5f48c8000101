"""Write the tuning pipeline's best points into ``parameters_training.yml``.

Training reads only the hyperparameters stated in ``parameters_training.yml``; the
tuning pipeline writes a proposal (``data/08_reporting/tuning/tuned_parameters.yml``).
``make tuned`` (``python -m reelops.tuned``) is the explicit step between the two:
it sets, for every candidate whose estimator was searched, the proposed values in
place (comments and layout kept), prints the diff, and leaves the commit and its
review to a pull request. Candidates that reuse another's values (``${mf.estimator}``)
follow it.
"""

from __future__ import annotations

import argparse
import difflib
import io
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reelops.errors import ConfigError

__all__ = ["TunedChange", "apply_tuned"]

PROPOSAL = Path("data/08_reporting/tuning/tuned_parameters.yml")
PARAMETERS = Path("conf/base/parameters_training.yml")

TunedChange = tuple[str, str, Any, Any]
"""(candidate, hyperparameter, value before or None, proposed value)."""


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, order and flow style are kept
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)  # as the committed file
    return yaml


def _proposal(proposal: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    tuned = proposal.get("tuned_params") if isinstance(proposal, Mapping) else None
    if not isinstance(tuned, Mapping) or not all(
        isinstance(v, Mapping) for v in tuned.values()
    ):
        raise ConfigError(
            "tuning proposal: expected a mapping 'tuned_params' of estimator name "
            f"to hyperparameters, got {proposal!r}"
        )
    return tuned


def apply_tuned(
    parameters_text: str, proposal: Mapping[str, Any]
) -> tuple[str, list[TunedChange]]:
    """``parameters_text`` with the proposal's values set; also what changed.

    Every candidate block whose ``estimator.name`` was searched gets the proposed
    values under ``estimator.params`` (added when the block lacked the key).

    Raises:
        ConfigError: The proposal is malformed, or names an estimator that no
            candidate of ``parameters_text`` uses.
    """
    tuned = _proposal(proposal)
    yaml = _yaml()
    document = yaml.load(parameters_text)
    changes: list[TunedChange] = []
    for name, values in sorted(tuned.items()):
        blocks = [
            (candidate, block["estimator"])
            for candidate, block in document.items()
            if isinstance(block, Mapping)
            and isinstance(block.get("estimator"), Mapping)
            and block["estimator"].get("name") == name
        ]
        if not blocks:
            raise ConfigError(
                f"tuning proposal: no candidate of parameters_training.yml uses "
                f"estimator '{name}' (expected one of: "
                f"{', '.join(sorted(_estimators(document)))})"
            )
        for candidate, estimator in blocks:
            if estimator.get("params") is None:
                estimator["params"] = {}
            params = estimator["params"]
            for key, value in sorted(values.items()):
                before = params.get(key)
                if before != value or key not in params:
                    params[key] = value
                    changes.append((candidate, key, before, value))
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue(), changes


def _estimators(document: Mapping[str, Any]) -> set[str]:
    return {
        str(block["estimator"].get("name"))
        for block in document.values()
        if isinstance(block, Mapping) and isinstance(block.get("estimator"), Mapping)
    }


def main(argv: list[str] | None = None) -> int:
    """``make tuned``: apply the proposal to the parameters file, print the diff."""
    parser = argparse.ArgumentParser(prog="make tuned", description=__doc__)
    parser.add_argument("--proposal", type=Path, default=PROPOSAL)
    parser.add_argument("--parameters", type=Path, default=PARAMETERS)
    args = parser.parse_args(argv)
    if not args.proposal.is_file():
        sys.stderr.write(
            f"Error: no tuning proposal at {args.proposal}: run "
            "`kedro run --pipeline tuning` first\n"
        )
        return 1
    try:
        proposal = _yaml().load(args.proposal.read_text(encoding="utf-8"))
        before = args.parameters.read_text(encoding="utf-8")
        after, changes = apply_tuned(before, proposal)
    except ConfigError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 1
    if not changes:
        sys.stdout.write(f"{args.parameters}: already holds the tuned values\n")
        return 0
    args.parameters.write_text(after, encoding="utf-8")
    sys.stdout.writelines(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{args.parameters}",
            f"b/{args.parameters}",
        )
    )
    sys.stdout.write(
        f"{len(changes)} value(s) changed in {args.parameters}: review the diff, "
        "then commit it in a pull request\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
