"""``python -m reelops.retrain``: does the latest monitoring decision ask to retrain?

The monitoring pipeline writes ``decision.json`` (``{"retrain": bool, "reasons":
[...], ...}``); this command reads it for shells and schedulers::

    DECISION=data/08_reporting/monitoring/decision.json
    python -m reelops.retrain --should-retrain "$DECISION"
    # exit 0: retrain; exit 1: do not retrain; exit 2: no readable decision

    python -m reelops.retrain --should-retrain --print     # stdout: true or false
    # exit 0 either way (2 on error): for an Argo `when` on the step's output

    python -m reelops.retrain --should-retrain --print-status
    # stdout: retrain, ok, blocked, not_enough_feedback or page, or retrain_page /
    # blocked_page when that decision also pages a human (exit 0; 2 on error):
    # the monitoring CronWorkflow's check, whose output Argo exports as the gauge
    # argo_workflows_reelops_monitoring_decision{result=...} (conf/base/argo.yml)

Without a path, the file is the catalog entry ``retrain_decision`` of the Kedro
environment (``--env``, else ``$KEDRO_ENV``, else ``local``): in staging and prod
that is the copy under the data root (``s3://...``), which is how the monitoring
CronWorkflow's check step finds it. The reasons go to stderr, one per line.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

__all__ = [
    "PRINTED_STATUSES",
    "STATUSES",
    "DecisionError",
    "decision_status",
    "load_decision",
    "main",
    "should_retrain",
]

#: The catalog entry holding the decision the trigger reads.
DECISION_DATASET = "retrain_decision"
#: Every status of a decision (reelops.retrain_decision); only the first retrains.
STATUSES = ("retrain", "ok", "blocked", "not_enough_feedback", "page")
#: Statuses that still act when the decision also pages a human (``page: true``,
#: e.g. a suspicious rater quarantined in a window that drifted): printed with
#: ``_page`` so that the retrain is submitted and the page alert fires.
_ACTING = ("retrain", "blocked")
#: Everything ``--print-status`` prints (the gauge's ``result`` labels).
PRINTED_STATUSES = (*STATUSES, *(f"{status}_page" for status in _ACTING))


class DecisionError(click.ClickException):
    """No readable retrain decision (exit code 2: neither "retrain" nor "keep")."""

    exit_code = 2


def _catalog_entry(env: str) -> tuple[str, dict[str, Any]]:
    from reelops.config import make_config_loader, project_root

    conf = project_root() / "conf"
    try:
        catalog = make_config_loader(conf, env)["catalog"]
    except Exception as exc:
        raise DecisionError(
            f"cannot read the catalog of env '{env}' in {conf}: {exc}"
        ) from exc
    if DECISION_DATASET not in catalog:
        raise DecisionError(
            f"the catalog of env '{env}' has no '{DECISION_DATASET}' dataset "
            "(conf/base/catalog_monitoring.yml)"
        )
    return DECISION_DATASET, dict(catalog[DECISION_DATASET])


def load_decision(path: str | None, env: str) -> dict[str, Any]:
    """Read the decision from ``path`` (local or fsspec URL) or the env's catalog.

    Raises:
        DecisionError: If it is missing, not JSON, or has no boolean ``retrain``.
    """
    from kedro.io.core import AbstractDataset, DatasetError

    if path is None:
        name, config = _catalog_entry(env)
        where = f"dataset '{name}' of env '{env}'"
    else:
        name, config = "decision", {"type": "json.JSONDataset", "filepath": path}
        where = path
    try:
        data = AbstractDataset.from_config(name, config).load()
    except (DatasetError, OSError, ValueError) as exc:
        cause = exc.__cause__ or exc
        detail = " ".join(str(cause).split()) or type(cause).__name__
        raise DecisionError(f"no readable decision in {where}: {detail}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("retrain"), bool):
        got = data.get("retrain") if isinstance(data, dict) else type(data).__name__
        raise DecisionError(
            f"{where}: expected a decision with a boolean 'retrain', got {got!r}"
        )
    return data


def should_retrain(decision: dict[str, Any]) -> bool:
    """Whether ``decision`` asks to retrain."""
    return bool(decision["retrain"])


def decision_status(decision: dict[str, Any]) -> str:
    """The decision's status: ``retrain`` when it retrains, else its ``status``.

    A decision without a status (written before it had one) is ``ok`` when it
    does not retrain. A ``retrain`` or ``blocked`` decision that also pages a
    human (``page: true``) is ``retrain_page`` or ``blocked_page``.

    Raises:
        DecisionError: If the status is unknown or contradicts ``retrain``.
    """
    status = decision.get("status")
    retrain = should_retrain(decision)
    if status is None:
        return "retrain" if retrain else "ok"
    if status not in STATUSES or (status == "retrain") != retrain:
        raise DecisionError(
            f"decision status must be one of {list(STATUSES)} and 'retrain' only "
            f"when retrain is true, got {status!r} with retrain {retrain}"
        )
    if status in _ACTING and decision.get("page") is True:
        return f"{status}_page"
    return str(status)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--should-retrain",
    "check",
    is_flag=True,
    required=True,
    help="Exit 0 when the decision asks to retrain, 1 when not, 2 on error.",
)
@click.argument("path", required=False)
@click.option(
    "--env",
    default=lambda: os.environ.get("KEDRO_ENV") or "local",
    show_default="$KEDRO_ENV, else local",
    help="Kedro env whose catalog names the decision (when no PATH is given).",
)
@click.option(
    "--print",
    "print_result",
    is_flag=True,
    help="Print true/false on stdout and exit 0 (2 on error), for Argo `when`.",
)
@click.option(
    "--print-status",
    "print_status",
    is_flag=True,
    help="Print the status (retrain, ok, blocked, not_enough_feedback, page; "
    "retrain_page or blocked_page when it also pages) on stdout and exit 0 (2 on "
    "error), for Argo `when` and metrics.",
)
def main(
    check: bool, path: str | None, env: str, print_result: bool, print_status: bool
) -> None:
    """Tell whether the monitoring decision at PATH asks to retrain."""
    if print_result and print_status:
        raise click.UsageError("--print and --print-status exclude each other")
    decision = load_decision(path, env)
    retrain = should_retrain(decision)
    verdict = "retrain" if retrain else "no retrain"
    status = decision.get("status")
    click.echo(f"{verdict}{f' ({status})' if status else ''}", err=True)
    for reason in decision.get("reasons", []):
        click.echo(f"  - {reason}", err=True)
    if print_result:
        click.echo("true" if retrain else "false", nl=False)
        return
    if print_status:
        click.echo(decision_status(decision), nl=False)
        return
    sys.exit(0 if retrain else 1)


if __name__ == "__main__":  # pragma: no cover - exercised through subprocesses
    main()
