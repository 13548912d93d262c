"""An ngspice run leaves torch's thread count as the caller set it."""

import pytest
import torch

from npdehw.design import load_design
from npdehw.pipeline import map_design
from npdehw.sim.ngspice import run_netlist


@pytest.mark.spice
def test_ngspice_run_keeps_one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, _, netlist = map_design(load_design("heat1d"))
        run_netlist(netlist)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(previous)
