"""The Markdown report of a run."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_report"]

_LABELS = {
    "twin_vs_spice": "twin against ngspice (ideal values)",
    "spice_vs_reference": "ngspice against the exact semi-discrete solution",
    "twin_vs_reference": "twin against the exact semi-discrete solution",
    "rounded_spice_vs_ideal_spice": "ngspice, rounded parts against ideal values",
    "rounded_twin_vs_rounded_spice": "twin against ngspice (rounded parts)",
    "reference_vs_continuum": "semi-discrete against continuum solution",
}


def _metric_rows(metrics: dict, tiles: bool = False) -> list[str]:
    rows = ["| comparison | relative L2 | max abs (V) | max abs / peak |",
            "|---|---|---|---|"]
    for key, entry in metrics.items():
        if "relative_l2" not in entry:
            continue
        label = _LABELS.get(key, key)
        if tiles:
            label = label.replace("ngspice", "ngspice tiles")
        rows.append(f"| {label} | {entry['relative_l2']:.3e} | "
                    f"{entry['max_abs']:.3e} | {entry['max_abs_over_peak']:.3e} |")
    return rows


def _block_text(block) -> str:
    """Return a tile's owned grid indices as half-open ranges, such as ``[0, 8) x [8, 16)``."""
    return " x ".join(f"[{start}, {stop})" for start, stop in block)


def _tile_lines(tiles: dict) -> list[str]:
    """Return the report section on ngspice in tiles: the split, the cluster, every tile."""
    cluster = tiles["cluster"]
    if cluster["kind"] == "local":
        where = f"a local Dask cluster, {cluster['workers']} worker process(es), started in"
    else:
        where = (f"the Dask scheduler at {cluster['address']}, {cluster['workers']} worker "
                 "process(es), connected in")
    ideal, rounded = tiles["ideal"], tiles["rounded"]
    lines = ["## ngspice in tiles", "", tiles["note"], "",
             f"- tiles: {'x'.join(map(str, tiles['tiles']))}, overlap {tiles['overlap']}; halo "
             f"sources within {tiles['halo_rtol']:g} of the twin's peak voltage",
             f"- cluster: {where} {cluster['start_s']:.1f} s",
             f"- ideal values: {ideal['summary']}",
             f"- rounded parts: {rounded['summary']}", "",
             "| tile | grid indices | nodes | halo nodes | PWL corners | relative L2, ideal | "
             "relative L2, rounded | ngspice s, ideal | ngspice s, rounded |",
             "|---|---|---|---|---|---|---|---|---|"]
    for number, (a, b) in enumerate(zip(ideal["per_tile"], rounded["per_tile"])):
        lines.append(f"| {number} | {_block_text(a['block'])} | {a['owned']} | {a['halo']} | "
                     f"{a['corners']} | {a['relative_l2']:.3e} | {b['relative_l2']:.3e} | "
                     f"{a['elapsed_s']:.2f} | {b['elapsed_s']:.2f} |")
    return lines + ["", "Relative L2 is each tile's own nodes against the twin of the same "
                    "circuit, over all output times. PWL corners are per halo source.", ""]


def _probe_rows(metrics: dict) -> list[str]:
    entry = metrics["twin_vs_spice"]["per_probe"]
    rows = ["| probe | relative L2 | max abs (V) |", "|---|---|---|"]
    rows += [f"| {name} | {m['relative_l2']:.3e} | {m['max_abs']:.3e} |"
             for name, m in entry.items()]
    return rows


def _rounding_rows(rounding: dict) -> list[str]:
    rows = ["| part | series | count | distinct values | max change | mean change |",
            "|---|---|---|---|---|---|"]
    for kind, entry in rounding.items():
        rows.append(f"| {kind} | {entry['series']} | {entry['count']} | "
                    f"{entry['distinct_values']} | {100 * entry['max_relative_change']:.3f} % | "
                    f"{100 * entry['mean_relative_change']:.3f} % |")
    return rows


def _reference_note(design) -> str:
    from npdehw.models.exact import has_mode_solution, is_linear

    if design.diffusion is not None and has_mode_solution(design.diffusion):
        return ("Reference: closed-form decay of the discrete Laplacian's eigenmodes; the "
                "continuum row shows the spatial discretization error of the grid itself.")
    if design.mapping.tanh_cell == "bjt":
        return ("ngspice builds every tanh from a bipolar differential pair (2N3904 card, "
                "npdehw.hw.cells) while the twin keeps the ideal tanh, so the gap between "
                "them is the departure of the transistor cells.")
    if is_linear(design.npde):
        return ("Reference: exp(t A) u0 of the model's semi-discrete operator, computed with "
                "scipy.sparse.linalg.expm_multiply, independently of the circuit.")
    return ("No closed-form reference: the NPDE is nonlinear, so ngspice and the twin are "
            "compared with each other.")


