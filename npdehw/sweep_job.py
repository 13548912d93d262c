"""A whole sweep: settings, nominal results, the samples on Dask, the summary files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from npdehw.design import Design
from npdehw.network_design import NetworkDesign
from npdehw.sweep_options import SweepOptionError, SweepOptions, with_defaults
from npdehw.sweep_settings import design_digest, expand_settings

__all__ = ["SweepRequest", "design_kind", "run_sweep", "summary_lines"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepRequest:
    """A sweep as the command line gives it.

    Attributes:
        design: path or bundled name of the design.
        options: what to sample and how to judge it.
        out: sweep folder, or None for ``sweeps/<design name>``.
        workers: worker processes of the local cluster.
        scheduler: address of an existing Dask scheduler, or None for a local cluster.
        quiet: no progress bar.
        verbose: let the local cluster's workers log warnings to stderr.
        command: the command line, recorded in the report.
    """

    design: str | None
    options: SweepOptions
    out: Path | None = None
    workers: int = 1
    scheduler: str | None = None
    quiet: bool = False
    verbose: bool = False
    command: str = ""


def manifest(path: Path, options: SweepOptions) -> dict:
    """Return what must match for a rerun to reuse the stored samples."""
    values = {"design_sha256": design_digest(path),
              "variations": [{"key": v.key, "values": list(v.values)}
                             for v in options.variations],
              "seed": options.seed, "distribution": options.distribution,
              "tolerance_overrides": dict(sorted(options.tolerances.items()))}
    if options.network_samples is not None:
        values["network_samples"] = options.network_samples
    return values


def design_kind(settings) -> str:
    """Return ``grid`` or ``network``, the kind of design the settings hold.

    Raises:
        SweepOptionError: for a design that is neither.
    """
    design = settings[0].design
    if isinstance(design, Design):
        return "grid"
    if isinstance(design, NetworkDesign):
        return "network"
    raise SweepOptionError(f"{design.source}: npdehw sweep runs grid designs (with an "
                           "[npde] table) and crossbar network designs (with a [network] "
                           "table); this design has neither")


def _contexts(settings, options: SweepOptions, kind: str, quiet: bool) -> list:
    """Return the shared data of each setting's samples."""
    from npdehw.sweep_prepare import failing_samples, grid_context

    if kind == "grid":
        return [grid_context(s.design, options) for s in settings]
    from npdehw.sweep_network import check_network_options, network_context

    check_network_options(settings[0].design, options)
    trained, failing = {}, failing_samples()
    return [network_context(s.design, options, trained, failing=failing, progress=not quiet)
            for s in settings]


def run_sweep(request: SweepRequest) -> tuple[Path, dict]:
    """Run the sweep and return the sweep folder and its results.

    Raises:
        DesignError: on an invalid design, ``--vary`` value or option (exit status 2).
        FileExistsError: when the folder may not be written (exit status 2).
    """
    from npdehw.sweep_report import sweep_results, write_summary
    from npdehw.sweep_store import open_sweep_folder

    path, settings = expand_settings(request.design, request.options.variations)
    kind = design_kind(settings)
    options = with_defaults(request.options, kind)
    request = dataclasses.replace(request, options=options)
    contexts = _contexts(settings, options, kind, request.quiet)
    out = request.out if request.out is not None else Path("sweeps") / settings[0].design.name
    design_text = path.read_text(encoding="utf-8")
    with open_sweep_folder(out, manifest(path, options), design_text) as folder:
        run = _run_pending(request, folder, contexts)
        records = folder.records()
        design = settings[0].design
        design_info = {"name": design.name, "description": design.description,
                       "file": str(path), "sha256": folder.manifest["design_sha256"]}
        results = sweep_results(design_info, settings, contexts, records, options, run)
        write_summary(folder, results, records, settings, request.command)
    return folder.path, results


def _run_pending(request: SweepRequest, folder, contexts: list) -> dict:
    """Run the samples the folder does not hold yet; return what this run did."""
    from npdehw.sweep_cluster import dask_client
    from npdehw.sweep_run import pending_samples, run_samples

    options = request.options
    stored = folder.records()
    pending = pending_samples(stored, len(contexts), options.samples, options.retry_failed)
    kept = len(contexts) * (options.samples + 1) - len(pending)
    waiting = set(pending)
    failed_before = sum(record["status"] == "failed" for key, record in stored.items()
                        if key not in waiting)
    run = {"done": 0, "failed": 0, "wall_s": 0.0, "samples_s": 0.0, "stored_before": kept,
           "cluster": "no cluster (every sample was stored)"}
    if not pending:
        return run
    with dask_client(request.workers, request.scheduler, verbose=request.verbose) as client:
        run["cluster"] = _cluster_text(request, client)
        run.update(run_samples(client, folder, contexts, pending, total=kept + len(pending),
                               failed_before=failed_before, quiet=request.quiet))
    return run


def _cluster_text(request: SweepRequest, client) -> str:
    workers = len(client.scheduler_info(n_workers=-1)["workers"])
    if request.scheduler is not None:
        return f"the scheduler at {request.scheduler} ({workers} workers)"
    return f"a local cluster of {workers} worker processes, one thread each"


def summary_lines(folder: Path, results: dict) -> list[str]:
    """Return the lines the command prints: folder, then yield per setting."""
    sweep = results["sweep"]
    lines = [f"sweep folder: {folder}",
             f"specification: {sweep['spec_text']}; Monte Carlo samples per setting: "
             f"{sweep['samples_per_setting']}"]
    for entry in results["settings"]:
        stats = entry["statistics"]
        if entry["yield"] is None:
            lines.append(_nominal_line(entry, sweep))
            continue
        low, high = entry["yield_interval_95"]
        lines.append(f"{entry['label']}: yield {100 * entry['yield']:.1f} % "
                     f"({entry['passed']}/{entry['samples_done']}, 95 % interval "
                     f"{100 * low:.1f}-{100 * high:.1f} %), median {stats['p50']:.3e}, "
                     f"p95 {stats['p95']:.3e}, failed {entry['samples_failed']}")
    return lines


def _nominal_line(entry: dict, sweep: dict) -> str:
    """Return the line of a setting without simulated Monte Carlo samples."""
    failed = f", {entry['samples_failed']} samples failed" if entry["samples_failed"] else ""
    if entry["nominal"] is None:
        return f"{entry['label']}: nominal run failed{failed}"
    value = entry["nominal"][sweep["figure"]]
    verdict = "passes" if value <= sweep["spec"] else "fails"
    return f"{entry['label']}: nominal {sweep['figure']} {value:.3e} ({verdict}){failed}"
