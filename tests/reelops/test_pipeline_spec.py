"""The declarative pipeline loader: what it builds and each one-line error."""

from __future__ import annotations

import re
import textwrap
import typing
from pathlib import Path

import pytest

from reelops.errors import PipelineSpecError
from reelops.pipeline_spec import CatalogNames, build_pipelines, load_pipeline_files

CATALOG = CatalogNames(
    datasets=frozenset({"raw_links", "movies", "links", "links_quarantine"}),
    patterns=("{source}_report",),
    parameters={"validation": {"genres": ["Drama"]}, "model": {"k": 3}},
)

LINKS_NODE = """
  - name: validate_links_node
    func: reelops.nodes.ingest.validate_links
    inputs: {raw_links: raw_links, movies: movies}
    outputs: [links, links_quarantine]
"""


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(textwrap.dedent(body))
    return path


def build(tmp_path: Path, catalog: CatalogNames = CATALOG) -> dict:
    return build_pipelines(load_pipeline_files(tmp_path), catalog)


def test_builds_nodes_templates_includes_and_default(tmp_path: Path) -> None:
    # GIVEN a pipeline with a node and one that includes it and instantiates a
    # template in two namespaces
    write(tmp_path, "ingest", f"default: true\nnodes:{LINKS_NODE}")
    write(
        tmp_path,
        "report",
        """
        include: [ingest]
        templates:
          summary:
            nodes:
              - name: summarize_node
                func: reelops.nodes.eda.eda_metrics
                inputs: links_summary
                outputs: summary
        instances:
          - template: summary
            namespaces: [alpha, beta]
        """,
    )
    catalog = CatalogNames(
        datasets=CATALOG.datasets | {"alpha.links_summary", "beta.links_summary"},
        parameters=CATALOG.parameters,
    )
    # WHEN built
    pipes = build(tmp_path, catalog)
    # THEN the template exists once per namespace, the include is merged, and the
    # default pipeline is the union of files marked default
    names = {n.name for n in pipes["report"].nodes}
    assert names == {
        "validate_links_node",
        "alpha.summarize_node",
        "beta.summarize_node",
    }
    assert pipes["report"].all_outputs() >= {"alpha.summary", "beta.summary"}
    assert {n.name for n in pipes["__default__"].nodes} == {"validate_links_node"}


def test_the_real_pipelines_build() -> None:
    repo = Path(__file__).resolve().parents[2]
    from reelops.config import catalog_names

    pipes = build_pipelines(
        load_pipeline_files(repo / "pipelines"), catalog_names(repo / "conf")
    )
    assert {"__default__", "data_processing", "eda"} <= set(pipes)
    assert all(n.name for p in pipes.values() for n in p.nodes)


