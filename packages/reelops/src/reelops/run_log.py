"""What ``kedro run`` prints: a progress view on the console, the full log in a file.

:func:`console_logging` replaces Kedro's rich console handler for one run:

- the console gets progress lines (``[12/52] training  mf.fit_candidate_node  1.8 s``),
  warnings from this project and Kedro, and errors, one line each, never a
  traceback; on a terminal the running task is one line redrawn in place and each
  stage gets a line when its last task ends; elsewhere (CI, pods, pipes) every task
  is a plain, unwrapped line;
- the file (``logs/run-<UTC time>.log``, the last :data:`KEEP` runs kept; the
  directory is ``$REELOPS_LOG_DIR`` when set) gets every record at INFO and above,
  with tracebacks, plus whatever libraries print to stdout and stderr during the run.
  Where no file can be written, the console gets everything instead.

:class:`ProgressHook` (registered in ``settings.py``) emits the progress records;
a node's stage is the smallest registered pipeline that holds it (its own file in
``pipelines/``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

from kedro.framework.hooks import hook_impl

from reelops.memory import peak_rss, reset_peak_rss

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "KEEP",
    "MEMORY_LOGGER",
    "PROGRESS_LOGGER",
    "ConsoleFilter",
    "ConsoleHandler",
    "ProgressHook",
    "console_logging",
    "stage_of_nodes",
]

#: The logger the progress lines go to.
PROGRESS_LOGGER = "reelops.progress"
#: The logger of each task's peak resident size (INFO: the run's log file only).
MEMORY_LOGGER = "reelops.memory"
#: How many run logs are kept.
KEEP = 20
#: Loggers whose warnings reach the console (third-party warnings go to the file).
_CONSOLE_WARNING_ROOTS = frozenset(
    {
        "reelops",
        "recsys",
        "reelops_monitoring",
        "reelops_serving",
        "kedro",
        "kedro_hera",
    }
)

logger = logging.getLogger(PROGRESS_LOGGER)


class ConsoleFilter(logging.Filter):
    """Progress, warnings from this project and Kedro, errors; never a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` belongs on the console."""
        if record.name == PROGRESS_LOGGER:
            return True
        if record.exc_info:  # the CLI prints the error itself, in one line
            return False
        if record.levelno >= logging.ERROR:
            return True
        root = record.name.split(".", 1)[0]
        return record.levelno >= logging.WARNING and root in _CONSOLE_WARNING_ROOTS


class ConsoleHandler(logging.Handler):
    """Plain lines on ``stream``; on a terminal, task lines are redrawn in place.

    A record's ``progress`` attribute says what it is: ``running`` (a task
    started), ``task`` (it ended), ``stage`` (a stage's last task ended) or nothing
    (any other line). On a terminal the running task is one transient line and
    stage lines stay; elsewhere ended tasks are lines and the rest is left out (the
    task lines already name their stage).
    """

    #: Which progress records each kind of console shows: (terminal, other).
    SHOWN: ClassVar[dict[str, tuple[bool, bool]]] = {
        "running": (True, False),
        "task": (False, True),
        "stage": (True, False),
    }

    def __init__(self, stream: IO[str], *, live: bool, width: int = 100) -> None:
        super().__init__()
        self.stream = stream
        self.live = live
        self.width = width
        self._transient = False

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` as one line (its first line, for multi-line messages)."""
        try:
            kind = getattr(record, "progress", None)
            if kind is not None and not self.SHOWN[kind][0 if self.live else 1]:
                return
            text = (self.format(record).splitlines() or [""])[0]
            if self.live and self._transient:
                self.stream.write("\r\x1b[K")
                self._transient = False
            if kind == "running":
                self.stream.write(text[: self.width - 1])
                self._transient = True
            else:
                level = record.levelno
                prefix = f"{record.levelname}: " if level >= logging.WARNING else ""
                self.stream.write(f"{prefix}{text}\n")
            self.stream.flush()
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


class _LogWriter(io.TextIOBase):
    """A text stream whose lines become log records (for redirected stdout/stderr)."""

    def __init__(self, target: logging.Logger, level: int) -> None:
        self._logger = target
        self._level = level
        self._buffer = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            if line.strip():
                self._logger.log(self._level, "%s", line.rstrip())
        return len(text)

    def flush(self) -> None:
        if self._buffer.strip():
            self._logger.log(self._level, "%s", self._buffer.rstrip())
        self._buffer = ""


def _log_file(directory: Path, keep: int) -> Path | None:
    """A new run log in ``directory`` (older ones pruned), or ``None`` if unwritable."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
        path = directory / f"run-{stamp}.log"
        path.touch()
    except OSError:
        return None
    for old in sorted(directory.glob("run-*.log"))[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()
    return path


@contextlib.contextmanager
def console_logging(
    log_dir: Path | None = None, *, stream: IO[str] | None = None
) -> Iterator[Path | None]:
    """Route logging as the module docstring says, for the duration of a run.

    Yields:
        The run's log file, or ``None`` when none could be written.
    """
    out = stream or sys.stdout
    directory = log_dir or Path(os.environ.get("REELOPS_LOG_DIR") or "logs")
    path = _log_file(directory, KEEP)
    live = bool(getattr(out, "isatty", lambda: False)())
    console = ConsoleHandler(out, live=live, width=shutil.get_terminal_size().columns)
    console.setFormatter(logging.Formatter("%(message)s"))
    handlers: list[logging.Handler] = [console]
    if path is not None:
        console.addFilter(ConsoleFilter())
        file = logging.FileHandler(path, encoding="utf-8")
        file.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        )
        handlers.append(file)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers = handlers
    root.setLevel(logging.INFO)
    captured = warnings.showwarning.__module__ == "logging"  # reelops.notices.init
    logging.captureWarnings(True)
    printed = logging.getLogger("reelops.run.output")
    try:
        with (
            contextlib.redirect_stdout(_LogWriter(printed, logging.INFO)),
            contextlib.redirect_stderr(_LogWriter(printed, logging.INFO)),
        ):
            yield path
    finally:
        logging.captureWarnings(captured)
        for handler in handlers:
            handler.close()
        root.handlers, level = saved
        root.setLevel(level)


