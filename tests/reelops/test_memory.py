"""MemoryTrimHook: memory a node freed goes back to the OS before the next node."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from reelops.memory import MemoryTrimHook, trim_heap

# A fresh interpreter (glibc's thresholds start at their defaults): 400 MiB of
# 4 MiB arrays land on the heap once a freed 20 MiB block has raised the mmap
# threshold; one array allocated last stays alive at the top of the heap, so
# freeing the others returns nothing to the OS until the heap is trimmed.
_SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import psutil
    from reelops.memory import trim_heap

    rss = lambda: psutil.Process().memory_info().rss / 2**20
    x = np.ones(20 * 2**20 // 8)
    del x
    blocks = [np.ones(2**19) for _ in range(100)]
    keep = blocks[-1]
    del blocks
    freed = rss()
    trimmed = trim_heap()
    print(json.dumps({"freed": freed, "trimmed": trimmed, "after": rss()}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_returns_freed_heap_to_the_os() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True
    )
    rss = json.loads(out.stdout)
    # GIVEN 396 MiB freed but still resident (the kept array pins the heap's top)
    assert rss["trimmed"] is True
    assert rss["freed"] > 300
    # THEN the trim gives it back
    assert rss["after"] < rss["freed"] - 300


# Parquet read through Arrow's pool (mimalloc or jemalloc): freeing the frame
# returns the pages to the pool, which keeps them resident.
_ARROW_SCRIPT = textwrap.dedent(
    """
    import gc, json, sys
    import numpy as np
    import pandas as pd
    import psutil
    from reelops.memory import trim_heap

    rss = lambda: psutil.Process().memory_info().rss / 2**20
    path = sys.argv[1]
    n = 12_000_000
    pd.DataFrame({"a": np.arange(n), "b": np.ones(n)}).to_parquet(path)
    gc.collect()
    trim_heap()
    before = rss()
    frame = pd.read_parquet(path)
    del frame
    gc.collect()
    freed = rss()
    trim_heap()
    print(json.dumps({"before": before, "freed": freed, "after": rss()}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_releases_arrows_pool_too(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _ARROW_SCRIPT, str(tmp_path / "big.parquet")],
        capture_output=True,
        text=True,
        check=True,
    )
    rss = json.loads(out.stdout)
    # GIVEN a 183 MiB frame read from parquet and freed, its pages still resident
    assert rss["freed"] > rss["before"] + 100
    # THEN the trim gives them back
    assert rss["after"] < rss["before"] + 50


# A model the runner released between two nodes, held by a reference cycle (the
# cyclic collector off, as it would not have run yet: it counts objects, not
# bytes), then the next node starts in a process over or under the hook's limit.
_CYCLE_SCRIPT = textwrap.dedent(
    """
    import gc, json, logging, sys
    import numpy as np
    import psutil
    from reelops.memory import MemoryTrimHook

    gc.disable()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    rss = lambda: psutil.Process().memory_info().rss / 2**20
    collections = []
    gc.callbacks.append(lambda phase, info: collections.append(phase))
    hook = MemoryTrimHook(collect_above=int(sys.argv[1]) * 2**20)

    before = rss()
    hook.before_node_run(node="fit")  # a small process: never collected
    small = len(collections)
    model = {"weights": np.ones(400 * 2**20 // 8)}
    model["self"] = model
    hook.after_node_run(node="fit")
    del model  # the runner releases the fitted model after its last use
    hook.before_node_run(node="package")
    print(json.dumps({"small": small, "before": before, "after": rss(),
                      "collected": len(collections) > small}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc only")
@pytest.mark.parametrize(("collect_above_mib", "freed"), [(256, True), (4096, False)])
def test_cycles_released_between_nodes_are_collected_in_a_big_process(
    collect_above_mib: int, freed: bool
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CYCLE_SCRIPT, str(collect_above_mib)],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout)
    # GIVEN a process under the limit: no collection before its node
    assert found["small"] == 0
    # THEN a model released in a cycle is collected before the next node when the
    # process is over the limit, and the memory goes back to the OS; under it
    # (4 GiB), it stays
    assert found["collected"] is freed
    if freed:
        assert found["after"] < found["before"] + 50
        assert re.search(
            r"^reelops.memory: collected \d+ objects before package: "
            r"\d+\.\d{3} -> \d+\.\d{3} GiB$",
            out.stderr,
            re.MULTILINE,
        )
    else:
        assert found["after"] > found["before"] + 350
        assert "collected" not in out.stderr


def test_current_rss_reads_vmrss_and_is_none_without_it(tmp_path) -> None:
    from reelops.memory import current_rss

    assert current_rss(tmp_path) is None
    (tmp_path / "status").write_text("VmHWM:\t 900 kB\nVmRSS:\t 250 kB\n")
    assert current_rss(tmp_path) == 250 * 1024


def test_the_project_trims_after_every_node() -> None:
    from reelops import settings

    assert any(isinstance(hook, MemoryTrimHook) for hook in settings.HOOKS)
    assert trim_heap() is sys.platform.startswith("linux")


_PEAK_SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    from reelops.memory import peak_rss, reset_peak_rss

    reset = reset_peak_rss()
    before = peak_rss()
    x = np.ones(400 * 2**20 // 8)  # 400 MiB, every page touched
    del x
    during = peak_rss()
    reset_peak_rss()
    after = peak_rss()
    print(json.dumps({"reset": reset, "before": before, "during": during,
                      "after": after}))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc only")
def test_a_spans_peak_is_measured_and_reset() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT], capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout)
    mib = {k: found[k] / 2**20 for k in ("before", "during", "after")}
    # GIVEN a span in which 400 MiB were allocated and freed
    assert found["reset"] is True
    # THEN its peak holds them, and a new span starts from what is resident now
    assert mib["during"] > mib["before"] + 390
    assert mib["after"] < mib["during"] - 300


def test_without_proc_there_is_no_peak(tmp_path) -> None:
    from reelops.memory import peak_rss, reset_peak_rss

    # a directory with no status file, where clear_refs cannot be written
    missing = tmp_path / "no-such-proc"
    assert reset_peak_rss(missing) is False
    assert peak_rss(missing) is None
    (tmp_path / "status").write_text("Name:\tpython\nVmRSS:\t 100 kB\n")
    assert peak_rss(tmp_path) is None