def _analysis_lines(metrics: dict) -> list[str]:
    analysis = metrics.get("analysis")
    if analysis is None:
        return []
    lines = ["## Analysis: " + analysis["kind"].replace("_", " "), ""]
    if analysis["kind"] == "front_speed":
        lines.append(f"Expected speed 2 sqrt(r D) = {analysis['expected_speed']:.4f}, fitted "
                     f"from model time {analysis['fit_from']:g} at level {analysis['level']:g}.")
        lines += ["", "| simulator | speed | relative error |", "|---|---|---|"]
        lines += [f"| {key} | {analysis[key]['speed']:.4f} | "
                  f"{100 * analysis[key]['relative_error']:+.2f} % |" for key in ("spice", "twin")]
    elif analysis["kind"] == "wave_packet":
        lines += ["| simulator | max norm change | max width error |", "|---|---|---|"]
        lines += [f"| {key} | {analysis[key]['max_norm_change']:.3e} | "
                  f"{100 * analysis[key]['max_width_error']:.3f} % |" for key in ("spice", "twin")]
    elif analysis["kind"] == "edge_map":
        lines.append(f"{analysis['edge_pixels']} edge pixels of {analysis['pixels']}.")
        lines += ["", "| simulator | mismatched pixels | min abs output |", "|---|---|---|"]
        lines += [f"| {key} | {analysis[key]['mismatched_pixels']} | "
                  f"{analysis[key]['min_abs_output']:.3f} |" for key in ("spice", "twin")]
    elif analysis["kind"] == "network_output":
        lines.append(f"torch output: {', '.join(f'{v:.6f}' for v in analysis['expected'])}")
        lines += ["", "| simulator | settled output | max abs error |", "|---|---|---|"]
        lines += [f"| {key} | {', '.join(f'{v:.6f}' for v in analysis[key]['output'])} | "
                  f"{analysis[key]['max_abs_error']:.3e} |" for key in ("spice", "twin")]
    return lines + [""]


def _tile_headline(tiles: dict | None) -> list[str]:
    if tiles is None:
        return []
    count = len(tiles["ideal"]["per_tile"])
    return [f"**ngspice ran in {count} tiles ({'x'.join(map(str, tiles['tiles']))}), not as "
            "one circuit.** Each tile's halo nodes were driven by the twin's voltages, so "
            "agreement with the twin checks every tile circuit but not the twin's voltages "
            "at the tile boundaries; see [ngspice in tiles](#ngspice-in-tiles).", ""]


def write_report(result, record: dict, path: Path) -> None:
    """Write ``report.md`` from a run and its results record."""
    design = result.design
    solver = record["solver_options"]
    tiles = record.get("spice_tiles")
    lines = [
        f"# {design.name}", "", design.description, "",
        f"Design file: `{design.source}`. Nodes: {record['components']['nodes']}, "
        f"components: {record['components']['elements']}.", "",
        "## Agreement", "",
        *_tile_headline(tiles),
        "ngspice's own time points are interpolated linearly onto the twin's "
        f"{len(result.time_s)} output times before comparing.", "",
        *_metric_rows(record["metrics"], tiles is not None), "", _reference_note(design), "",
        "### Per probe (twin against ngspice)", "", *_probe_rows(record["metrics"]), "",
        *_analysis_lines(record["metrics"]),
        *(_tile_lines(tiles) if tiles is not None else []),
        "## Rounding to parts", "", *_rounding_rows(record["rounding"]), "",
        "Only resistors and capacitors are rounded. Transconductances and behavioural "
        "sources stand for amplifier stages whose gains are set, not bought, so a circuit "
        "built from them alone is unchanged by rounding.", "",
        "## Solver options", "",
        f"- ngspice: method {solver['ngspice']['method']}, reltol {solver['ngspice']['reltol']:g}, "
        f"max step {solver['ngspice']['max_step_s']:.3e} s, stop {solver['ngspice']['stop_s']:.3e} s",
        f"- twin: {solver['twin']['method']}, {solver['twin']['n_steps']} steps of "
        f"{solver['twin']['dt_s']:.3e} s, {solver['twin']['backend']} solve", "",
        "## Timings", "",
        *[f"- {stage}: {seconds:.3f} s" for stage, seconds in record["timings_s"].items()], "",
        "## Files", "",
        "- `netlist.cir`, `netlist_quantized.cir`: run with `ngspice -b netlist.cir`",
        "- `bom.csv`: bill of materials of the rounded circuit",
        "- `waveforms.csv`: probe voltages over time", "- `results.json`: all metrics",
        "- `fields.png`, `errors.png`", "",
        "![fields](fields.png)", "", "![errors](errors.png)", "",
    ]
    path.write_text("\n".join(lines))
