"""Execute a WorkflowTemplate like the Argo controller, one subprocess per pod.

:class:`LocalArgo` is the stand-in for the cluster: it is told which project a
pod's image holds (``project_factory``), the image's environment and the env
vars a cluster injects (object store, tracking server), then ``submit`` runs a
template's DAG and its exit handler and returns a :class:`WorkflowRun`.
"""

from __future__ import annotations

import os
import signal
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from secrets import choice
from typing import TYPE_CHECKING

from tests.argo_harness.errors import (
    HarnessError,
    UnresolvedVariableError,
    WorkflowFailedError,
)
from tests.argo_harness.variables import (
    input_scope,
    resolve_workflow_parameters,
    substitute,
    validate_exit_handler,
    validate_references,
    workflow_scope,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from tests.argo_harness.manifest import Container, WorkflowTemplate

__all__ = ["LocalArgo", "TaskRun", "WorkflowRun"]

SUCCEEDED, FAILED, ERROR = "Succeeded", "Failed", "Error"
DEFAULT_WORKING_DIR = "/app"
CONTAINER_TMP = "/tmp"  # the container's /tmp, mapped into each pod's rootfs


@dataclass(frozen=True)
class TaskRun:
    """One pod: what ran, where, and how it ended.

    Attributes:
        name: Task (or exit-handler template) name.
        template: Container template it ran.
        phase: ``Succeeded``, ``Failed`` (non-zero exit, deadline) or ``Error``
            (the pod could not start or its outputs could not be read).
        message: Argo-like node message, empty on success.
        argv: The command line after substitution and path mapping.
        env: The pod's full environment.
        rootfs: The pod's private filesystem root (``/tmp``, working dir...).
        project_dir: The fresh project the pod ran in (its ``workingDir``).
        outputs: Output parameters read back from the pod's files.
        seconds: Wall time of the process.
    """

    name: str
    template: str
    phase: str
    message: str
    argv: tuple[str, ...]
    env: dict[str, str]
    rootfs: Path
    project_dir: Path
    outputs: dict[str, str]
    seconds: float

    @property
    def log(self) -> str:
        """Stdout and stderr of the pod, interleaved (``kubectl logs``)."""
        path = self.rootfs.parent / "main.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass(frozen=True)
class WorkflowRun:
    """The outcome of one submitted workflow.

    Attributes:
        name: Workflow name (``{{workflow.name}}``).
        status: ``Succeeded``, ``Failed`` or ``Error`` (``{{workflow.status}}``).
        parameters: Resolved workflow parameters.
        tasks: Tasks that ran, in execution order.
        not_run: Tasks never started because an earlier one failed.
        exit_handler: The ``onExit`` pod, if the template has one.
        seconds: Wall time of the whole workflow, exit handler included.
        failed: The task that stopped the workflow, if one did.
    """

    name: str
    status: str
    parameters: dict[str, str]
    tasks: dict[str, TaskRun]
    not_run: tuple[str, ...]
    exit_handler: TaskRun | None
    seconds: float
    failed: TaskRun | None

    def raise_for_status(self) -> None:
        """Raise :class:`WorkflowFailedError` naming the failed pod, if any.

        Raises:
            WorkflowFailedError: When the workflow did not succeed.
        """
        if self.status == SUCCEEDED:
            return
        culprit = self.failed or self.exit_handler
        if culprit is None:  # pragma: no cover - a failed run always has a pod
            msg = f"workflow '{self.name}' {self.status}"
            raise WorkflowFailedError(msg)
        tail = "\n".join(culprit.log.splitlines()[-40:])
        msg = (
            f"workflow '{self.name}' {self.status}: task '{culprit.name}' "
            f"{culprit.message}; not run: {list(self.not_run)}\n"
            f"--- last lines of {culprit.name}'s log\n{tail}"
        )
        raise WorkflowFailedError(msg)

    def timings(self) -> str:
        """One line per pod with its phase and wall time."""
        pods = [*self.tasks.values()]
        if self.exit_handler is not None:
            pods.append(self.exit_handler)
        lines = [f"{p.name:<14} {p.phase:<10} {p.seconds:7.1f} s" for p in pods]
        return "\n".join([*lines, f"{'total':<25} {self.seconds:7.1f} s"])


def _suffix() -> str:
    """Five random lowercase characters, like Argo's ``generateName``."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(choice(alphabet) for _ in range(5))


class LocalArgo:
    """A one-node Argo: runs each pod of a workflow as a local subprocess.

    Args:
        work_dir: Where pods get their private directories
            (``<work_dir>/<workflow>/<pod>/rootfs``).
        project_factory: Writes a fresh copy of the image's project into the
            given directory (the pod's ``workingDir``) and returns it.
        bin_dir: The image's ``bin`` directory, first on ``PATH`` (the venv).
        image_env: The image's ``ENV`` (the Dockerfile's), under the pod env.
        cluster_env: What the cluster injects over the pod env (object-store and
            tracking endpoints, credentials); it wins over the manifest's env.
        secrets: Kubernetes secrets by ``(secret, key)`` for ``secretKeyRef``.
        timeout: Upper bound of one pod's run time, in seconds.
    """

    def __init__(
        self,
        *,
        work_dir: Path,
        project_factory: Callable[[Path], Path],
        bin_dir: Path,
        image_env: Mapping[str, str] | None = None,
        cluster_env: Mapping[str, str] | None = None,
        secrets: Mapping[tuple[str, str], str] | None = None,
        timeout: float = 900,
    ) -> None:
        self.work_dir = work_dir
        self.project_factory = project_factory
        self.bin_dir = bin_dir
        self.image_env = dict(image_env or {})
        self.cluster_env = dict(cluster_env or {})
        self.secrets = dict(secrets or {})
        self.timeout = timeout

    def submit(
        self,
        template: WorkflowTemplate,
        *,
        parameters: Mapping[str, str] | None = None,
        name: str | None = None,
        targets: Collection[str] | None = None,
        check: bool = True,
    ) -> WorkflowRun:
        """Run ``template`` to completion, then its exit handler.

        Args:
            template: The WorkflowTemplate.
            parameters: Workflow parameter overrides (``argo submit -p``).
            name: Workflow name; default ``<template>-<5 random chars>``.
            targets: Harness-only: run just these tasks and their dependencies.
            check: Raise :class:`WorkflowFailedError` unless it succeeded.

        Returns:
            The run, also when it failed and ``check`` is false.

        Raises:
            HarnessError: When parameters or references do not resolve (nothing
                runs then), or, with ``check``, when the workflow fails.
        """
        started = time.monotonic()
        name = name or f"{template.name}-{_suffix()}"
        values = resolve_workflow_parameters(template.parameters, parameters or {})
        scope = workflow_scope(
            name=name, namespace=template.namespace, parameters=values
        )
        tasks = template.subset(targets)
        validate_references(template, tasks, scope)
        pods = [template.containers[task.template] for task in tasks]
        if template.on_exit:
            validate_exit_handler(template, scope)
            pods.append(template.containers[template.on_exit])
        self._check_secrets(pods)
        deadline = started + (template.active_deadline_seconds or float("inf"))
        outputs: dict[str, str] = {}
        runs: dict[str, TaskRun] = {}
        failed: TaskRun | None = None
        for task in tasks:
            dag_scope = {**scope, **outputs}
            arguments = {
                key: substitute(value, dag_scope, where=f"task '{task.name}'")
                for key, value in task.arguments.items()
            }
            container = template.containers[task.template]
            run = self._run_pod(
                f"{name}/{task.name}",
                task.name,
                container,
                {**scope, **_globals(outputs)},
                arguments,
                deadline,
            )
            runs[task.name] = run
            if run.phase != SUCCEEDED:
                failed = run
                break
            for out in container.outputs:
                value = run.outputs[out.name]
                outputs[f"tasks.{task.name}.outputs.parameters.{out.name}"] = value
                if out.global_name:
                    outputs[f"workflow.outputs.parameters.{out.global_name}"] = value
        status = SUCCEEDED if failed is None else failed.phase
        exit_run = None
        if template.on_exit:
            exit_run = self._run_pod(
                f"{name}/{template.on_exit}",
                template.on_exit,
                template.containers[template.on_exit],
                {**scope, **_globals(outputs), "workflow.status": status},
                {},
                time.monotonic() + self.timeout,
            )
            if exit_run.phase != SUCCEEDED and status == SUCCEEDED:
                status = FAILED
        result = WorkflowRun(
            name=name,
            status=status,
            parameters=values,
            tasks=runs,
            not_run=tuple(t.name for t in tasks if t.name not in runs),
            exit_handler=exit_run,
            seconds=time.monotonic() - started,
            failed=failed,
        )
        if check:
            result.raise_for_status()
        return result

    def _check_secrets(self, containers: Collection[Container]) -> None:
        """Every ``secretKeyRef`` must exist, or no pod starts."""
        for container in containers:
            for var in container.env:
                if var.secret is not None and var.secret not in self.secrets:
                    secret, key = var.secret
                    msg = (
                        f"template '{container.name}': CreateContainerConfigError: "
                        f"couldn't find key {key} in Secret {secret}"
                    )
                    raise HarnessError(msg)

    def _pod_env(
        self,
        container: Container,
        scope: Mapping[str, str],
        where: str,
        rootfs: Path,
        mapped: Collection[str],
    ) -> dict[str, str]:
        """Image env, then the manifest's env, then what the cluster injects."""
        spec_env = dict(self.image_env)
        for var in container.env:
            spec_env[var.name] = (
                self.secrets[var.secret]
                if var.secret is not None
                else substitute(var.value or "", scope, where=where)
            )
        return {
            "PATH": os.pathsep.join(
                [str(self.bin_dir), "/usr/local/bin", "/usr/bin", "/bin"]
            ),
            # The image's user has no home directory: nothing may rely on one.
            "HOME": str(rootfs / "home" / "nobody"),
            "TMPDIR": str(rootfs / "tmp"),
            "LANG": "C.UTF-8",
            **{k: _in_rootfs(v, rootfs, mapped) for k, v in spec_env.items()},
            **self.cluster_env,
        }

    def _run_pod(
        self,
        pod: str,
        task: str,
        container: Container,
        scope: Mapping[str, str],
        arguments: Mapping[str, str],
        deadline: float,
    ) -> TaskRun:
        rootfs = self.work_dir / pod / "rootfs"
        (rootfs / "tmp").mkdir(parents=True)
        log_path = rootfs.parent / "main.log"
        where = f"task '{task}'"
        working_dir = container.working_dir or DEFAULT_WORKING_DIR
        mapped = (working_dir, *(out.path for out in container.outputs))
        try:
            pod_scope = {**scope, **input_scope(where, container, arguments)}
            argv = tuple(
                _in_rootfs(substitute(arg, pod_scope, where=where), rootfs, mapped)
                for arg in container.argv
            )
            env = self._pod_env(container, pod_scope, where, rootfs, mapped)
        except UnresolvedVariableError as exc:
            # E.g. a global output that a failed task never produced: Argo errors
            # the node without starting it.
            log_path.write_text(f"{exc}\n")
            return TaskRun(
                name=task,
                template=container.name,
                phase=ERROR,
                message=str(exc),
                argv=(),
                env={},
                rootfs=rootfs,
                project_dir=rootfs,
                outputs={},
                seconds=0.0,
            )
        project = self.project_factory(rootfs / working_dir.lstrip("/"))
        budget = min(deadline - time.monotonic(), self.timeout)
        started = time.monotonic()
        phase, message = _execute(argv, env, project, log_path, budget)
        outputs: dict[str, str] = {}
        for out in container.outputs if phase == SUCCEEDED else ():
            path = Path(_in_rootfs(out.path, rootfs, mapped))
            if not path.is_file():
                phase = ERROR
                message = f"output '{out.name}': open {out.path}: no such file"
                break
            outputs[out.name] = path.read_text().rstrip("\n")
        return TaskRun(
            name=task,
            template=container.name,
            phase=phase,
            message=message,
            argv=argv,
            env=env,
            rootfs=rootfs,
            project_dir=project,
            outputs=outputs,
            seconds=time.monotonic() - started,
        )


def _execute(
    argv: tuple[str, ...],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    budget: float,
) -> tuple[str, str]:
    """Run one container process; its phase and message."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=max(budget, 0))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return FAILED, f"exceeded its deadline of {budget:.0f} s"
    return (SUCCEEDED, "") if code == 0 else (FAILED, f"exited with code {code}")


def _globals(outputs: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in outputs.items() if k.startswith("workflow.")}


def _in_rootfs(text: str, rootfs: Path, paths: Collection[str]) -> str:
    """Map a container path into the pod's rootfs: ``/tmp``, the working dir or
    an output path, and what lies below them.

    Only whole values that are, or start with, such a path are mapped.
    """
    for prefix in (CONTAINER_TMP, *paths):
        if prefix.rstrip("/") and (
            text == prefix or text.startswith(prefix.rstrip("/") + "/")
        ):
            return str(rootfs / text.lstrip("/"))
    return text
