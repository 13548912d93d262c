"""Drive one memristor with a sine voltage and plot its pinched hysteresis loops.

For each frequency (default 0.5, 1 and 5 Hz at 1 V from w0 = 0.1) the script runs
the device of ``npdehw.hw.memristor`` in ngspice and in the torch twin of
``npdehw.sim.memristor_twin`` and prints one table row:

- ``rel L2 i``: ||i_spice - i_twin|| / ||i_twin|| after interpolating ngspice's
  points onto the twin grid;
- ``area``: loop area, the sum over lobes of |∮ i dv|, in ngspice and the twin;
- ``pinch``: max |i| at the zero crossings of v over max |i|, in ngspice and the twin;
- ``R ratio``: max over min of v / i in ngspice; ``w range``: the state's extremes
  in ngspice.

It writes a PNG with the i-v loops (ngspice solid, twin dashed) and the state
w(t) to ``--out`` (default /tmp/memristor_loop.png).

Usage:
    .venv/bin/python bench/memristor_loop.py [--frequencies 0.5 1 5]
        [--amplitude 1.0] [--w0 0.1] [--window biolek] [--steps 2000]
        [--out /tmp/memristor_loop.png]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from npdehw.hw.memristor import (  # noqa: E402
    WINDOWS,
    MemristorParameters,
    hysteresis_metrics,
    simulate_loop_spice,
)
from npdehw.sim.memristor_twin import relative_l2, simulate_loop_twin  # noqa: E402
from npdehw.sim.ngspice import ngspice_version  # noqa: E402

MICRO = 1e6


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frequencies", type=float, nargs="+", default=[0.5, 1.0, 5.0],
                        metavar="HZ", help="drive frequencies in hertz (default 0.5 1 5)")
    parser.add_argument("--amplitude", type=float, default=1.0, metavar="VOLTS",
                        help="drive amplitude in volts (default 1.0)")
    parser.add_argument("--w0", type=float, default=0.1, help="initial state (default 0.1)")
    parser.add_argument("--window", choices=WINDOWS, default="biolek",
                        help="window function (default biolek)")
    parser.add_argument("--steps", type=int, default=2000,
                        help="twin steps and ngspice points per period (default 2000)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/memristor_loop.png"),
                        help="PNG path (default /tmp/memristor_loop.png)")
    return parser.parse_args(argv)


def run(arguments) -> list[dict]:
    """Run ngspice at each frequency and the twin on all of them at once."""
    params = MemristorParameters(window=arguments.window)
    drive = {"amplitude_v": arguments.amplitude, "w0": arguments.w0}
    start = time.perf_counter()
    batch = simulate_loop_twin(params, frequency_hz=arguments.frequencies,
                               steps_per_period=arguments.steps, **drive)
    twin_s = time.perf_counter() - start
    rows = []
    for row, frequency_hz in enumerate(arguments.frequencies):
        start = time.perf_counter()
        spice = simulate_loop_spice(params, frequency_hz=frequency_hz,
                                    points_per_period=arguments.steps, **drive)
        spice_s = time.perf_counter() - start
        twin = batch.to_trace(row)
        rows.append({
            "frequency_hz": frequency_hz,
            "spice": spice,
            "twin": twin,
            "spice_metrics": hysteresis_metrics(spice.v, spice.i),
            "twin_metrics": hysteresis_metrics(twin.v, twin.i),
            "rel_l2": relative_l2(spice.time_s, spice.i, twin.time_s, twin.i),
            "spice_s": spice_s,
            "twin_s": twin_s / len(arguments.frequencies),
        })
    return rows


def print_table(rows: list[dict], arguments) -> None:
    print(f"memristor loop: {arguments.amplitude:g} V sine, w0 = {arguments.w0:g}, "
          f"window {arguments.window}, ngspice {ngspice_version()}")
    header = (f"{'f (Hz)':>7} {'rel L2 i':>9} {'area spice':>11} {'area twin':>11} "
              f"{'pinch spice':>11} {'pinch twin':>10} {'R ratio':>8} {'w range':>15} "
              f"{'spice s':>7} {'twin s':>6}")
    print(header)
    print("-" * len(header))
    for row in rows:
        s, t, w = row["spice_metrics"], row["twin_metrics"], row["spice"].w
        print(f"{row['frequency_hz']:7.3g} {row['rel_l2']:9.2e} {s.loop_area_w:11.4e} "
              f"{t.loop_area_w:11.4e} {s.pinch_ratio:11.1e} {t.pinch_ratio:10.1e} "
              f"{s.resistance_ratio:8.3f} {f'[{w.min():.3f}, {w.max():.3f}]':>15} "
              f"{row['spice_s']:7.2f} {row['twin_s']:6.2f}")


def plot(rows: list[dict], arguments, path: Path) -> None:
    figure, (loop_axis, state_axis) = plt.subplots(1, 2, figsize=(11, 4.5),
                                                   constrained_layout=True)
    for index, row in enumerate(rows):
        color = f"C{index}"
        spice, twin = row["spice"], row["twin"]
        label = f"{row['frequency_hz']:g} Hz"
        # ngspice wide and pale underneath, so the twin's dashes on top stay visible
        loop_axis.plot(spice.v, MICRO * spice.i, color=color, linewidth=3.5, alpha=0.45,
                       label=f"{label} ngspice")
        loop_axis.plot(twin.v, MICRO * twin.i, color=color, linewidth=1.2, linestyle="--",
                       dashes=(4, 3), label=f"{label} twin")
        frequency_hz = row["frequency_hz"]
        state_axis.plot(spice.time_s * frequency_hz, spice.w, color=color, linewidth=3.5,
                        alpha=0.45, label=f"{label} ngspice")
        state_axis.plot(twin.time_s * frequency_hz, twin.w, color=color, linewidth=1.2,
                        linestyle="--", dashes=(4, 3), label=f"{label} twin")
    loop_axis.axhline(0.0, color="grey", linewidth=0.5)
    loop_axis.axvline(0.0, color="grey", linewidth=0.5)
    loop_axis.set_xlabel("v (V)")
    loop_axis.set_ylabel("i (uA)")
    loop_axis.set_title(f"i-v loops, {arguments.window} window")
    loop_axis.legend(fontsize=8)
    state_axis.set_xlabel("t / period")
    state_axis.set_ylabel("state w")
    state_axis.set_title("state over one period")
    state_axis.legend(fontsize=8)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv=None) -> int:
    arguments = parse_arguments(argv)
    try:
        rows = run(arguments)
    except ValueError as err:
        print(f"memristor_loop: {err}", file=sys.stderr)
        return 2
    print_table(rows, arguments)
    path = arguments.out
    path.parent.mkdir(parents=True, exist_ok=True)
    plot(rows, arguments, path)
    print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
