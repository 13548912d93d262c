"""ngspice adapter: runs a netlist in the shared library through PySpice.

Everything that depends on the ngspice or PySpice version lives here. Facts it
relies on (ngspice 39 as packaged by Debian 12, PySpice 1.5):

- ngspice reads numbers by the C locale, so ``LC_NUMERIC=C`` is set before the
  library loads.
- PySpice 1.5 treats every stderr line that does not start with ``Warning:`` as
  fatal. ngspice prints harmless notes there (solver banners, gmin stepping), so
  this adapter classifies each line itself and fails only on real errors.
- ngspice keeps global state and PySpice never frees loaded circuits; each run
  removes its circuit and output vectors afterwards. Run one instance per process.
- ``.print`` lines are ignored by the shared library and only matter for
  ``ngspice -b``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import signal
import threading
import time

import numpy as np

from npdehw.errors import SimulationError

__all__ = ["SpiceResult", "classify_stderr", "ngspice_version", "run_netlist"]

logger = logging.getLogger(__name__)

ERROR_PATTERN = re.compile(
    r"error|singular matrix|timestep too small|aborted|unknown (?:subckt|model|parameter)|"
    r"could not find|no such|failed",
    re.IGNORECASE,
)
_NOTE_PATTERN = re.compile(r"^(?:warning:|note:|using |trying |supplies reduced|gmin stepping)",
                           re.IGNORECASE)
_TAIL_LINES = 20


def classify_stderr(line: str) -> str:
    """Return ``error``, ``warning`` or ``note`` for one line that ngspice wrote to stderr."""
    text = line.strip()
    if text.lower().startswith("warning:"):
        return "warning"
    if _NOTE_PATTERN.match(text):
        return "note"
    if ERROR_PATTERN.search(text):
        return "error"
    return "note"


@dataclasses.dataclass(frozen=True)
class SpiceResult:
    """Output of one transient run.

    Attributes:
        time_s: ngspice's own, uneven time points, shape ``(n_points,)``.
        voltages: net name to voltage in volts, each of shape ``(n_points,)``.
        elapsed_s: wall time of loading the circuit and the ``run`` command.
        messages: classified stderr lines as ``(severity, text)``.
        currents: voltage-source name to its branch current in amperes, flowing from
            the positive node through the source to the negative node.
    """

    time_s: np.ndarray
    voltages: dict[str, np.ndarray]
    elapsed_s: float
    messages: tuple[tuple[str, str], ...]
    currents: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def _shared_class():
    os.environ["LC_NUMERIC"] = "C"
    from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi_string_utf8

    logging.getLogger("PySpice.Spice.NgSpice.Shared.NgSpiceShared").addFilter(
        lambda record: "Unsupported Ngspice version" not in record.getMessage()
    )

    class _ClassifyingShared(NgSpiceShared):
        _instances = {}

        @staticmethod
        def _send_char(message_c, ngspice_id, user_data):
            from PySpice.Spice.NgSpice.Shared import ffi

            self = ffi.from_handle(user_data)
            prefix, _, content = ffi_string_utf8(message_c).partition(" ")
            if prefix == "stderr":
                self._stderr.append(content)
                severity = classify_stderr(content)
                self.messages.append((severity, content))
                self._error_in_stderr = self._error_in_stderr or severity == "error"
                logger.debug("ngspice stderr (%s): %s", severity, content)
            else:
                self._stdout.append(content)
                if ERROR_PATTERN.search(content) and "error" in content.lower():
                    self._error_in_stdout = True
                    self.messages.append(("error", content))
            return 0

    return _ClassifyingShared


_INSTANCE = None


def _instance():
    global _INSTANCE
    if _INSTANCE is None:
        try:
            cls = _shared_class()
            _INSTANCE = cls.new_instance()
        except OSError as err:
            raise SimulationError(
                f"cannot load the ngspice shared library ({err}); install it with "
                "'apt-get install ngspice libngspice0-dev' or set NGSPICE_LIBRARY_PATH"
            ) from err
        _INSTANCE.messages = []
        # ngspice sets the OpenMP thread count on every run, and torch in the same process
        # shares that OpenMP runtime, so ngspice's default of 2 would also change torch's.
        _INSTANCE.exec_command("set num_threads=1")
    return _INSTANCE


def ngspice_version() -> str:
    """Return the version of the loaded ngspice shared library, for example ``39``."""
    return str(_instance().ngspice_version)


def run_netlist(netlist: str) -> SpiceResult:
    """Run the transient analysis in ``netlist`` and return every node voltage.

    Raises:
        SimulationError: when ngspice reports an error; the message carries the
            last lines of its output.
    """
    from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError, NgSpiceCommandError

    ng = _instance()
    ng.messages = []
    start = time.perf_counter()
    with _deferred_interrupt() as interrupted:
        try:
            ng.load_circuit(netlist)
            ng.run()
            elapsed = time.perf_counter() - start
            result = _collect(ng, elapsed)
        except (NgSpiceCircuitError, NgSpiceCommandError, KeyError) as err:
            raise SimulationError(f"ngspice failed: {err}\n{_tail(ng)}") from err
        finally:
            _release(ng)
    if interrupted:
        raise KeyboardInterrupt
    errors = [text for severity, text in result.messages if severity == "error"]
    if errors:
        raise SimulationError(f"ngspice reported an error: {errors[0]}\n{_tail(ng)}")
    return result


@contextlib.contextmanager
def _deferred_interrupt():
    """Record Ctrl-C during a run and yield a list that is non-empty if it came.

    PySpice's callbacks swallow a KeyboardInterrupt raised inside ngspice, so the run
    would go on and its results be written. The handler only records the signal, and
    the caller raises KeyboardInterrupt once ngspice returns.
    NOTE: ngspice runs in the foreground, so the run itself still finishes first.
    """
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(number))
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


def _collect(ng, elapsed):
    plot_name = ng.last_plot
    if not plot_name.startswith("tran"):
        raise SimulationError(f"ngspice produced no transient output (last plot {plot_name!r})"
                              f"\n{_tail(ng)}")
    plot = ng.plot(None, plot_name)
    time_s = np.asarray(plot["time"].to_waveform(to_float=True), dtype=float)
    voltages, currents = {}, {}
    for name, vector in plot.items():
        if name == "time":
            continue
        values = np.asarray(vector.to_waveform(to_float=True), dtype=float)
        if name.lower().endswith("#branch"):
            currents[name.lower()[: -len("#branch")]] = values
        elif "#" not in name:
            voltages[name.lower()] = values
    return SpiceResult(time_s, voltages, elapsed, tuple(ng.messages), currents)


def _release(ng):
    # NOTE: PySpice raises on any stderr error flag, so a failed circuit can make
    # these commands fail too; the circuit is then already gone.
    for command in ("remcirc", "destroy all"):
        try:
            ng.exec_command(command)
        except Exception as err:  # noqa: BLE001 - cleanup must not hide the real error
            logger.debug("ngspice %s failed during cleanup: %s", command, err)


def _tail(ng) -> str:
    """Return ngspice's classified messages, or its last output lines when it gave none."""
    lines = [f"{severity}: {text}" for severity, text in ng.messages]
    if not lines:
        lines = ng._stdout[-_TAIL_LINES:]
    return "\n".join(lines[-_TAIL_LINES:])
