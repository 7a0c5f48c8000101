"""The image tag: content-addressed from image.tag_from, and what check says of it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project

from kedro_hera.check import check_project
from kedro_hera.cli import commands
from kedro_hera.compile import compile_project
from kedro_hera.config import ImageConfig, parse_config
from kedro_hera.errors import ConfigError
from kedro_hera.files import write_files
from kedro_hera.image import (
    CONTENT_TAG_LENGTH,
    content_tag,
    resolve_image_tag,
    tag_source_files,
)

from .conftest import BASIC, MINIMAL

TAG_FROM = ["src", "pyproject.toml"]


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        [
            "git",
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _repo(root: Path) -> Path:
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "init")
    return root


def _invoke(project: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(commands, ["argo", *args], obj=bootstrap_project(project))


# ---- content_tag ---------------------------------------------------------------


def test_tag_is_short_hex_and_deterministic(tmp_path: Path) -> None:
    # GIVEN a small tree outside git
    root = _tree(tmp_path, {"src/a.py": "a = 1\n", "Dockerfile": "FROM x\n"})
    # WHEN hashed twice THEN the tag is the same short hex string
    tag = content_tag(root, ["src", "Dockerfile"])
    assert re.fullmatch(rf"[0-9a-f]{{{CONTENT_TAG_LENGTH}}}", tag)
    assert content_tag(root, ["Dockerfile", "src"]) == tag


@pytest.mark.parametrize(
    "change",
    ["edit", "add", "rename", "delete"],
)
def test_any_change_to_the_inputs_changes_the_tag(tmp_path: Path, change: str) -> None:
    root = _tree(tmp_path, {"src/a.py": "a = 1\n", "src/b.py": "b = 2\n"})
    before = content_tag(root, ["src"])
    # WHEN a file below the paths changes
    if change == "edit":
        (root / "src/a.py").write_text("a = 2\n")
    elif change == "add":
        (root / "src/c.py").write_text("")
    elif change == "rename":
        (root / "src/b.py").rename(root / "src/c.py")
    else:
        (root / "src/b.py").unlink()
    # THEN the tag changes
    assert content_tag(root, ["src"]) != before


def test_files_outside_the_paths_and_bytecode_do_not_count(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"src/a.py": "a = 1\n", "README.md": "hi\n"})
    before = content_tag(root, ["src"])
    # WHEN a file outside the paths, a __pycache__ dir and a .pyc appear
    (root / "README.md").write_text("changed\n")
    _tree(root, {"src/__pycache__/a.cpython-311.pyc": "x", "src/b.pyc": "y"})
    # THEN the tag is unchanged
    assert content_tag(root, ["src"]) == before


def test_git_counts_tracked_and_untracked_files_but_not_ignored_ones(
    tmp_path: Path,
) -> None:
    # GIVEN a git repository ignoring conf/local
    root = _tree(
        tmp_path,
        {
            ".gitignore": "conf/local/**\n!conf/local/.gitkeep\n__pycache__/\n",
            "conf/base/a.yml": "a: 1\n",
            "conf/local/.gitkeep": "",
        },
    )
    _repo(root)
    before = content_tag(root, ["conf"])
    # WHEN an ignored secret is added THEN the tag is unchanged
    _tree(root, {"conf/local/credentials.yml": "token: x\n"})
    assert content_tag(root, ["conf"]) == before
    assert tag_source_files(root, ["conf"]) == [
        "conf/base/a.yml",
        "conf/local/.gitkeep",
    ]
    # WHEN an untracked (not ignored) file is added THEN it counts
    _tree(root, {"conf/base/b.yml": "b: 2\n"})
    assert content_tag(root, ["conf"]) != before


def test_git_and_a_plain_tree_give_the_same_tag(tmp_path: Path) -> None:
    # GIVEN the same files in a git repository and in a plain directory
    files = {"src/a.py": "a = 1\n", "src/pkg/b.py": "b = 2\n", "Dockerfile": "F\n"}
    in_git = _repo(_tree(tmp_path / "git", files))
    plain = _tree(tmp_path / "plain", files)
    # THEN the tags are equal (the hash names files relative to the root)
    paths = ["src", "Dockerfile"]
    assert content_tag(in_git, paths) == content_tag(plain, paths)


def test_a_path_naming_nothing_is_an_error(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"Dockerfile": "F\n"})
    with pytest.raises(
        ConfigError,
        match=re.escape(
            f"image.tag_from: 'Dockerfil', 'src' not found in {root} (expected files "
            "or directories of the project)"
        ),
    ):
        content_tag(root, ["Dockerfil", "src", "Dockerfile"])


def test_a_path_holding_only_ignored_files_is_an_error(tmp_path: Path) -> None:
    root = _repo(_tree(tmp_path, {".gitignore": "build/\n", "Dockerfile": "F\n"}))
    _tree(root, {"build/wheel.whl": "w"})
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "image.tag_from: 'build' holds no file git tracks or would track "
            "(expected files that go into the image)"
        ),
    ):
        content_tag(root, ["build", "Dockerfile"])


# ---- configuration and precedence ------------------------------------------------


@pytest.mark.parametrize(
    ("tag_from", "message"),
    [
        (
            ["../shared"],
            "argo.yml (env 'prod'): image.tag_from: '../shared' is not a normalized "
            "relative POSIX path inside the project (expected e.g. 'src' or "
            "'conf/base')",
        ),
        (
            ["/etc"],
            "argo.yml (env 'prod'): image.tag_from: '/etc' is not a normalized "
            "relative POSIX path inside the project (expected e.g. 'src' or "
            "'conf/base')",
        ),
        (
            ["./src"],
            "argo.yml (env 'prod'): image.tag_from: './src' is not a normalized "
            "relative POSIX path inside the project (expected e.g. 'src' or "
            "'conf/base')",
        ),
        (
            ["src", "src"],
            "argo.yml (env 'prod'): image.tag_from: paths must be unique, got "
            "['src'] more than once",
        ),
        (
            [],
            "argo.yml (env 'prod'): image.tag_from: List should have at least 1 item "
            "after validation, not 0, got []",
        ),
    ],
)
def test_invalid_tag_from_is_a_one_line_error(
    tag_from: list[str], message: str
) -> None:
    raw = {"image": {"repository": "r", "tag_from": tag_from}, "namespace": "n"}
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(raw, source="argo.yml (env 'prod')")


def test_env_var_then_tag_then_tag_from_then_git_sha(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _tree(tmp_path, {"src/a.py": ""})
    both = ImageConfig(repository="r", tag="1.0", tag_from=["src"])
    hashed = ImageConfig(repository="r", tag_from=["src"])
    # WHEN nothing overrides THEN tag wins over tag_from, tag_from over the SHA
    assert resolve_image_tag(both, root).tag == "1.0"
    resolved = resolve_image_tag(hashed, root)
    assert (resolved.tag, resolved.source) == (
        content_tag(root, ["src"]),
        "image.tag_from",
    )
    assert resolve_image_tag(ImageConfig(repository="r"), root).tag is None
    # WHEN $KEDRO_HERA_IMAGE_TAG is set THEN it wins over everything
    monkeypatch.setenv("KEDRO_HERA_IMAGE_TAG", "rc-1")
    assert resolve_image_tag(both, root).tag == "rc-1"


# ---- compile and check across commits ---------------------------------------------


@pytest.fixture
def basic_repo(basic_copy: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The basic fixture project as a git repository, argo/ committed."""
    monkeypatch.delenv("KEDRO_HERA_GIT_SHA")
    (basic_copy / ".gitignore").write_text("__pycache__/\nconf/local/**\n")
    return _repo(basic_copy)


