"""Worker memory in a sweep: a sample must leave nothing for the cyclic garbage collector.

A Dask worker runs hundreds of samples. Objects caught in reference cycles are freed
only by the collector's full passes, which grow rarer as the heap grows, so even a
small cycle per sample makes the worker's memory climb run after run.
"""

from __future__ import annotations

import gc

import pytest

from npdehw.design import load_design
from npdehw.sim.sweep_sample import NOMINAL, run_sample, sample_netlist
from npdehw.sweep_options import SweepOptions
from npdehw.sweep_prepare import grid_context


@pytest.fixture(scope="module")
def context():
    """What every sample of the bundled heat1d design shares."""
    return grid_context(load_design("heat1d"), SweepOptions())


def _cyclic_garbage(function) -> list[str]:
    """Return the type names of the cyclic garbage from ours and the simulator's modules.

    Other threads of the test process (a closing Dask cluster) may leave garbage of
    their own meanwhile, so only networkx, PySpice and npdehw objects and the edge data
    of circuit graphs count.
    """
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        function()
        gc.collect()
        return [type(item).__name__ for item in gc.garbage if _is_ours(item)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _is_ours(item) -> bool:
    module = type(item).__module__ or ""
    if module.split(".")[0] in ("networkx", "PySpice", "npdehw"):
        return True
    return isinstance(item, dict) and "designator" in item


def test_sample_netlist_leaves_no_cycles(context):
    """Building a perturbed sample's netlist frees the perturbed graph at once."""
    assert _cyclic_garbage(lambda: sample_netlist(context, 3)) == []


@pytest.mark.spice
def test_ngspice_sample_leaves_no_cycles(context):
    """A whole sample in ngspice, after a first run has loaded the library, leaves none."""
    run_sample(context, NOMINAL)
    assert _cyclic_garbage(lambda: run_sample(context, 4)) == []
