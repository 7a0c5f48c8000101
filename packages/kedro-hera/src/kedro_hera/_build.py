"""Pure construction of Hera objects from a task plan and an env's config.

Nothing here reads or writes files, the network or the clock: the same inputs give
equal objects, hence byte-identical YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hera.workflows import (
    DAG,
    Container,
    CronWorkflow,
    Env,
    Parameter,
    Resource,
    RetryStrategy,
    SecretEnv,
    Task,
    Workflow,
    WorkflowTemplate,
)
from hera.workflows.metrics import Counter, Gauge, Label
from hera.workflows.models import (
    Backoff,
    DAGTask,
    IntOrString,
    PodGC,
    ResourceRequirements,
    Toleration,
    TTLStrategy,
    ValueFrom,
    WorkflowMetadata,
    WorkflowTemplateRef,
)

from kedro_hera._names import dns_label, label_value
from kedro_hera.parameters import params_option
from kedro_hera.resources import task_pod_settings
from kedro_hera.security import (
    container_security_context,
    empty_dir_volumes,
    pod_security_context,
    volume_mounts,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from kedro_hera.config import (
        ArgoConfig,
        CheckMetricConfig,
        ResourcesConfig,
        ScheduleConfig,
        TolerationConfig,
    )
    from kedro_hera.grouping import TaskGroup, TaskPlan
    from kedro_hera.parameters import ParameterSpec

__all__ = [
    "CHECK_TASK",
    "ENTRYPOINT",
    "EXIT_TEMPLATE",
    "IMAGE_ANNOTATION",
    "INIT_TASK",
    "RESERVED_NAMES",
    "RETRY_EXPRESSION",
    "RUN_ID_PARAMETER",
    "RUN_ID_PATH",
    "WORKFLOW_FAILED",
    "WORKFLOW_SUCCEEDED",
    "BuildInfo",
    "PipelineSpec",
    "build_cron_workflow",
    "build_workflow_template",
    "cron_workflow_name",
    "image_reference",
    "workflow_template_name",
]

ENTRYPOINT = "main"
INIT_TASK = "init-run"
EXIT_TEMPLATE = "exit-handler"
RESERVED_NAMES = (ENTRYPOINT, INIT_TASK, EXIT_TEMPLATE)
RUN_ID_PARAMETER = "mlflow-run-id"
RUN_ID_PATH = "/tmp/kedro-hera/mlflow-run-id"  # noqa: S108 - a path inside the pod
RETRY_EXPRESSION = (
    'lastRetry.status == "Error" && !(lastRetry.message matches "OOMKilled")'
)
CHECK_TASK = "check"
#: Resource-template conditions on a created Workflow (Argo's workflow-of-workflows).
WORKFLOW_SUCCEEDED = "status.phase == Succeeded"
WORKFLOW_FAILED = "status.phase in (Failed, Error)"
MANAGED_BY = "kedro-hera"
LABEL_PREFIX = "kedro-hera/"
#: Annotation of every template and cron naming the image its tasks run.
IMAGE_ANNOTATION = f"{LABEL_PREFIX}image"


@dataclass(frozen=True)
class BuildInfo:
    """What the manifests name besides the project: the image they run.

    Nothing here depends on the commit alone, so recompiling an unchanged project
    after a commit gives the same bytes (unless the tag is the git SHA).

    Attributes:
        image_tag: Tag of the image every task runs.
    """

    image_tag: str


@dataclass(frozen=True)
class PipelineSpec:
    """Everything needed to build the WorkflowTemplate of one pipeline.

    Attributes:
        package_name: The Kedro project's package.
        env: Kedro environment.
        pipeline_name: Registered pipeline name.
        plan: Tasks of the pipeline.
        parameters: Every parameter the pipeline reads.
        task_parameters: Parameters each task reads, by task name.
        experiment_name: MLflow experiment of the workflow run.
    """

    package_name: str
    env: str
    pipeline_name: str
    plan: TaskPlan
    parameters: tuple[ParameterSpec, ...]
    task_parameters: Mapping[str, tuple[ParameterSpec, ...]]
    experiment_name: str


def _prefix(config: ArgoConfig, package_name: str) -> str:
    return config.name_prefix or package_name


def workflow_template_name(config: ArgoConfig, package_name: str, pipeline: str) -> str:
    """Name of the WorkflowTemplate of a pipeline (a DNS-1123 label).

    Args:
        config: The env's config.
        package_name: The Kedro project's package.
        pipeline: Pipeline name.

    Returns:
        ``<name_prefix or package>-<pipeline>`` as a DNS-1123 label.
    """
    return dns_label(f"{_prefix(config, package_name)}-{pipeline}")


def cron_workflow_name(config: ArgoConfig, package_name: str, schedule: str) -> str:
    """Name of the CronWorkflow of a schedule (a DNS-1123 label).

    Args:
        config: The env's config.
        package_name: The Kedro project's package.
        schedule: Schedule name.

    Returns:
        ``<name_prefix or package>-<schedule>`` as a DNS-1123 label.
    """
    return dns_label(f"{_prefix(config, package_name)}-{schedule}", max_length=52)


def image_reference(config: ArgoConfig, build: BuildInfo) -> str:
    """Return ``repository:tag`` of the task image.

    Args:
        config: The env's config.
        build: Provenance holding the resolved tag.

    Returns:
        The image reference.
    """
    return f"{config.image.repository}:{build.image_tag}"


def _labels(package: str, env: str, pipeline: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": label_value(package),
        f"{LABEL_PREFIX}env": label_value(env),
        f"{LABEL_PREFIX}pipeline": label_value(pipeline),
    }


def _annotations(env: str, pipeline: str, image: str) -> dict[str, str]:
    return {
        f"{LABEL_PREFIX}env": env,
        f"{LABEL_PREFIX}generated-by": "kedro argo compile",
        IMAGE_ANNOTATION: image,
        f"{LABEL_PREFIX}pipeline": pipeline,
    }


def _resources(resources: ResourcesConfig) -> ResourceRequirements | None:
    requests = resources.requests.model_dump(exclude_none=True)
    limits = resources.limits.model_dump(exclude_none=True)
    if not requests and not limits:
        return None
    return ResourceRequirements(
        requests=dict(sorted(requests.items())) or None,
        limits=dict(sorted(limits.items())) or None,
    )


def _tolerations(tolerations: Sequence[TolerationConfig]) -> list[Toleration] | None:
    if not tolerations:
        return None
    return [
        Toleration(
            key=t.key,
            operator=t.operator,
            value=t.value,
            effect=t.effect,
            toleration_seconds=t.toleration_seconds,
        )
        for t in tolerations
    ]


def _retry(config: ArgoConfig) -> RetryStrategy | None:
    retry = config.retry
    if retry.limit == 0:
        return None
    return RetryStrategy(
        # The Argo schema types IntOrString fields as strings.
        limit=str(retry.limit),
        retry_policy="OnError",
        expression=RETRY_EXPRESSION,
        backoff=Backoff(
            duration=retry.backoff_duration,
            factor=IntOrString(root=str(retry.backoff_factor)),
            max_duration=retry.backoff_max_duration,
        ),
    )


def _env(config: ArgoConfig, *, run_id: bool) -> list[Env | SecretEnv]:
    plain = dict(config.env_vars)
    if config.mlflow.enabled and config.mlflow.tracking_uri:
        plain["MLFLOW_TRACKING_URI"] = config.mlflow.tracking_uri
    env: list[Env | SecretEnv] = [
        Env(name=name, value=value) for name, value in sorted(plain.items())
    ]
    env.extend(
        SecretEnv(
            name=name,
            secret_name=ref.secret,
            secret_key=ref.key,
            optional=ref.optional or None,
        )
        for name, ref in sorted(config.secret_env_vars.items())
    )
    if run_id:
        env.append(
            Env(
                name="MLFLOW_RUN_ID",
                value=f"{{{{inputs.parameters.{RUN_ID_PARAMETER}}}}}",
            )
        )
    return env


def _task_args(spec: PipelineSpec, task: TaskGroup) -> list[str]:
    args = ["run", "--env", spec.env, "--pipelines", spec.pipeline_name]
    if task.whole_namespace:
        args += ["--namespaces", task.key]
    else:
        args += ["--nodes", ",".join(task.nodes)]
    params = spec.task_parameters.get(task.task_name, ())
    if params:
        args += ["--params", params_option(params)]
    return args


def _group_container(
    spec: PipelineSpec, task: TaskGroup, config: ArgoConfig, image: str
) -> Container:
    settings = task_pod_settings(task, config)
    mlflow = config.mlflow.enabled
    return Container(
        name=task.task_name,
        image=image,
        image_pull_policy=config.image.pull_policy,
        command=list(config.kedro_command),
        args=_task_args(spec, task),
        working_dir=config.working_dir,
        env=_env(config, run_id=mlflow),
        inputs=[Parameter(name=RUN_ID_PARAMETER)] if mlflow else None,
        resources=_resources(settings.resources),
        retry_strategy=_retry(config),
        node_selector=settings.node_selector,
        tolerations=_tolerations(settings.tolerations or ()),
        labels={f"{LABEL_PREFIX}task": task.task_name},
        annotations={f"{LABEL_PREFIX}nodes": ",".join(task.nodes)},
        **_container_security(config),
    )


def _utility_container(
    name: str, command: list[str], config: ArgoConfig, image: str, **extra: Any
) -> Container:
    return Container(
        name=name,
        image=image,
        image_pull_policy=config.image.pull_policy,
        command=command,
        working_dir=config.working_dir,
        env=_env(config, run_id=False),
        resources=_resources(config.mlflow.resources),
        retry_strategy=_retry(config),
        labels={f"{LABEL_PREFIX}task": name},
        **_container_security(config),
        **extra,
    )


def _container_security(config: ArgoConfig) -> dict[str, Any]:
    """Security context and scratch mounts of every container kedro-hera emits."""
    return {
        "security_context": container_security_context(
            config.security_context.container
        ),
        "volume_mounts": volume_mounts(config.empty_dirs),
    }


def _init_command(spec: PipelineSpec, config: ArgoConfig, image: str) -> list[str]:
    if config.mlflow.init_command:
        return list(config.mlflow.init_command)
    return [
        *config.kedro_command,
        "argo",
        "init-run",
        "--experiment",
        spec.experiment_name,
        "--workflow-name",
        "{{workflow.name}}",
        "--output",
        RUN_ID_PATH,
        "--tag",
        f"kedro-hera.env={spec.env}",
        "--tag",
        f"kedro-hera.image={image}",
        "--tag",
        f"kedro-hera.pipeline={spec.pipeline_name}",
    ]


def _exit_command(spec: PipelineSpec, config: ArgoConfig) -> list[str] | None:
    if not config.exit_handler.enabled:
        return None
    if config.exit_handler.command:
        return list(config.exit_handler.command)
    if not config.mlflow.enabled:
        return None
    return [
        *config.kedro_command,
        "argo",
        "end-run",
        "--experiment",
        spec.experiment_name,
        "--workflow-name",
        "{{workflow.name}}",
        "--status",
        "{{workflow.status}}",
    ]


def _dag(spec: PipelineSpec, config: ArgoConfig) -> DAG:
    mlflow = config.mlflow.enabled
    tasks: list[Task | DAGTask] = []
    if mlflow:
        tasks.append(Task(name=INIT_TASK, template=INIT_TASK))
    run_id = f"{{{{tasks.{INIT_TASK}.outputs.parameters.{RUN_ID_PARAMETER}}}}}"
    for task in spec.plan.tasks:
        dependencies = list(task.dependencies) or ([INIT_TASK] if mlflow else [])
        tasks.append(
            Task(
                name=task.task_name,
                template=task.task_name,
                dependencies=dependencies or None,
                arguments=[Parameter(name=RUN_ID_PARAMETER, value=run_id)]
                if mlflow
                else None,
            )
        )
    return DAG(name=ENTRYPOINT, tasks=tasks)


def _workflow_level(config: ArgoConfig) -> dict[str, Any]:
    ttl = config.ttl
    ttl_fields = ttl.model_dump(exclude_none=True)
    return {
        "service_account_name": config.service_account,
        "image_pull_secrets": list(config.image.pull_secrets) or None,
        "pod_gc": PodGC(
            strategy=config.pod_gc.strategy,
            delete_delay_duration=config.pod_gc.delete_delay_duration,
        ),
        "ttl_strategy": TTLStrategy(
            seconds_after_completion=ttl.seconds_after_completion,
            seconds_after_success=ttl.seconds_after_success,
            seconds_after_failure=ttl.seconds_after_failure,
        )
        if ttl_fields
        else None,
        "node_selector": dict(sorted(config.node_selector.items())) or None,
        "tolerations": _tolerations(config.tolerations),
        "active_deadline_seconds": config.active_deadline_seconds,
        "parallelism": config.parallelism,
        "security_context": pod_security_context(config.security_context.pod),
        "volumes": empty_dir_volumes(config.empty_dirs),
    }


def build_workflow_template(
    spec: PipelineSpec, config: ArgoConfig, build: BuildInfo
) -> WorkflowTemplate:
    """Build the WorkflowTemplate of one pipeline.

    Args:
        spec: The pipeline's tasks and parameters.
        config: The env's config.
        build: The image tag.

    Returns:
        The Hera WorkflowTemplate.
    """
    image = image_reference(config, build)
    labels = _labels(spec.package_name, spec.env, spec.pipeline_name)
    templates: list[Any] = [_dag(spec, config)]
    if config.mlflow.enabled:
        init_command = _init_command(spec, config, image)
        templates.append(
            _utility_container(
                INIT_TASK,
                init_command,
                config,
                image,
                outputs=[
                    Parameter(
                        name=RUN_ID_PARAMETER,
                        value_from=ValueFrom(path=RUN_ID_PATH),
                        global_name=RUN_ID_PARAMETER,
                    )
                ],
            )
        )
    exit_command = _exit_command(spec, config)
    if exit_command:
        templates.append(_utility_container(EXIT_TEMPLATE, exit_command, config, image))
    templates.extend(
        _group_container(spec, task, config, image) for task in spec.plan.tasks
    )
    return WorkflowTemplate(
        name=workflow_template_name(config, spec.package_name, spec.pipeline_name),
        namespace=config.namespace,
        labels=labels,
        annotations=_annotations(spec.env, spec.pipeline_name, image),
        entrypoint=ENTRYPOINT,
        on_exit=EXIT_TEMPLATE if exit_command else None,
        arguments=[
            Parameter(name=p.argo_name, value=p.encoded, description=p.description)
            for p in spec.parameters
        ]
        or None,
        workflow_metadata=WorkflowMetadata(labels=labels),
        templates=templates,
        **_workflow_level(config),
    )


def _workflow_manifest(
    config: ArgoConfig,
    package_name: str,
    pipeline: str,
    overrides: Sequence[tuple[str, str]],
    labels: Mapping[str, str],
) -> str:
    """A Workflow that runs a pipeline's WorkflowTemplate, as a resource manifest."""
    template = workflow_template_name(config, package_name, pipeline)
    workflow = Workflow(
        generate_name=f"{template}-",
        namespace=config.namespace,
        labels=dict(labels),
        workflow_template_ref=WorkflowTemplateRef(name=template),
        arguments=[Parameter(name=name, value=value) for name, value in overrides]
        or None,
    )
    return workflow.to_yaml(width=1_000_000)