def test_every_node_annotation_resolves_at_run_time() -> None:
    # Kedro reads node functions' type hints before running them (parameter
    # validation); a name imported only under TYPE_CHECKING makes it warn, once per
    # node, on every run.
    repo = Path(__file__).resolve().parents[2]
    from reelops.config import catalog_names

    pipes = build_pipelines(
        load_pipeline_files(repo / "pipelines"), catalog_names(repo / "conf")
    )
    funcs = {n.func for p in pipes.values() for n in p.nodes}
    unresolved = {}
    for func in funcs:
        try:
            typing.get_type_hints(func)
        except Exception as exc:  # what Kedro catches, warning once per node
            unresolved[f"{func.__module__}.{func.__name__}"] = str(exc)
    assert unresolved == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            f"nodez: []\nnodes:{LINKS_NODE}",
            "{file}: unknown key 'nodez' (expected one of: default, description, "
            "include, instances, nodes, templates)",
            id="unknown-top-level-key",
        ),
        pytest.param(
            """
            nodes:
              - name: validate_links_node
                func: reelops.nodes.ingest.validate_links
                input: [raw_links, movies]
            """,
            "{file}: node 'validate_links_node': unknown key 'input' (expected one "
            "of: foreach, func, inputs, name, namespace, outputs, tags)",
            id="unknown-node-key",
        ),
        pytest.param(
            f"nodes:{LINKS_NODE}{LINKS_NODE}",
            "{file}: duplicate node name 'validate_links_node' (also in {file})",
            id="duplicate-node-name",
        ),
        pytest.param(
            """
            nodes:
              - name: a_node
                func: reelops.nodes.ingest.validate_everything
                inputs: raw_links
                outputs: links
            """,
            "{file}: node 'a_node': function 'reelops.nodes.ingest.validate_everything'"
            " not found (module 'reelops.nodes.ingest' has no function "
            "'validate_everything')",
            id="function-not-found",
        ),
        pytest.param(
            """
            nodes:
              - name: a_node
                func: reelops.nodes.nowhere.run
                inputs: raw_links
                outputs: links
            """,
            "{file}: node 'a_node': function 'reelops.nodes.nowhere.run' not found "
            "(no module 'reelops.nodes.nowhere')",
            id="module-not-found",
        ),
        pytest.param(
            """
            nodes:
              - name: a_node
                func: os.system
                inputs: raw_links
                outputs: links
            """,
            "{file}: node 'a_node': function 'os.system' is outside the project's "
            "packages (expected a public function under reelops.nodes.)",
            id="function-outside-packages",
        ),
        pytest.param(
            """
            nodes:
              - name: a_node
                func: reelops.nodes._private.helper
                inputs: raw_links
                outputs: links
            """,
            "{file}: node 'a_node': function 'reelops.nodes._private.helper' is "
            "outside the project's packages (expected a public function under "
            "reelops.nodes.)",
            id="private-function",
        ),
        pytest.param(
            """
            nodes:
              - name: a_node
                func: reelops.nodes.ingest.validate_links
                inputs: [raw_links, movies, links]
                outputs: [links, links_quarantine]
            """,
            "{file}: node 'a_node': inputs ['raw_links', 'movies', 'links'] do not "
            "match validate_links(raw_links: 'pd.DataFrame', movies: 'pd.DataFrame')"
            " -> 'tuple[pd.DataFrame, pd.DataFrame]' (too many positional arguments)",
            id="inputs-do-not-match-signature",
        ),
        pytest.param(
            """
            nodes:
              - name: a_node
                func: reelops.nodes.ingest.validate_links
                inputs: {raw_links: raw_links, films: movies}
                outputs: [links, links_quarantine]
            """,
            "{file}: node 'a_node': inputs {{'raw_links': 'raw_links', 'films': "
            "'movies'}} do not match validate_links(raw_links: 'pd.DataFrame', movies:"
            " 'pd.DataFrame') -> 'tuple[pd.DataFrame, pd.DataFrame]' (missing a required argument: "
            "'movies')",
            id="input-name-not-in-signature",
        ),
        pytest.param(
            """
            nodes:
              - name: a_node
                func: reelops.nodes.ingest.validate_links
                inputs: {raw_links: raw_linkz, movies: movies}
                outputs: [links, links_quarantine]
            """,
            "{file}: node 'a_node' consumes dataset 'raw_linkz' that no node "
            "produces and the catalog does not define",
            id="dangling-dataset",
        ),
        pytest.param(
            """
            nodes:
              - name: a_node
                func: reelops.nodes.eda.eda_metrics
                inputs: params:model.depth
                outputs: summary
            """,
            "{file}: node 'a_node' reads parameter 'model.depth' that no parameters"
            " file defines",
            id="unknown-parameter",
        ),
        pytest.param(
            "nodes: [name: a\n",
            "{file}: invalid YAML at line 2",
            id="invalid-yaml",
        ),
        pytest.param(
            "instances:\n  - template: candidate\n    namespaces: [a]\n",
            "{file}: instance #1: unknown template 'candidate' (expected one of: none)",
            id="unknown-template",
        ),
        pytest.param(
            """
            nodes:
              - name: BadName
                func: reelops.nodes.eda.eda_metrics
                inputs: links
                outputs: summary
            """,
            "{file}: node name 'BadName' must be snake_case (letters, digits, "
            "underscores)",
            id="bad-node-name",
        ),
        pytest.param(
            "nodes:\n  - func: reelops.nodes.eda.eda_metrics\n    inputs: links\n",
            "{file}: node #1: missing required key 'name'",
            id="node-without-name",
        ),
    ],
)
def test_loader_errors_are_one_line(tmp_path: Path, body: str, message: str) -> None:
    # GIVEN a pipeline file with one defect
    path = write(tmp_path, "broken", body)
    expected = message.format(file=path)
    # WHEN it is loaded and built THEN one line names the file, node and defect
    with pytest.raises(PipelineSpecError, match=re.escape(expected)) as info:
        build(tmp_path)
    assert str(info.value) == expected
    assert "\n" not in str(info.value)


def test_include_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "a", "include: [b]\n")
    b = write(tmp_path, "b", "include: [a]\n")
    with pytest.raises(
        PipelineSpecError, match=re.escape(f"{b}: include cycle a -> b -> a")
    ):
        build(tmp_path)


def test_unknown_include_is_reported(tmp_path: Path) -> None:
    a = write(tmp_path, "a", "include: [nope]\n")
    with pytest.raises(
        PipelineSpecError,
        match=re.escape(
            f"{a}: include 'nope' names no pipeline file (expected one of: a)"
        ),
    ):
        build(tmp_path)


def test_config_cannot_import_a_module_outside_the_project(tmp_path: Path) -> None:
    # GIVEN a spec naming a module whose import would have a side effect
    marker = tmp_path / "imported"
    (tmp_path / "evil_mod.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    write(
        tmp_path,
        "evil",
        "nodes:\n  - name: a_node\n    func: evil_mod.run\n    inputs: links\n",
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(PipelineSpecError, match="outside the project's packages"):
            build(tmp_path)
    finally:
        sys.path.remove(str(tmp_path))
    # THEN the module was never imported
    assert not marker.exists()


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        PipelineSpecError, match=re.escape(f"{tmp_path}: no pipeline files")
    ):
        load_pipeline_files(tmp_path)


