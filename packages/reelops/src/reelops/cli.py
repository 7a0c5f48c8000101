"""Project CLI: ``kedro run`` with a readable console and one-line errors.

Kedro takes a project's ``cli.py`` commands over its own. ``run`` here keeps every
option of Kedro's ``run`` and runs it the same way, with three differences:

- before any work, an unknown ``--env`` or ``--pipeline`` is refused in one line that
  lists the valid names (as is a pipeline file that does not validate);
- the console shows progress, not Kedro's log (:mod:`reelops.run_log`), and the full
  log goes to ``logs/run-*.log``;
- a failure caused by a :class:`~reelops.errors.ReelopsError` (bad data, bad
  config, a missing source) ends with its one-line message; any other failure
  prints its traceback, which is a bug to report. Either way the exit code is 1
  and the log file has the whole story.

``--pipeline`` (deprecated by Kedro in favour of ``--pipelines``) is accepted
without a warning.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from kedro.framework.cli.project import run as kedro_run

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["check_env", "check_pipelines", "cli", "reelops_error", "run"]


@click.group(name="reelops")
def cli() -> None:
    """Reelops project commands."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def reelops_error(exc: BaseException) -> str | None:
    """The one-line message of the first ReelopsError behind ``exc``, if any."""
    from reelops.errors import ReelopsError

    for cause in _chain(exc):
        if isinstance(cause, ReelopsError):
            return " ".join(str(cause).split())
    return None


def missing_input(exc: BaseException, chosen: list[str]) -> str | None:
    """The one-line message of a run that stopped on an input no run wrote yet.

    A dataset whose file does not exist (``FileNotFoundError`` behind Kedro's
    ``DatasetError``) is named with the pipeline that writes it, so the message
    says what to run first; None for any other failure.
    """
    from kedro.framework.project import pipelines
    from kedro.io.core import DatasetError

    causes = list(_chain(exc))
    missing = next((c for c in causes if isinstance(c, FileNotFoundError)), None)
    failed = next((c for c in causes if isinstance(c, DatasetError)), None)
    if missing is None or failed is None or "while loading" not in str(failed):
        return None
    name = str(failed).split(":", 1)[0].strip()
    path = missing.filename or " ".join(str(missing).split())
    writers = sorted(
        (len(pipe.nodes), key)
        for key, pipe in pipelines.items()
        if key != "__default__" and key not in chosen and name in pipe.all_outputs()
    )
    hint = (
        f"it is written by the '{writers[0][1]}' pipeline: run `kedro run` "
        f"(or `kedro run --pipeline {writers[0][1]}`) first"
        if writers
        else "no pipeline writes it"
    )
    return f"input '{name}' does not exist yet (expected {path}); {hint}"


def check_env(env: str | None, conf_source: str | None) -> None:
    """Refuse an environment that has no directory in the project's ``conf/``.

    Raises:
        click.ClickException: The environment does not exist.
    """
    if not env or conf_source:
        return
    from kedro.framework.project import settings

    conf = Path(settings.CONF_SOURCE)
    if (conf / env).is_dir():
        return
    known = sorted(p.name for p in conf.iterdir() if p.is_dir() and p.name != "base")
    raise click.ClickException(
        f"environment '{env}' does not exist: no directory {conf / env} "
        f"(expected one of: {', '.join(known)})"
    )


def check_pipelines(names: list[str]) -> None:
    """Refuse pipeline names the registry does not have, listing the ones it has.

    Raises:
        click.ClickException: A pipeline file is invalid, or a name is unknown.
    """
    from kedro.framework.project import pipelines

    try:
        known = sorted(pipelines)
    except Exception as exc:
        message = reelops_error(exc)
        if message is None:
            raise
        raise click.ClickException(message) from exc
    for name in names:
        if name not in known:
            raise click.ClickException(
                f"pipeline '{name}' does not exist "
                f"(expected one of: {', '.join(known)})"
            )


def check_run_parameters(
    names: list[str], env: str | None, runtime_params: dict[str, Any] | None
) -> None:
    """Validate the parameters the chosen pipelines read, ``--params`` included.

    The loader is the session's own (same conf, env and runtime parameters), so
    building it first changes nothing the session then resolves.

    Raises:
        click.ClickException: One line: the file (``+ --params`` when the run
            overrides it), the parameter, what is wrong.
    """
    from kedro.framework.project import pipelines, settings

    from reelops.config import make_config_loader
    from reelops.errors import ReelopsError
    from reelops.params import check_parameters, parameter_files

    conf = Path(settings.CONF_SOURCE)
    try:
        loader = make_config_loader(conf, env, runtime_params or None)
        files = parameter_files(conf, env)
        for top in {str(key).split(".", 1)[0] for key in runtime_params or {}}:
            files[top] = f"{files[top]} + --params" if top in files else "--params"
        check_parameters(
            {name: pipelines[name] for name in names}, loader["parameters"], files
        )
    except ReelopsError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command(name="run", params=kedro_run.params, help=kedro_run.help)
def run(**options: Any) -> None:
    """Kedro's ``run``, with a progress view, a log file and one-line errors."""
    from reelops.run_log import console_logging

    if options.get("pipeline"):
        options["pipelines"] = [options.pop("pipeline"), *options["pipelines"]]
    options["pipeline"] = None
    check_env(options.get("env"), options.get("conf_source"))
    chosen = list(options["pipelines"]) or ["__default__"]
    check_pipelines(chosen)
    if not options.get("conf_source"):
        check_run_parameters(chosen, options.get("env"), options.get("params"))
    console = sys.stdout
    failure: BaseException | None = None
    with console_logging(stream=console) as log_file:
        try:
            kedro_run.callback(**options)  # type: ignore[misc]
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            failure = exc
            import logging

            logging.getLogger(__name__).error("run failed", exc_info=exc)
    where = f" (full log: {log_file})" if log_file else ""
    if failure is None:
        if log_file:
            click.echo(f"full log: {log_file}")
        return
    message = reelops_error(failure) or missing_input(failure, chosen)
    if message is None:
        traceback.print_exception(failure, file=sys.stderr)
        raise click.ClickException(
            f"the run failed: {type(failure).__name__}: "
            f"{' '.join(str(failure).split())[:500]}{where}"
        )
    raise click.ClickException(f"{message}{where}")