def _check_metrics(metric: CheckMetricConfig, schedule: str) -> list[Any]:
    """The check template's metrics: a 1/0 gauge per result, a counter of runs.

    Argo computes them when the check's node completes; each gauge of a result
    is set on every successful run (1 if printed, else 0), so none goes stale.
    """
    common = [
        Label(key="schedule", value=schedule),
        Label(key="namespace", value="{{workflow.namespace}}"),
    ]
    succeeded = "'{{status}}' == 'Succeeded'"
    gauges = [
        Gauge(
            name=metric.name,
            help=metric.help,
            labels=[*common, Label(key="result", value=result)],
            when=f"{succeeded} && '{{{{outputs.result}}}}' {operator} '{result}'",
            value=value,
            realtime=False,
        )
        for result in metric.results
        for operator, value in (("==", "1"), ("!=", "0"))
    ]
    runs = Counter(
        name=f"{metric.name}_runs_total",
        help=f"Runs of the check that sets {metric.name}, by status.",
        labels=[*common, Label(key="status", value="{{status}}")],
        value="1",
    )
    return [*gauges, runs]


def _follow_up_templates(
    schedule: ScheduleConfig,
    overrides: Sequence[tuple[str, str]],
    then_overrides: Sequence[tuple[str, str]],
    config: ArgoConfig,
    build: BuildInfo,
    *,
    package_name: str,
    env: str,
) -> list[Any]:
    """Templates of a schedule with ``then``: run, check, conditional submit."""
    then = schedule.then
    if then is None:  # pragma: no cover - the caller checks
        return []
    image = image_reference(config, build)
    run_task = dns_label(f"run-{schedule.pipeline}")
    submit_task = dns_label(f"submit-{then.submit}")
    labels = {f"{LABEL_PREFIX}schedule": label_value(schedule.name)}
    check_env: list[Env | SecretEnv] = [
        *_env(config, run_id=False),
        Env(name="KEDRO_ENV", value=env),
    ]
    printed = f"'{{{{tasks.{CHECK_TASK}.outputs.result}}}}'"
    when = " || ".join(f"{printed} == '{value}'" for value in then.when)
    return [
        DAG(
            name=ENTRYPOINT,
            tasks=[
                Task(name=run_task, template=run_task),
                Task(name=CHECK_TASK, template=CHECK_TASK, dependencies=[run_task]),
                Task(
                    name=submit_task,
                    template=submit_task,
                    dependencies=[CHECK_TASK],
                    when=when,
                ),
            ],
        ),
        Resource(
            name=run_task,
            action="create",
            set_owner_reference=True,
            success_condition=WORKFLOW_SUCCEEDED,
            failure_condition=WORKFLOW_FAILED,
            manifest=_workflow_manifest(
                config, package_name, schedule.pipeline, overrides, labels
            ),
        ),
        Container(
            name=CHECK_TASK,
            image=image,
            image_pull_policy=config.image.pull_policy,
            command=list(then.check),
            working_dir=config.working_dir,
            env=check_env,
            resources=_resources(then.resources),
            retry_strategy=_retry(config),
            labels={f"{LABEL_PREFIX}task": CHECK_TASK},
            metrics=_check_metrics(then.metric, schedule.name) if then.metric else None,
            **_container_security(config),
        ),
        Resource(
            name=submit_task,
            action="create",
            success_condition=WORKFLOW_SUCCEEDED if then.wait else None,
            failure_condition=WORKFLOW_FAILED if then.wait else None,
            manifest=_workflow_manifest(
                config, package_name, then.submit, then_overrides, labels
            ),
        ),
    ]


