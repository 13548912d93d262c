"""The ngspice adapter against real ngspice: results, errors and clean-up."""

import numpy as np
import pytest

from npdehw.errors import SimulationError
from npdehw.sim import ngspice
from npdehw.sim.ngspice import classify_stderr, run_netlist

RC = """* rc
r1 n_1 0 1.000000000000e+03
c1 n_1 0 1.000000000000e-06 ic=1.000000000000e+00
.options method=trap reltol=1.0e-07
.tran 1.0e-05 2.0e-03 0.0e+00 1.0e-06 uic
.end
"""


def test_rc_discharge_matches_exponential():
    """An RC discharge follows exp(-t / RC) to 1e-5."""
    result = run_netlist(RC)
    expected = np.exp(-result.time_s / 1e-3)
    np.testing.assert_allclose(result.voltages["n_1"], expected, rtol=0, atol=1e-5)
    assert result.time_s[-1] == pytest.approx(2e-3)


def test_circuit_removed_after_run():
    """Repeated runs leave no circuits or plots behind in ngspice."""
    for _ in range(3):
        run_netlist(RC)
    shared = ngspice._instance()
    assert shared.plot_names == ["const"]
    shared.messages = []
    with pytest.raises(Exception, match="listing"):
        shared.exec_command("listing")
    assert ("error", "Error: no circuit loaded.") in shared.messages


def test_bad_netlist_raises_with_output():
    """A netlist with an unknown model fails with ngspice's message, not a crash."""
    broken = RC.replace("r1 n_1 0 1.000000000000e+03", "q1 n_1 0 0 nomodel")
    with pytest.raises(SimulationError, match="(?i)model|error"):
        run_netlist(broken)


def test_run_after_failure_still_works():
    """A failed run does not poison the next one."""
    with pytest.raises(SimulationError):
        run_netlist(RC.replace(".tran", ".tran -1"))
    result = run_netlist(RC)
    assert result.voltages["n_1"][-1] == pytest.approx(np.exp(-2.0), abs=1e-5)


@pytest.mark.parametrize("line,severity", [
    ("Warning: singular matrix, check node n_1", "warning"),
    ("Note: Starting dynamic gmin stepping", "note"),
    ("Using SPARSE 1.3 as Direct Linear Solver", "note"),
    ("Error: unknown subckt: x1", "error"),
    ("doAnalyses: TRAN:  Timestep too small; time = 1e-9", "error"),
    ("Circuit: * rc", "note"),
])
def test_classify_stderr(line, severity):
    """stderr lines are sorted into notes, warnings and errors."""
    assert classify_stderr(line) == severity
