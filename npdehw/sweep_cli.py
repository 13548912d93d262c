"""The ``npdehw sweep`` command line: Monte Carlo and parameter sweeps on Dask."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

__all__ = ["add_sweep_parser", "command_sweep"]

DESCRIPTION = """\
Monte Carlo over component tolerances or device variation, and parameter sweeps over
design keys, for grid designs ([npde]) and crossbar network designs ([network]).

Grid designs: the circuit is built and rounded to E-series parts as in npdehw run.
Each sample then draws every resistor and capacitor around its marked value within
the tolerance of its series (E192 0.5 %, E96 1 %, E48 2 %, E24 5 %, E12 10 %, E6 20 %)
or of --resistor-tolerance / --capacitor-tolerance, runs the whole circuit in ngspice
and scores it against the twin of the ideal circuit (--figure, default relative_l2;
--spec, default 0.01). Each setting also runs once with the parts at their marked
values (the nominal run).

Crossbar network designs: the network trains once in this process as in npdehw run
and its layers go to the workers. Each sample programs the quantized crossbars with
its own programming noise and stuck-at faults ([crossbar] programming_noise,
stuck_min_rate, stuck_max_rate; wires ideal), runs the first --network-samples
held-out digits (default 100) in ngspice and scores the error rate, 1 - accuracy
(--figure error_rate, the default, or class_flips against the DC twin of the
quantized crossbars; --spec, default 0.05). The nominal run programs every device
exactly to its level.

--vary KEY=V1,V2,... sets a dotted design key to each value in turn, for example
--vary npde.diffusion=0.5,1,2, --vary circuit.resistor_series=E96,E24 or
--vary crossbar.programming_noise=0.01,0.05; several --vary options give every
combination, and each setting runs its own Monte Carlo. Values are TOML (numbers,
true/false, quoted strings, arrays such as [16,16]); plain words such as E96 need no
quotes.

Samples run on a local Dask cluster of worker processes bound to 127.0.0.1, one
thread and one ngspice each, or on --scheduler. Each finished sample is stored at
once under OUT/samples/, so rerunning a stopped sweep with the same command runs only
the rest, and --samples can grow a finished sweep. Sample k draws from
numpy SeedSequence(--seed, spawn_key=(k,)): the same seed gives the same numbers.
OUT receives results.json, samples.csv, distribution.png (histogram and CDF) and
report.md. A folder holding another sweep, a run folder or foreign files is rejected.
"""


def add_sweep_parser(commands) -> None:
    """Add the ``sweep`` command and its options to the CLI's subcommands."""
    from npdehw.sweep_options import (parse_fraction, parse_held_out, parse_nonnegative_int,
                                      parse_positive_float, parse_variation)

    sweep = commands.add_parser("sweep", help="Monte Carlo and parameter sweeps on Dask",
                                description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument("design", help="design file (.toml) or the name of a bundled design")
    sweep.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help="sweep folder (default: sweeps/<design name> under the current "
                            "folder); an unfinished sweep there with the same design and "
                            "options resumes")
    sweep.add_argument("--samples", type=parse_nonnegative_int, default=100, metavar="N",
                       help="Monte Carlo samples per setting (default 100; 0 runs only the "
                            "nominal circuit of each setting)")
    sweep.add_argument("--seed", type=parse_nonnegative_int, default=0, metavar="N",
                       help="root seed of the part draws (default 0)")
    sweep.add_argument("--spec", type=parse_positive_float, default=None, metavar="MAX",
                       help="largest value of the figure that passes; yield is the passing "
                            "share (default 0.01 for grids, 0.05 for crossbar networks)")
    sweep.add_argument("--figure", default=None, metavar="NAME",
                       help="figure of merit of a grid: relative_l2 (default) or "
                            "max_abs_over_peak against the twin of the ideal circuit, "
                            "relative_l2_vs_rounded against the twin of the rounded circuit, "
                            "or probe:NAME, the relative L2 error over time at a probe of "
                            "the design; of a crossbar network: error_rate (default) or "
                            "class_flips")
    sweep.add_argument("--network-samples", type=parse_held_out, default=None, metavar="N",
                       help="held-out digits each sample of a crossbar network runs in "
                            "ngspice (default 100, at most 450)")
    sweep.add_argument("--distribution", default="normal", metavar="NAME",
                       help="deviation of each part: normal (default) with sigma = "
                            "tolerance / 3, truncated at the tolerance, or uniform within "
                            "the tolerance")
    sweep.add_argument("--resistor-tolerance", type=parse_fraction, default=None,
                       metavar="FRACTION",
                       help="resistor tolerance as a fraction (0.01) or percentage (1%%) in "
                            "place of the series tolerance")
    sweep.add_argument("--capacitor-tolerance", type=parse_fraction, default=None,
                       metavar="FRACTION",
                       help="capacitor tolerance in place of the series tolerance, for "
                            "example 0.05 for 5 %% capacitors")
    sweep.add_argument("--vary", type=parse_variation, action="append", default=[],
                       metavar="KEY=V1,V2,...",
                       help="run the sweep for each value of a dotted design key; repeat "
                            "for every combination")
    sweep.add_argument("--workers", type=parse_nonnegative_int, default=None, metavar="N",
                       help="worker processes of the local cluster (default: the CPUs this "
                            "process may use)")
    sweep.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler to use in place of a local "
                            "cluster, such as tcp://127.0.0.1:8786; its workers need npdehw "
                            "and ngspice")
    sweep.add_argument("--retry-failed", action="store_true",
                       help="run stored failed samples again")
    sweep.add_argument("--quiet", action="store_true", help="show no progress bar")
    sweep.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="log details to stderr")