def test_a_commit_that_changes_no_input_leaves_argo_unchanged(
    basic_repo: Path,
) -> None:
    # GIVEN committed manifests WHEN a commit changes a file outside tag_from
    (basic_repo / "README.md").write_text("A change the image does not hold.\n")
    _git(basic_repo, "add", "README.md")
    _git(basic_repo, "commit", "-q", "-m", "docs")
    # THEN check passes and a compilation changes no file
    assert not check_project(basic_repo, basic_repo / "argo")
    files = {m.path: m.text for m in compile_project(basic_repo).manifests}
    assert write_files(basic_repo / "argo", files) == []


def test_check_fails_on_a_stale_image_tag(basic_repo: Path) -> None:
    # GIVEN a commit changing code that goes into the image
    nodes = basic_repo / "src" / "kh_basic" / "nodes.py"
    nodes.write_text(nodes.read_text() + "\n# a change inside the image\n")
    _git(basic_repo, "commit", "-q", "-am", "code")
    old = content_tag(BASIC, TAG_FROM)
    new = content_tag(basic_repo, TAG_FROM)
    # WHEN argo/ is checked
    result = _invoke(basic_repo, "check", "--no-diff")
    # THEN it fails in one line naming the stale image, the expected one and why
    assert result.exit_code == 1
    stale = ", ".join(
        f"argo/prod/{name}.yaml"
        for name in (
            "__default__",
            "cron-nightly-train",
            "cron-weekly-prepare",
            "prepare",
            "train",
        )
    )
    assert result.output == (
        f"Error: argo/ is out of date (stale: {stale}; image "
        f"registry.example.com/kh-basic:{old} is stale: expected "
        f"registry.example.com/kh-basic:{new}, from the content hash of "
        "image.tag_from (src, pyproject.toml)); run `kedro argo compile`\n"
    )


