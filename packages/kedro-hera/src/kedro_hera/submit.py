"""Submission of a Workflow that runs a compiled WorkflowTemplate.

The submitted Workflow holds only a ``workflowTemplateRef`` and the overridden
parameters, so what runs is exactly what was compiled and committed. It is sent
through Hera's ``WorkflowsService``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from kedro_hera._names import PARAM_SEPARATOR, argo_parameter_name
from kedro_hera.errors import ParameterError, SubmitError
from kedro_hera.parameters import decode_value, encode_override

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from hera.workflows import Workflow, WorkflowsService

    from kedro_hera.config import ServerConfig

__all__ = [
    "TERMINAL_PHASES",
    "ServerSettings",
    "TemplateInfo",
    "build_submission",
    "read_template",
    "server_settings",
    "submit",
    "wait_for_workflow",
]

TERMINAL_PHASES = {"Succeeded", "Failed", "Error"}
GENERATE_NAME_MAX = 57


@dataclass(frozen=True)
class ServerSettings:
    """How to reach the Argo server.

    Attributes:
        host: URL with scheme, e.g. ``https://argo.example.com:2746``.
        namespace: Namespace to submit into.
        token: Bearer token, if any (only ever read from ``$ARGO_TOKEN``).
        verify_ssl: Verify the server certificate.
    """

    host: str
    namespace: str
    token: str | None
    verify_ssl: bool


def server_settings(
    server: ServerConfig,
    *,
    default_namespace: str,
    host: str | None = None,
    namespace: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ServerSettings:
    """Resolve the server settings like the ``argo`` CLI does.

    Precedence: command-line option, then ``ARGO_SERVER`` / ``ARGO_NAMESPACE``,
    then ``argo.yml``. A host without scheme gets ``https://`` unless
    ``ARGO_SECURE=false``; ``ARGO_INSECURE_SKIP_VERIFY=true`` disables certificate
    checks. The token only comes from ``ARGO_TOKEN``.

    Args:
        server: The ``server`` section of ``argo.yml``.
        default_namespace: Namespace of the compiled template.
        host: Host given on the command line.
        namespace: Namespace given on the command line.
        environ: Environment variables (defaults to ``os.environ``).

    Returns:
        The settings.

    Raises:
        SubmitError: When no host is configured.
    """
    env = os.environ if environ is None else environ
    resolved = host or env.get("ARGO_SERVER") or server.host
    if not resolved:
        msg = (
            "no Argo server configured; expected --server, $ARGO_SERVER or "
            "server.host in argo.yml"
        )
        raise SubmitError(msg)
    if not resolved.startswith(("http://", "https://")):
        secure = env.get("ARGO_SECURE", "true").lower() != "false"
        resolved = f"{'https' if secure else 'http'}://{resolved}"
    insecure = env.get("ARGO_INSECURE_SKIP_VERIFY", "false").lower() == "true"
    return ServerSettings(
        host=resolved.rstrip("/") + "/",
        namespace=namespace or env.get("ARGO_NAMESPACE") or default_namespace,
        token=env.get("ARGO_TOKEN") or None,
        verify_ssl=server.verify_ssl and not insecure,
    )


@dataclass(frozen=True)
class TemplateInfo:
    """What submission needs from a compiled WorkflowTemplate.

    Attributes:
        name: ``metadata.name``.
        namespace: ``metadata.namespace``.
        parameters: Default value of every parameter, by Argo name.
    """

    name: str
    namespace: str
    parameters: Mapping[str, str]


def read_template(path: Path) -> TemplateInfo:
    """Read a compiled WorkflowTemplate.

    Args:
        path: The manifest, e.g. ``argo/prod/training.yaml``.

    Returns:
        Its name, namespace and parameters.

    Raises:
        SubmitError: When the file is missing or not a WorkflowTemplate.
    """
    if not path.is_file():
        msg = f"'{path}' does not exist; run `kedro argo compile` first"
        raise SubmitError(msg)
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or document.get("kind") != "WorkflowTemplate":
        msg = f"'{path}' is not a WorkflowTemplate"
        raise SubmitError(msg)
    metadata = document.get("metadata") or {}
    arguments = (document.get("spec") or {}).get("arguments") or {}
    return TemplateInfo(
        name=str(metadata.get("name")),
        namespace=str(metadata.get("namespace") or ""),
        parameters={
            str(p["name"]): str(p.get("value", ""))
            for p in arguments.get("parameters", [])
        },
    )


def _overrides(template: TemplateInfo, params: Sequence[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for item in params:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            msg = f"--param '{item}' must look like key=value"
            raise SubmitError(msg)
        name = argo_parameter_name(key) if "." in key else key
        if name is None or name not in template.parameters:
            known = sorted(n.replace(PARAM_SEPARATOR, ".") for n in template.parameters)
            msg = (
                f"--param '{key}' is not a parameter of {template.name}; "
                f"expected one of {known}"
            )
            raise SubmitError(msg)
        dotted = name.replace(PARAM_SEPARATOR, ".")
        try:
            default = decode_value(template.parameters[name])
            overrides[name] = encode_override(dotted, text, default)
        except ParameterError as exc:
            raise SubmitError(str(exc)) from exc
    return overrides


def build_submission(
    template: TemplateInfo, params: Sequence[str], *, namespace: str
) -> Workflow:
    """Build the Workflow that runs a template with overridden parameters.

    Args:
        template: The compiled template.
        params: ``key=value`` overrides; keys are dotted Kedro keys or Argo names.
        namespace: Namespace to submit into.

    Returns:
        A Hera Workflow with a ``workflowTemplateRef`` and the overrides only.

    Raises:
        SubmitError: When an override names no parameter or has the wrong type.
    """
    from hera.workflows import Parameter, Workflow
    from hera.workflows.models import WorkflowTemplateRef

    overrides = _overrides(template, params)
    return Workflow(
        generate_name=f"{template.name[:GENERATE_NAME_MAX].rstrip('-')}-",
        namespace=namespace,
        workflow_template_ref=WorkflowTemplateRef(name=template.name),
        arguments=[Parameter(name=k, value=v) for k, v in sorted(overrides.items())]
        or None,
    )


def _service(settings: ServerSettings) -> WorkflowsService:
    from hera.workflows import WorkflowsService

    return WorkflowsService(
        host=settings.host,
        token=settings.token,
        namespace=settings.namespace,
        verify_ssl=settings.verify_ssl,
    )


def _call(action: str, func: Callable[[], Any]) -> Any:
    import requests
    from hera.exceptions import HeraException

    try:
        return func()
    except (HeraException, requests.RequestException) as exc:
        msg = f"{action} failed: {exc}".replace("\n", " ")
        raise SubmitError(msg) from exc


def submit(workflow: Workflow, settings: ServerSettings) -> str:
    """Create the workflow on the Argo server.

    Args:
        workflow: The workflow to create.
        settings: How to reach the server.

    Returns:
        The name the server gave the workflow.

    Raises:
        SubmitError: When the server refuses it or cannot be reached.
    """
    from hera.workflows.models import WorkflowCreateRequest

    service = _service(settings)
    request = WorkflowCreateRequest(workflow=workflow.build())
    created = _call(
        f"submitting to {settings.host}",
        lambda: service.create_workflow(request, namespace=settings.namespace),
    )
    return str(created.metadata.name)


def wait_for_workflow(
    name: str,
    settings: ServerSettings,
    *,
    poll_interval: float = 10.0,
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll a workflow until it finishes.

    Args:
        name: Workflow name.
        settings: How to reach the server.
        poll_interval: Seconds between polls.
        timeout: Give up after this many seconds (None: never).
        sleep: Sleep function (injectable for tests).
        clock: Monotonic clock (injectable for tests).

    Returns:
        ``Succeeded``.

    Raises:
        SubmitError: When the workflow fails or errors, or the timeout passes.
    """
    service = _service(settings)
    deadline = None if timeout is None else clock() + timeout
    while True:
        workflow = _call(
            f"reading workflow {name}",
            lambda: service.get_workflow(name, namespace=settings.namespace),
        )
        status = workflow.status
        phase = getattr(status, "phase", None) or "Pending"
        if phase == "Succeeded":
            return phase
        if phase in TERMINAL_PHASES:
            message = getattr(status, "message", None) or "no message"
            msg = f"workflow {name} finished with phase {phase}: {message}"
            raise SubmitError(msg)
        if deadline is not None and clock() >= deadline:
            msg = f"workflow {name} still {phase} after {timeout:g}s; stopped waiting"
            raise SubmitError(msg)
        sleep(poll_interval)