def _options(args):
    from npdehw.sim.sweep_perturb import DISTRIBUTIONS
    from npdehw.sim.sweep_network import NETWORK_FIGURES
    from npdehw.sim.sweep_sample import FIGURES
    from npdehw.sweep_options import SweepOptionError, SweepOptions

    if args.distribution not in DISTRIBUTIONS:
        raise SweepOptionError(f"--distribution {args.distribution}: unknown distribution; "
                               f"use one of {list(DISTRIBUTIONS)}")
    known = {*FIGURES, *NETWORK_FIGURES}
    if args.figure is not None and args.figure not in known \
            and not args.figure.startswith("probe:"):
        raise SweepOptionError(f"--figure {args.figure}: unknown figure; use one of "
                               f"{sorted(known)} or probe:NAME")
    keys = [v.key for v in args.vary]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise SweepOptionError(f"--vary {repeated[0]} is given twice; list all its values "
                               "in one option")
    tolerances = {kind: value for kind, value in (("resistor", args.resistor_tolerance),
                                                  ("capacitor", args.capacitor_tolerance))
                  if value is not None}
    return SweepOptions(samples=args.samples, seed=args.seed, spec=args.spec,
                        figure=args.figure, distribution=args.distribution,
                        tolerances=tolerances, variations=tuple(args.vary),
                        retry_failed=args.retry_failed,
                        network_samples=args.network_samples)


def _workers(args) -> int:
    from npdehw.sweep_cluster import default_workers
    from npdehw.sweep_options import SweepOptionError

    if args.workers is None:
        return default_workers()
    if args.workers < 1:
        raise SweepOptionError("--workers must be at least 1")
    if args.scheduler is not None:
        raise SweepOptionError("--workers sets the size of a local cluster; leave it out "
                               "with --scheduler, whose workers are already running")
    return args.workers


def _command_text(args) -> str:
    """Return the command with every option that decides the numbers written out."""
    words = ["npdehw", "sweep", args.design, "--samples", str(args.samples), "--seed",
             str(args.seed)]
    if args.spec is not None:
        words += ["--spec", f"{args.spec:g}"]
    if args.figure is not None:
        words += ["--figure", args.figure]
    words += ["--distribution", args.distribution]
    if args.network_samples is not None:
        words += ["--network-samples", str(args.network_samples)]
    for kind in ("resistor", "capacitor"):
        value = getattr(args, f"{kind}_tolerance")
        if value is not None:
            words += [f"--{kind}-tolerance", f"{value:g}"]
    for variation in args.vary:
        words += ["--vary", variation.describe()]
    if args.out is not None:
        words += ["--out", str(args.out)]
    return shlex.join(words)


def command_sweep(args) -> int:
    """Run ``npdehw sweep`` and return its exit status."""
    from npdehw.sweep_job import SweepRequest, run_sweep, summary_lines

    verbose = getattr(args, "verbose", False)
    if not verbose:
        import distributed  # noqa: F401  (importing it sets its loggers' levels)

        # The scheduler and nannies run in this process and can log connection errors with
        # tracebacks while a cluster shuts down after Ctrl-C; a failed sample is stored
        # with its error either way, and -v shows these logs.
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
    request = SweepRequest(design=args.design, options=_options(args), out=args.out,
                           workers=_workers(args), scheduler=args.scheduler,
                           quiet=args.quiet, verbose=verbose,
                           command=_command_text(args))
    try:
        folder, results = run_sweep(request)
    except KeyboardInterrupt:
        print("npdehw: sweep interrupted; finished samples are stored, so rerun the same "
              "command to run the rest", file=sys.stderr)
        raise
    print("\n".join(summary_lines(folder, results)))
    return 0