def test_a_git_sha_tag_is_not_stale_when_head_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a project whose tag falls back to the git SHA, compiled and committed
    project = tmp_path / "minimal"
    shutil.copytree(MINIMAL, project, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.delenv("KEDRO_HERA_GIT_SHA")
    _repo(project)
    files = {m.path: m.text for m in compile_project(project).manifests}
    write_files(project / "argo", files)
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "compile")
    # WHEN HEAD moves THEN check passes
    assert not check_project(project, project / "argo")
    # WHEN a commit changes a parameter THEN the file is stale, its image is not
    params = project / "conf" / "base" / "parameters.yml"
    params.write_text(params.read_text().replace("recency: 0.5", "recency: 0.7"))
    _git(project, "commit", "-q", "-am", "params")
    drift = check_project(project, project / "argo")
    assert drift.stale == ("base/__default__.yaml",)
    assert drift.images == ()


# ---- kedro argo image ---------------------------------------------------------------


def test_image_prints_the_reference_of_an_env() -> None:
    staging = _invoke(BASIC, "image", "--env", "staging")
    prod = _invoke(BASIC, "image", "--env", "prod")
    assert staging.output == "registry.example.com/kh-basic:1.2.3\n"
    assert prod.output == (
        f"registry.example.com/kh-basic:{content_tag(BASIC, TAG_FROM)}\n"
    )


def test_image_without_env_needs_every_env_to_agree() -> None:
    result = _invoke(BASIC, "image")
    assert result.exit_code == 1
    tag = content_tag(BASIC, TAG_FROM)
    assert result.output == (
        "Error: envs name different images (prod: registry.example.com/kh-basic:"
        f"{tag}, staging: registry.example.com/kh-basic:1.2.3); pass --env\n"
    )


def test_image_files_lists_what_makes_the_tag() -> None:
    result = _invoke(BASIC, "image", "--env", "prod", "--files")
    assert result.output.splitlines() == [
        "pyproject.toml",
        "src/kh_basic/__init__.py",
        "src/kh_basic/nodes.py",
        "src/kh_basic/pipeline_registry.py",
        "src/kh_basic/settings.py",
    ]