def stage_of_nodes(pipelines: dict[str, Any], names: set[str]) -> dict[str, str]:
    """The stage of each node in ``names``: the smallest pipeline holding it.

    A pipeline file's nodes are in its own pipeline and in every pipeline that
    includes it, so the smallest one holding a node is the file that declares it.
    ``__default__`` is never a stage.
    """
    members = {
        name: {node.name for node in pipe.nodes}
        for name, pipe in pipelines.items()
        if name != "__default__"
    }
    stages = {}
    for node_name in names:
        holding = [name for name, nodes in members.items() if node_name in nodes]
        stages[node_name] = min(holding, key=lambda n: (len(members[n]), n), default="")
    return stages


@dataclass
class _Stage:
    total: int
    done: int = 0
    started: float | None = None


@dataclass(eq=False)  # hooks are registered by identity: hashable
class ProgressHook:
    """Log one progress record per task, and one when a stage's last task ends.

    A task's time runs from the load of its first input to the save of its last
    output, so the task times of a run add up to its wall time. Over the same span,
    the process's peak resident size (Linux, :func:`~reelops.memory.peak_rss`) goes
    to the log file: ``peak RSS <task> <GiB> GiB`` (the kedro process's alone;
    under a parallel runner, spans overlap).
    """

    _stages: dict[str, _Stage] = field(default_factory=dict)
    _stage_of: dict[str, str] = field(default_factory=dict)
    _started: dict[str, float] = field(default_factory=dict)
    _saved: dict[str, int] = field(default_factory=dict)
    _total: int = 0
    _done: int = 0
    _run_started: float = 0.0
    _peak_reset: bool = False

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any) -> None:
        """Count the tasks and find each one's stage."""
        from kedro.framework.project import pipelines

        names = {node.name for node in pipeline.nodes}
        try:
            self._stage_of = stage_of_nodes(dict(pipelines), names)
        except Exception:  # a registry that cannot load: stages stay unnamed
            self._stage_of = {}
        self._stages, self._started, self._saved = {}, {}, {}
        for name in names:
            stage = self._stage_of.get(name, "")
            self._stages.setdefault(stage, _Stage(total=0)).total += 1
        self._total, self._done = len(names), 0
        self._run_started = time.monotonic()
        chosen = "+".join(run_params.get("pipeline_names") or ["__default__"])
        logger.info(
            "kedro run: pipeline %s, env %s, %d tasks",
            chosen,
            run_params.get("env") or "local",
            self._total,
        )

    def _start(self, node: Any) -> None:
        if node.name in self._started:
            return
        now = time.monotonic()
        self._started[node.name] = now
        self._peak_reset = reset_peak_rss()
        stage = self._stages.get(self._stage_of.get(node.name, ""))
        if stage is not None and stage.started is None:
            stage.started = now
        logger.info(
            "[%*d/%d] %s  %s ...",
            len(str(self._total)),
            self._done + 1,
            self._total,
            self._stage_of.get(node.name, ""),
            node.name,
            extra={"progress": "running"},
        )

    def _finish(self, node: Any) -> None:
        now = time.monotonic()
        self._done += 1
        name = self._stage_of.get(node.name, "")
        logger.info(
            "[%*d/%d] %-17s %-44s %5.1f s",
            len(str(self._total)),
            self._done,
            self._total,
            name,
            node.name,
            now - self._started.get(node.name, now),
            extra={"progress": "task"},
        )
        peak = peak_rss() if self._peak_reset else None
        if peak is not None:
            logging.getLogger(MEMORY_LOGGER).info(
                "peak RSS %s %.3f GiB", node.name, peak / 2**30
            )
        stage = self._stages.get(name)
        if stage is None:
            return
        stage.done += 1
        if stage.done == stage.total and name:
            logger.info(
                "%-17s %3d tasks  %6.1f s",
                name,
                stage.total,
                now - (stage.started or now),
                extra={"progress": "stage"},
            )

    @hook_impl
    def before_dataset_loaded(self, node: Any) -> None:
        """A task starts with the load of its first input."""
        self._start(node)

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """... or when it runs, if it has no inputs."""
        self._start(node)

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        """A task with no outputs ends when it has run."""
        if not node.outputs:
            self._finish(node)

    @hook_impl
    def after_dataset_saved(self, node: Any) -> None:
        """... any other when its last output is saved."""
        self._saved[node.name] = self._saved.get(node.name, 0) + 1
        if self._saved[node.name] == len(node.outputs):
            self._finish(node)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """The closing line."""
        logger.info(
            "done: %d tasks in %.1f s",
            self._done,
            time.monotonic() - self._run_started,
        )
