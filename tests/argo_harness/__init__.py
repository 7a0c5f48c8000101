"""A local Argo harness: run a compiled WorkflowTemplate the way Argo would, minus pods.

README
======

What it is
----------
A test harness, not a product feature. :class:`~tests.argo_harness.executor.LocalArgo`
reads a WorkflowTemplate written by ``kedro argo compile`` (``argo/<env>/*.yaml``)
and executes it on this machine: every DAG task's container command runs as a
subprocess, each in a fresh copy of the project, talking to an S3-compatible
server (``moto_server``, :class:`~tests.argo_harness.object_store.S3Server`) and
a real ``mlflow server`` on 127.0.0.1. It answers "does this manifest, as
committed, really run?" without Docker, Kubernetes or Argo.

How Argo semantics are mapped
-----------------------------
* **DAG.** The ``spec.entrypoint`` DAG's tasks run in dependency order (Kahn's
  algorithm, ties in manifest order), one at a time.
* **Fail fast.** Like Argo's default ``failFast``, the first task that fails stops
  the scheduling of every later task (listed in ``WorkflowRun.not_run``); then the
  ``onExit`` handler runs with ``{{workflow.status}}`` = ``Failed`` (non-zero exit
  or deadline) or ``Error`` (outputs unreadable), else ``Succeeded``. A failing
  exit handler fails a workflow that had succeeded. ``submit(check=True)`` then
  raises ``WorkflowFailedError`` naming the task, with the tail of its log.
* **Parameters.** ``{{workflow.parameters.X}}`` come from ``spec.arguments``
  defaults, overridden by ``submit(parameters=...)`` (``argo submit -p``); a
  parameter with no value and no override is an error, as in Argo.
  ``{{inputs.parameters.X}}`` come from the task's ``arguments`` (or the input's
  default), themselves substituted in DAG scope, where
  ``{{tasks.T.outputs.parameters.P}}`` is visible only when ``T`` is a transitive
  dependency, and ``{{workflow.outputs.parameters.G}}`` once a ``globalName``
  output was produced. ``{{workflow.name}}`` (``<template>-<5 chars>`` like
  ``generateName``, or given), ``{{workflow.namespace}}``, and, in the exit
  handler only, ``{{workflow.status}}``. Every reference of the tasks to run is
  checked before the first pod starts; an unknown one is an error naming the
  task (Argo rejects such a workflow at submission). Values are inserted verbatim
  (block-YAML lists keep their newlines inside one argv element, as in a pod).
* **Pods.** A pod is ``<work_dir>/<workflow>/<task>/``: ``rootfs/`` is its
  private filesystem and ``main.log`` its interleaved stdout/stderr. The
  container's ``workingDir`` (``/app``) is ``rootfs/app``, a FRESH project written
  by ``project_factory``: no local file survives from one task to the next, so
  data can only cross tasks through the catalog's remote datasets, as on a
  cluster. The tests copy an "image" built once per session: a scratch project
  made by ``tests.conftest.make_project`` plus a frozen, byte-compiled copy of
  the workspace packages in ``/app/.site`` (on ``PYTHONPATH``, like the image's
  non-editable install), so every pod, and the local twin run, runs the same
  code and config even while the checkout is being edited. ``command`` +
  ``args`` run with the image's ``bin`` (the venv) first on ``PATH``.
* **Container paths.** The container's ``/tmp`` is ``rootfs/tmp`` (exported as
  ``TMPDIR``). A whole argument or env value that is, or starts with, ``/tmp``,
  the ``workingDir`` or an output parameter's ``valueFrom.path`` is rewritten
  into ``rootfs``; so
  ``kedro argo init-run --output /tmp/kedro-hera/mlflow-run-id`` writes
  ``rootfs/tmp/kedro-hera/mlflow-run-id``, which the harness reads back (trailing
  newline stripped) as the output parameter. A missing file is an ``Error``.
* **Environment.** Layered like a pod's: a minimal base (``PATH``, ``LANG``,
  ``TMPDIR``, a per-pod ``HOME`` that does not exist, as for the image's user),
  then ``image_env`` (the Dockerfile's ``ENV``), then the manifest's ``env``
  (``secretKeyRef`` values from ``secrets``, a missing one is an error), then
  ``cluster_env`` (object-store endpoint and credentials, tracking URI,
  ``REELOPS_DATA_ROOT``), which wins. Nothing else of the test process leaks in.
  NB: in Kubernetes an ``envFrom`` config map does NOT override an explicit
  ``env`` entry; ``cluster_env`` stands for a mutating admission policy or a
  changed ``argo.yml``, not for a config map.
* **Deadline.** ``spec.activeDeadlineSeconds`` bounds the whole DAG (a pod still
  running then is killed and Failed); ``LocalArgo(timeout=...)`` bounds each pod.

Limits (what it does not do)
----------------------------
* No pods, images or Kubernetes: the image is the local venv (third-party
  packages) plus a snapshot of the checkout, so a stale image or a file missing
  from the Dockerfile's ``COPY`` list goes unnoticed. ``image``, ``imagePullPolicy``,
  ``serviceAccountName``, ``nodeSelector``, ``tolerations`` are ignored.
* Argo's own ``ARGO_*`` variables of the main container are not set.
* No resource requests or limits (no OOMKilled), no ``podGC``/``ttlStrategy``,
  no ``workflowMetadata``, no real user or filesystem permissions (runs as the
  test user).
* Sequential: independent tasks do not run concurrently, so races between
  parallel tasks (e.g. two pods writing the same object) are not exercised.
* No retries: ``retryStrategy`` is not applied (Argo retries only ``Error``
  nodes, which the harness rarely produces).
* Only what kedro-hera emits: a DAG entrypoint of container templates, container
  exit handler, ``valueFrom.path`` outputs; no steps, scripts, artifacts,
  ``when``, ``withItems``, expression tags (``{{=...}}``) or memoization; unknown
  shapes raise ``ManifestError``. Overrides of undeclared parameters are refused
  (Argo would carry them unused).
* ``submit(targets=[...])`` (run some tasks and their dependencies) has no Argo
  equivalent; it keeps tests that need only the first tasks cheap.
"""

from tests.argo_harness.errors import (
    HarnessError,
    ManifestError,
    UnresolvedVariableError,
    WorkflowFailedError,
)
from tests.argo_harness.executor import LocalArgo, TaskRun, WorkflowRun
from tests.argo_harness.manifest import WorkflowTemplate, load_workflow_template
from tests.argo_harness.object_store import S3Server

__all__ = [
    "HarnessError",
    "LocalArgo",
    "ManifestError",
    "S3Server",
    "TaskRun",
    "UnresolvedVariableError",
    "WorkflowFailedError",
    "WorkflowRun",
    "WorkflowTemplate",
    "load_workflow_template",
]