def build_cron_workflow(
    schedule: ScheduleConfig,
    overrides: Sequence[tuple[str, str]],
    config: ArgoConfig,
    build: BuildInfo,
    *,
    package_name: str,
    env: str,
    then_overrides: Sequence[tuple[str, str]] = (),
) -> CronWorkflow:
    """Build the CronWorkflow of a schedule; it runs the pipeline's WorkflowTemplate.

    Without ``schedule.then`` the CronWorkflow references the template. With it,
    its workflow is a DAG: create the pipeline's workflow and wait for it to
    succeed (a resource template, owned by the cron's workflow), run the check
    command, and create the follow-up pipeline's workflow when the check's
    standard output equals ``then.when`` (one of its values). The service
    account needs ``create`` (the resource templates create the workflows) and
    ``get`` (Argo's executor polls a created workflow until a condition holds) on
    ``workflows.argoproj.io``.

    Args:
        schedule: The schedule from ``argo.yml``.
        overrides: ``(argo parameter name, encoded value)`` pairs to override.
        config: The env's config.
        build: The image tag.
        package_name: The Kedro project's package.
        env: Kedro environment.
        then_overrides: Overrides of the follow-up pipeline (``then.params``).

    Returns:
        The Hera CronWorkflow.
    """
    labels = _labels(package_name, env, schedule.pipeline)
    labels[f"{LABEL_PREFIX}schedule"] = schedule.name
    annotations = _annotations(env, schedule.pipeline, image_reference(config, build))
    common: dict[str, Any] = {
        "name": cron_workflow_name(config, package_name, schedule.name),
        "namespace": config.namespace,
        "labels": labels,
        "annotations": annotations,
        "schedules": list(schedule.cron),
        "timezone": schedule.timezone,
        "concurrency_policy": schedule.concurrency_policy,
        "cron_suspend": schedule.suspend or None,
        "starting_deadline_seconds": schedule.starting_deadline_seconds,
        "successful_jobs_history_limit": schedule.successful_jobs_history_limit,
        "failed_jobs_history_limit": schedule.failed_jobs_history_limit,
        "workflow_metadata": WorkflowMetadata(labels=labels),
    }
    if schedule.then is None:
        return CronWorkflow(
            **common,
            workflow_template_ref=WorkflowTemplateRef(
                name=workflow_template_name(config, package_name, schedule.pipeline)
            ),
            arguments=[Parameter(name=name, value=value) for name, value in overrides]
            or None,
        )
    return CronWorkflow(
        **common,
        entrypoint=ENTRYPOINT,
        templates=_follow_up_templates(
            schedule,
            overrides,
            then_overrides,
            config,
            build,
            package_name=package_name,
            env=env,
        ),
        **_workflow_level(config),
    )
