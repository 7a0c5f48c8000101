"""Pod security of every task: ``security_context`` and ``empty_dirs`` of argo.yml.

The models mirror the Kubernetes fields they set (in snake_case), and the builders
turn them into Hera models. ``security_context.pod`` becomes the workflow's
``spec.securityContext`` (every pod, resource templates included);
``security_context.container`` becomes the ``securityContext`` of every container
kedro-hera emits. A read-only root filesystem needs somewhere to write: each
``empty_dirs`` entry is an ``emptyDir`` volume of the workflow, mounted in every
container kedro-hera emits.
"""

from __future__ import annotations

import posixpath
from typing import Literal

from hera.workflows.models import (
    Capabilities,
    EmptyDirVolumeSource,
    PodSecurityContext,
    Quantity,
    SeccompProfile,
    SecurityContext,
    Volume,
    VolumeMount,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kedro_hera._names import is_dns_label
from kedro_hera._quantity import check_memory

__all__ = [
    "CapabilitiesConfig",
    "ContainerSecurityConfig",
    "EmptyDirConfig",
    "PodSecurityConfig",
    "SeccompProfileConfig",
    "SecurityContextConfig",
    "container_security_context",
    "empty_dir_volumes",
    "pod_security_context",
    "volume_mounts",
]


class _Model(BaseModel):
    """Unknown keys are errors; values are frozen (as in :mod:`kedro_hera.config`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SeccompProfileConfig(_Model):
    """A seccomp profile (``seccompProfile``)."""

    type: Literal["RuntimeDefault", "Localhost", "Unconfined"]
    localhost_profile: str | None = Field(
        default=None, description="Profile file on the node; only with Localhost."
    )

    @model_validator(mode="after")
    def _localhost_needs_a_profile(self) -> SeccompProfileConfig:
        if (self.type == "Localhost") != (self.localhost_profile is not None):
            msg = (
                "localhost_profile must be set when type is Localhost and only "
                f"then, got type {self.type} with localhost_profile "
                f"{self.localhost_profile!r}"
            )
            raise ValueError(msg)
        return self


class CapabilitiesConfig(_Model):
    """Linux capabilities added to or dropped from a container."""

    add: list[str] = []
    drop: list[str] = []


def _no_root_contradiction(
    run_as_non_root: bool | None, run_as_user: int | None
) -> None:
    if run_as_non_root and run_as_user == 0:
        msg = "run_as_user 0 is root, which run_as_non_root: true forbids"
        raise ValueError(msg)


class PodSecurityConfig(_Model):
    """Pod-level security settings (``PodSecurityContext``)."""

    run_as_non_root: bool | None = None
    run_as_user: int | None = Field(default=None, ge=0)
    run_as_group: int | None = Field(default=None, ge=0)
    fs_group: int | None = Field(
        default=None, ge=0, description="Group owning the pod's volumes."
    )
    fs_group_change_policy: Literal["Always", "OnRootMismatch"] | None = None
    supplemental_groups: list[int] = []
    seccomp_profile: SeccompProfileConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PodSecurityConfig:
        _no_root_contradiction(self.run_as_non_root, self.run_as_user)
        return self


class ContainerSecurityConfig(_Model):
    """Container-level security settings (``SecurityContext``)."""

    run_as_non_root: bool | None = None
    run_as_user: int | None = Field(default=None, ge=0)
    run_as_group: int | None = Field(default=None, ge=0)
    allow_privilege_escalation: bool | None = None
    privileged: bool | None = None
    read_only_root_filesystem: bool | None = Field(
        default=None, description="Mount empty_dirs where the tasks write."
    )
    capabilities: CapabilitiesConfig | None = None
    seccomp_profile: SeccompProfileConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ContainerSecurityConfig:
        _no_root_contradiction(self.run_as_non_root, self.run_as_user)
        return self


class SecurityContextConfig(_Model):
    """Security settings of every pod and of every container kedro-hera emits."""

    pod: PodSecurityConfig = PodSecurityConfig()
    container: ContainerSecurityConfig = ContainerSecurityConfig()


class EmptyDirConfig(_Model):
    """A scratch directory: an ``emptyDir`` volume mounted in every container."""

    name: str = Field(description="Volume name (a DNS-1123 label).")
    mount_path: str = Field(description="Absolute path inside the containers.")
    size_limit: str | None = Field(default=None, description="e.g. '10Gi'.")
    medium: Literal["Memory"] | None = Field(
        default=None, description="Memory for a tmpfs; default: the node's disk."
    )

    @field_validator("name")
    @classmethod
    def _name_is_dns(cls, value: str) -> str:
        if not is_dns_label(value):
            msg = f"'{value}' is not a DNS-1123 label (lower-case letters, digits, '-')"
            raise ValueError(msg)
        return value

    @field_validator("mount_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or posixpath.normpath(value) != value:
            msg = f"'{value}' is not a normalized absolute path (expected e.g. '/tmp')"
            raise ValueError(msg)
        return value

    @field_validator("size_limit")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        return check_memory(value)


def _seccomp(config: SeccompProfileConfig | None) -> SeccompProfile | None:
    if config is None:
        return None
    return SeccompProfile(type=config.type, localhost_profile=config.localhost_profile)


def pod_security_context(config: PodSecurityConfig) -> PodSecurityContext | None:
    """Return the pods' ``securityContext``, or None when nothing is set.

    Args:
        config: ``security_context.pod`` of argo.yml.

    Returns:
        The Hera model.
    """
    if config == PodSecurityConfig():
        return None
    return PodSecurityContext(
        run_as_non_root=config.run_as_non_root,
        run_as_user=config.run_as_user,
        run_as_group=config.run_as_group,
        fs_group=config.fs_group,
        fs_group_change_policy=config.fs_group_change_policy,
        supplemental_groups=list(config.supplemental_groups) or None,
        seccomp_profile=_seccomp(config.seccomp_profile),
    )


def container_security_context(
    config: ContainerSecurityConfig,
) -> SecurityContext | None:
    """Return a container's ``securityContext``, or None when nothing is set.

    Args:
        config: ``security_context.container`` of argo.yml.

    Returns:
        The Hera model.
    """
    if config == ContainerSecurityConfig():
        return None
    capabilities = config.capabilities
    return SecurityContext(
        run_as_non_root=config.run_as_non_root,
        run_as_user=config.run_as_user,
        run_as_group=config.run_as_group,
        allow_privilege_escalation=config.allow_privilege_escalation,
        privileged=config.privileged,
        read_only_root_filesystem=config.read_only_root_filesystem,
        capabilities=Capabilities(
            add=list(capabilities.add) or None, drop=list(capabilities.drop) or None
        )
        if capabilities is not None
        else None,
        seccomp_profile=_seccomp(config.seccomp_profile),
    )


def empty_dir_volumes(empty_dirs: list[EmptyDirConfig]) -> list[Volume] | None:
    """Return the workflow's ``emptyDir`` volumes, or None when there are none.

    Args:
        empty_dirs: ``empty_dirs`` of argo.yml.

    Returns:
        The Hera models, in configuration order.
    """
    return [
        Volume(
            name=d.name,
            empty_dir=EmptyDirVolumeSource(
                medium=d.medium,
                size_limit=Quantity(root=d.size_limit) if d.size_limit else None,
            ),
        )
        for d in empty_dirs
    ] or None


def volume_mounts(empty_dirs: list[EmptyDirConfig]) -> list[VolumeMount] | None:
    """Return a container's mounts of the ``emptyDir`` volumes, or None.

    Args:
        empty_dirs: ``empty_dirs`` of argo.yml.

    Returns:
        The Hera models, in configuration order.
    """
    return [VolumeMount(name=d.name, mount_path=d.mount_path) for d in empty_dirs] or (
        None
    )
