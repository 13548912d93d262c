"""Report how far the differential-pair tanh cell departs from I_tail tanh(gain V_x).

For each tail current (default 10 uA, 100 uA and 1 mA) the script sweeps the cell
of ``npdehw.hw.cells`` in ngspice over |gain V_x| <= 3 and prints one table row:

- ``max dep``: max |I_out / I_tail - tanh(gain V_x)| and the ``gain V_x`` where
  it occurs;
- ``fit g / gain`` and ``fit A``: the least-squares fit I_out / I_tail =
  A tanh(g V_x), and ``fit resid``: the largest residual of that fit;
- ``slope``: dI_out/dV_x at 0 divided by I_tail gain;
- ``sat``: I_out / I_tail at gain V_x = +8, where tanh is 1 - 2.3e-7.

It writes ``tanh_cell_report.png`` (transfer and error against gain V_x) into the
folder given by ``--out``, or to that file if the path ends in ``.png``.

Usage:
    .venv/bin/python bench/tanh_cell_report.py [--i-tail 1e-5 1e-4 1e-3]
        [--gain 1.0] [--out /tmp]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from npdehw.hw.cells import (  # noqa: E402
    TanhCell,
    measure_transfer,
    small_signal_slope,
    tanh_departure,
)
from npdehw.sim.ngspice import ngspice_version  # noqa: E402

INPUT_RANGE = 3.0  # sweep half-width in units of 1 / gain
SATURATION_INPUT = 8.0  # gain V_x where the saturation current is read
SLOPE_HALF_WIDTH = 0.3  # fit window for the slope at 0, in units of 1 / gain
PLOT_NAME = "tanh_cell_report.png"


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--i-tail", type=float, nargs="+", default=[10e-6, 100e-6, 1e-3],
                        metavar="AMPERES", help="tail currents in amperes")
    parser.add_argument("--gain", type=float, default=1.0, metavar="PER_VOLT",
                        help="gain_per_volt of the cell (default 1.0)")
    parser.add_argument("--out", type=Path, default=Path("/tmp"),
                        help=f"folder for {PLOT_NAME}, or a .png path (default /tmp)")
    return parser.parse_args(argv)


def measure(cell: TanhCell) -> dict:
    """Sweep one cell and return its transfer, departure, slope and saturation."""
    i_tail_a, gain = cell.i_tail_a, cell.gain_per_volt
    start = time.perf_counter()
    transfer = measure_transfer(cell, x_max_v=INPUT_RANGE / gain)
    elapsed = time.perf_counter() - start
    departure = tanh_departure(*transfer, i_tail_a=i_tail_a, gain_per_volt=gain)
    slope = small_signal_slope(*transfer, half_width_v=SLOPE_HALF_WIDTH / gain)
    saturated = measure_transfer(cell, x_max_v=SATURATION_INPUT / gain, points=161)
    return {
        "i_tail_a": i_tail_a,
        "transfer": transfer,
        "departure": departure,
        "slope_ratio": slope / (i_tail_a * gain),
        "saturation": saturated.i_out_a[-1] / i_tail_a,
        "elapsed_s": elapsed,
    }


def print_table(rows: list[dict], gain: float) -> None:
    print(f"tanh cell (2N3904 pair), gain_per_volt = {gain:g} /V, |gain V_x| <= "
          f"{INPUT_RANGE:g}, ngspice {ngspice_version()}")
    header = (f"{'I_tail':>9} {'max dep':>9} {'at g*x':>7} {'fit g/gain':>10} {'fit A':>8} "
              f"{'fit resid':>9} {'slope':>8} {'sat':>8} {'sweep s':>7}")
    print(header)
    print("-" * len(header))
    for row in rows:
        departure = row["departure"]
        print(f"{row['i_tail_a']:9.2e} {departure.max_departure:9.2e} "
              f"{gain * departure.x_at_max_v:7.3f} "
              f"{departure.fit_gain_per_volt / gain:10.5f} {departure.fit_amplitude:8.5f} "
              f"{departure.fit_max_residual:9.2e} {row['slope_ratio']:8.5f} "
              f"{row['saturation']:8.5f} {row['elapsed_s']:7.3f}")


def plot(rows: list[dict], gain: float, path: Path) -> None:
    figure, (transfer_axis, error_axis) = plt.subplots(1, 2, figsize=(11, 4),
                                                       constrained_layout=True)
    u = np.linspace(-INPUT_RANGE, INPUT_RANGE, 601)
    transfer_axis.plot(u, np.tanh(u), color="black", linestyle="--", label="tanh(g x)")
    for row in rows:
        x, current = row["transfer"]
        label = f"I_tail = {row['i_tail_a']:.0e} A"
        ratio = current / row["i_tail_a"]
        transfer_axis.plot(gain * x, ratio, label=label)
        error_axis.plot(gain * x, ratio - np.tanh(gain * x), label=label)
    transfer_axis.set_xlabel("gain_per_volt * V_x")
    transfer_axis.set_ylabel("I_out / I_tail")
    transfer_axis.set_title("transfer")
    transfer_axis.legend()
    error_axis.set_xlabel("gain_per_volt * V_x")
    error_axis.set_ylabel("I_out / I_tail - tanh(gain_per_volt * V_x)")
    error_axis.set_title("departure from ideal tanh")
    error_axis.legend()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    try:
        cells = [TanhCell(i_tail_a=i_tail_a, gain_per_volt=arguments.gain)
                 for i_tail_a in arguments.i_tail]
    except ValueError as err:
        print(f"tanh_cell_report: {err}", file=sys.stderr)
        return 2
    rows = [measure(cell) for cell in cells]
    print_table(rows, arguments.gain)
    out = arguments.out
    path = out if out.suffix == ".png" else out / PLOT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, arguments.gain, path)
    print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