FOREACH_FILE = """
nodes:
  - name: gather_node
    func: reelops.nodes.training.compare_candidates
    inputs: {split_summary: links}
    foreach: {template: candidate, dataset: "{namespace}.metrics"}
    outputs: table
templates:
  candidate:
    nodes:
      - name: score_node
        func: reelops.nodes.eda.eda_metrics
        inputs: links
        outputs: metrics
instances:
  - template: candidate
    namespaces: [alpha, beta]
    inputs: [links]
"""
SCORE_NODE = """\
      - name: score_node
        func: reelops.nodes.eda.eda_metrics
        inputs: links
        outputs: metrics
"""


def test_foreach_adds_one_keyword_input_per_namespace(tmp_path: Path) -> None:
    write(tmp_path, "gather", FOREACH_FILE)
    pipes = build(tmp_path)
    gather = next(n for n in pipes["gather"].nodes if n.name == "gather_node")
    assert set(gather.inputs) == {"links", "alpha.metrics", "beta.metrics"}


def test_foreach_over_several_templates_takes_all_their_namespaces(
    tmp_path: Path,
) -> None:
    text = FOREACH_FILE.replace(
        "template: candidate, dataset", "template: [candidate, other], dataset"
    ) + ("  - template: other\n    namespaces: [gamma]\n    inputs: [links]\n")
    text = text.replace(
        "instances:", "  other:\n    nodes:\n" + SCORE_NODE + "instances:"
    )
    write(tmp_path, "gather", text)
    gather = next(n for n in build(tmp_path)["gather"].nodes if n.name == "gather_node")
    assert set(gather.inputs) == {
        "links",
        "alpha.metrics",
        "beta.metrics",
        "gamma.metrics",
    }


def test_foreach_of_an_unknown_template_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "gather",
        FOREACH_FILE.replace(
            "template: candidate, dataset", "template: model, dataset"
        ),
    )
    with pytest.raises(
        PipelineSpecError,
        match=re.escape(
            f"{path}: node 'gather_node': foreach names template 'model' that this "
            "file does not instantiate (expected one of: candidate)"
        ),
    ):
        build(tmp_path)


def test_foreach_needs_mapping_inputs(tmp_path: Path) -> None:
    path = write(
        tmp_path, "gather", FOREACH_FILE.replace("{split_summary: links}", "[links]")
    )
    with pytest.raises(
        PipelineSpecError,
        match=re.escape(
            f"{path}: node 'gather_node': foreach needs inputs as a mapping of "
            "argument to dataset, got ['links']"
        ),
    ):
        build(tmp_path)


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    # GIVEN the classic "billion laughs": nine levels of ten aliases each
    lines = ['a0: &a0 ["lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    bomb = write(tmp_path, "bomb", "\n".join(lines) + "\n")
    # WHEN it is loaded THEN it is refused in one short line, without expanding it
    with pytest.raises(PipelineSpecError) as info:
        build(tmp_path)
    assert str(info.value) == (
        f"{bomb}: more than 20 YAML aliases; a pipeline file needs none (refused "
        "unexpanded: a possible alias bomb)"
    )


def test_a_huge_pipeline_file_is_refused_unread(tmp_path: Path) -> None:
    big = write(tmp_path, "big", "description: " + "x" * 300_000 + "\n")
    with pytest.raises(PipelineSpecError) as info:
        build(tmp_path)
    assert str(info.value) == (
        f"{big}: {big.stat().st_size} bytes, more than a pipeline file may have "
        "(262144)"
    )


def test_a_long_bad_value_is_cut_in_the_error(tmp_path: Path) -> None:
    write(tmp_path, "long", "default: [" + ", ".join(["1"] * 5000) + "]\n")
    with pytest.raises(PipelineSpecError) as info:
        build(tmp_path)
    assert len(str(info.value)) < 300
    assert "... (cut)" in str(info.value)


def test_a_function_imported_into_a_node_module_is_not_a_node(tmp_path: Path) -> None:
    # GIVEN a node naming a helper that a node module imports from elsewhere
    path = write(
        tmp_path,
        "reexport",
        """
        nodes:
          - name: parse_node
            func: reelops.nodes.training.parse_config
            inputs: [a, b, c]
            outputs: d
        """,
    )
    with pytest.raises(PipelineSpecError) as info:
        build(tmp_path)
    assert str(info.value) == (
        f"{path}: node 'parse_node': function 'reelops.nodes.training.parse_config' "
        "is not defined in 'reelops.nodes.training' (it is "
        "reelops._pydantic.parse_config, imported there): name a function the node "
        "module defines"
    )
