"""Command line: ``npdehw run``, ``npdehw validate`` and ``npdehw designs``.

Exit status: 0 on success, 2 on invalid input (design, circuit, options), 1 when a
simulator fails, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from npdehw import __version__
from npdehw.errors import CircuitError, DesignError, SimulationError
from npdehw.stages import StageTracker
from npdehw.sweep_cli import add_sweep_parser, command_sweep

__all__ = ["main"]

logger = logging.getLogger("npdehw")

DESIGN_HELP = ("design file (.toml) or the name of a bundled design; "
               "default: heat2d, a 32 x 32 heat-equation grid")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="npdehw",
        description="Map an NPDE onto an analog circuit (RC grid, transconductances, "
                    "behavioural sources or memristor crossbars), simulate it in ngspice and "
                    "in a torch twin, round it to parts and export a buildable design.",
    )
    parser.add_argument("--version", action="version", version=f"npdehw {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log solver decisions and ngspice notes to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_parser(commands)
    _add_validate_parser(commands)
    add_sweep_parser(commands)
    commands.add_parser("designs", help="list the bundled designs",
                        description="List the bundled designs with their descriptions.")
    return parser


def _add_run_parser(commands) -> None:
    run = commands.add_parser(
        "run", help="run the whole pipeline and write a run folder",
        description="NPDE designs: load, map, ngspice (ideal values), twin, round to E-series "
                    "parts, ngspice (rounded parts), compare, export. Times in the design are "
                    "in model units, and [circuit] time_scale_s converts them to seconds. "
                    "Crossbar designs ([network] or [hopfield]) train or store, map to "
                    "crossbars and run ngspice and the twin on the same inputs.")
    run.add_argument("design", nargs="?", default=None, help=DESIGN_HELP)
    run.add_argument("--out", type=Path, default=None,
                     help="run folder to write (default: runs/<design name> under the "
                          "current folder). An earlier run folder is replaced only when the "
                          "run succeeds, and any other non-empty folder is refused")
    run.add_argument("--quiet", action="store_true", help="print no stage progress")
    run.add_argument("--fresh", action="store_true",
                     help="train from the start, ignoring checkpoints that a stopped run "
                          "left beside the run folder")
    run.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                     help="log solver decisions and ngspice notes to stderr")
    tiles = run.add_argument_group(
        "ngspice in tiles (grid designs)",
        "With --spice tiles, ngspice runs the ideal and the rounded circuit tile by tile on "
        "a Dask cluster instead of as one circuit. Each tile's halo nodes are driven by the "
        "twin's voltages, so agreement with the twin checks every tile circuit but not the "
        "twin's voltages at the tile boundaries.")
    tiles.add_argument("--spice", choices=("full", "tiles"), default="full",
                       help="full (default): one ngspice run per circuit; tiles: ngspice in "
                            "tiles, stitched back together for the comparison")
    tiles.add_argument("--tiles", default=None, metavar="NxM",
                       help="tiles per grid axis, such as 4x4 (2-D) or 4 (1-D); default: "
                            "blocks of at most 625 grid nodes")
    tiles.add_argument("--workers", default=None, metavar="N",
                       help="worker processes of the local Dask cluster, one ngspice each "
                            "(default: 2)")
    tiles.add_argument("--halo-rtol", default=None, metavar="X",
                       help="largest deviation of a halo source from the twin, relative to "
                            "the twin's peak voltage (default: 1e-5; 0 puts a PWL corner at "
                            "every twin step)")
    tiles.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="address of a running Dask scheduler to use in place of a local "
                            "cluster, such as tcp://127.0.0.1:8786; its workers need npdehw "
                            "and ngspice")


def _add_validate_parser(commands) -> None:
    validate = commands.add_parser("validate", help="check a design without simulating",
                                   description="Load the design, build its circuit and check "
                                               "it, then print a summary.")
    validate.add_argument("design", help="design file (.toml) or the name of a bundled design")
    validate.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="log details to stderr")


def _command_run(args) -> int:
    from npdehw.design import load_design
    from npdehw.export import export_run
    from npdehw.pipeline import run_design
    from npdehw.pipeline_tiles import TileOptionError, tile_options

    from npdehw.runfolder import check_target

    tiles = tile_options(args.spice, tiles=args.tiles, workers=args.workers,
                         halo_rtol=args.halo_rtol, scheduler=args.scheduler)
    design = load_design(args.design)
    if hasattr(design, "job"):
        not_grid = f"{design.job} job"
    elif hasattr(design, "network"):
        not_grid = "crossbar network"
    elif hasattr(design, "neurons"):
        not_grid = "Hopfield crossbar"
    else:
        not_grid = None
    if tiles is not None and not_grid is not None:
        raise TileOptionError(f"--spice tiles: {design.source} is a {not_grid} design, and "
                              "ngspice in tiles applies only to grid designs ([npde]); leave "
                              "out --spice tiles")
    out = args.out if args.out is not None else Path("runs") / design.name
    check_target(out)
    tracker = None if args.quiet else StageTracker()
    if hasattr(design, "job"):
        from npdehw.jobs import job_module

        lines = job_module(design.job).run(design, out, quiet=args.quiet, fresh=args.fresh)
        print(f"run folder: {out}")
        print("\n".join(lines))
        return 0
    if hasattr(design, "network"):
        return _run_network(design, out, tracker, args.fresh)
    if hasattr(design, "neurons"):
        return _run_hopfield(design, out, args.quiet)
    if tiles is not None and not getattr(args, "verbose", False):
        import distributed  # noqa: F401  (importing it sets its loggers' levels)

        logging.getLogger("distributed").setLevel(logging.ERROR)
    result = run_design(design, tracker=tracker, export=lambda r: export_run(r, out),
                        tiles=tiles)
    print(f"run folder: {out}")
    for line in summary_lines(result.metrics):
        print(line)
    if result.tiles is not None:
        for label in ("ideal", "rounded"):
            print(f"ngspice tiles ({label}): {result.tiles[label].summary()}")
    return 0


def _run_hopfield(design, out, quiet) -> int:
    from npdehw.hopfield_job import export_hopfield_run, run_hopfield_design

    def progress(done, total):
        if not quiet:
            print(f"recall trial {done}/{total}", file=sys.stderr, flush=True)

    record = run_hopfield_design(design, progress)
    export_hopfield_run(design, record, out)
    print(f"run folder: {out}")
    print(f"recalled: ngspice {record['spice_recall_share']:.2f}, twin "
          f"{record['twin_recall_share']:.2f}; same state {record['same_state_share']:.2f}")
    return 0


def _run_network(design, out, tracker, fresh: bool) -> int:
    from npdehw.network_export import export_network_run
    from npdehw.network_pipeline import run_network_design
    from npdehw.training_setup import TrainingSetup, clear_checkpoints

    setup = TrainingSetup(out, design.source, fresh)
    result = run_network_design(design, tracker=tracker,
                                export=lambda r: export_network_run(r, out), setup=setup,
                                progress=tracker is not None)
    clear_checkpoints(out)
    print(f"run folder: {out}")
    metrics = result.metrics
    print(f"float network: accuracy {metrics['float_accuracy_full_test_set']:.4f}")
    for name, entry in metrics["variants"].items():
        spice = entry.get("spice_accuracy")
        spice_text = f", ngspice {spice:.4f} on {entry['spice_samples']}" if spice is not None else ""
        print(f"{name}: twin accuracy {entry['twin_accuracy']:.4f}{spice_text}")
    for levels, methods in metrics.get("quantization", {}).get("levels", {}).items():
        print(f"{levels} levels, quantized, ngspice: " + ", ".join(
            f"{method.upper()} {variants['quantized']['spice_accuracy']:.4f}"
            for method, variants in methods.items()))
    aware = metrics.get("physics_aware")
    if aware:
        print(f"physics-aware, ngspice with {aware['sense_ohm']:g} ohm sense resistance: "
              f"{aware['spice_accuracy_before']:.4f} before, {aware['spice_accuracy_after']:.4f} "
              f"after (twin {aware['twin_accuracy']:.4f})")
    return 0


def summary_lines(metrics: dict) -> list[str]:
    """Return the headline agreement figures of a run, one line each."""
    labels = (("twin_vs_spice", "twin vs ngspice"),
              ("spice_vs_reference", "ngspice vs exact semi-discrete"),
              ("rounded_spice_vs_ideal_spice", "rounded vs ideal (ngspice)"))
    return [f"{label}: relative L2 {metrics[key]['relative_l2']:.3e}"
            for key, label in labels if key in metrics]


def _command_validate(args) -> int:
    from npdehw.design import load_design
    from npdehw.hw.builder import build_circuit
    from npdehw.hw.checks import check_circuit
    from npdehw.pipeline import round_design

    design = load_design(args.design)
    if hasattr(design, "job"):
        print(f"{design.source}: valid; {design.name}, {design.summary()}")
        return 0
    if hasattr(design, "neurons"):
        print(f"{design.source}: valid; {design.name}, Hopfield network of "
              f"{design.neurons} neurons storing {design.patterns} patterns")
        return 0
    if hasattr(design, "network"):
        print(f"{design.source}: valid; {design.name}, {design.network.kind} network with "
              f"{design.network.hidden} hidden units on {design.device.levels}-level crossbars")
        return 0
    graph = build_circuit(design.npde, design.mapping)
    try:
        check_circuit(graph)
    except CircuitError as err:
        raise DesignError(f"{design.source}: the circuit is invalid: {err}") from err
    round_design(design, graph)
    kinds = {}
    for _, _, kind in graph.edges(data="kind"):
        kinds[kind] = kinds.get(kind, 0) + 1
    counts = ", ".join(f"{n} {k}s" for k, n in sorted(kinds.items()))
    print(f"{design.source}: valid; {design.name}, grid {list(design.npde.grid.shape)}, "
          f"{counts}")
    return 0


def _command_designs(args) -> int:
    from npdehw.design import bundled_designs, load_design

    for name, path in bundled_designs().items():
        print(f"{name:20s} {load_design(path).description}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader of our output went away (for example `npdehw designs | head`).
        sys.stderr.close()
        return 0


def _main(argv) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    command = {"run": _command_run, "validate": _command_validate,
               "designs": _command_designs, "sweep": command_sweep}[args.command]
    try:
        return command(args)
    except (DesignError, CircuitError, FileExistsError) as err:
        print(f"npdehw: error: {err}", file=sys.stderr)
        return 2
    except SimulationError as err:
        print(f"npdehw: simulation failed: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("npdehw: interrupted; earlier run folders are unchanged", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
