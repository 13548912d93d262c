"""Inference throughput of the mlp_digits crossbar network: ngspice against the DC twin.

Trains the bundled design's network, maps it onto crossbars (ideal and quantized
conductances, no wire resistance) and runs the same held-out samples through
``run_crossbar_spice`` (one netlist whose input sources step through the samples)
and ``run_crossbar_twin``. The runs alternate over the repetitions and the script
reports median samples per second and their ratio. With ``--out`` it replaces its
own section of the Markdown file.

Usage:
    .venv/bin/python bench/bench_crossbar.py [--samples 300] [--repeats 3]
        [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
from pathlib import Path

import numpy as np

from markdown_section import write_section
from npdehw.design import load_design
from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.models.digits import load_digits_split, train_mlp
from npdehw.network_pipeline import network_layers
from npdehw.sim.crossbar_run import run_crossbar_spice, run_crossbar_twin
from npdehw.sim.ngspice import ngspice_version

START, END = "<!-- bench_crossbar: start -->", "<!-- bench_crossbar: end -->"


def measure(samples: int, repeats: int) -> list[dict]:
    design = load_design("mlp_digits")
    x_train, x_test, y_train, y_test = load_digits_split(seed=0)
    layers = network_layers(train_mlp(x_train, y_train, seed=0, weight_limit=1.0))
    inputs, labels = x_test[:samples], y_test[:samples]
    rows = []
    for quantize in (False, True):
        network = build_crossbar_network(layers, design.device, quantize=quantize, seed=None)
        spice_times, twin_times = [], []
        for _ in range(repeats):
            spice, seconds = run_crossbar_spice(network, inputs)
            spice_times.append(seconds)
            twin, seconds = run_crossbar_twin(network, inputs)
            twin_times.append(seconds)
        rows.append({
            "variant": "quantized" if quantize else "ideal",
            "spice_rate": samples / statistics.median(spice_times),
            "twin_rate": samples / statistics.median(twin_times),
            "agreement": float(np.mean(spice.argmax(1) == twin.argmax(1))),
            "accuracy": float(np.mean(spice.argmax(1) == labels)),
        })
    return rows


def section(rows, samples, repeats) -> str:
    lines = [START, "## Crossbar inference throughput (bench/bench_crossbar.py)", "",
             f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"- command: `.venv/bin/python bench/bench_crossbar.py --samples {samples} "
             f"--repeats {repeats} --out docs/benchmarks.md`",
             f"- machine: {os.cpu_count()} CPUs, {platform.machine()}, ngspice "
             f"{ngspice_version()}",
             "- network: mlp_digits (64-32-10, tanh), differential crossbars, 64 x 64 "
             "tiles, ideal readout, no wire resistance; medians over the repetitions", "",
             "| variant | ngspice samples/s | twin samples/s | twin / ngspice | "
             "class agreement | ngspice accuracy |", "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['variant']} | {row['spice_rate']:.1f} | {row['twin_rate']:.0f} | "
                     f"{row['twin_rate'] / row['spice_rate']:.0f}x | "
                     f"{100 * row['agreement']:.1f} % | {100 * row['accuracy']:.2f} % |")
    return "\n".join(lines + ["", END])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300, help="held-out samples per run")
    parser.add_argument("--repeats", type=int, default=3, help="repetitions per variant")
    parser.add_argument("--out", type=Path, help="Markdown file whose section is replaced")
    args = parser.parse_args()
    text = section(measure(args.samples, args.repeats), args.samples, args.repeats)
    print(text)
    if args.out:
        write_section(args.out, text, START, END)


if __name__ == "__main__":
    main()
