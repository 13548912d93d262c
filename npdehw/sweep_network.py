"""The shared data of a crossbar network sweep's samples, computed once per setting.

The float network trains in this process as in ``npdehw run`` (same data split,
seeds and training settings), once for all settings that share the ``[network]`` and
``[training]`` tables. Its layers, the first ``--network-samples`` held-out digits and
the classes the DC twin of the quantized crossbars predicts for them go to the
workers, which program the crossbars per sample (``npdehw.sim.sweep_network``).
"""

from __future__ import annotations

import sys

import numpy as np

from npdehw.hw.crossbar_network import build_crossbar_network
from npdehw.models.digits import fit_mlp, load_digits_split
from npdehw.network_design import NetworkDesign
from npdehw.network_pipeline import network_layers
from npdehw.sim.crossbar_run import run_crossbar_twin
from npdehw.sim.sweep_network import NETWORK_FIGURES, NetworkSampleContext
from npdehw.sweep_options import SweepOptionError

__all__ = ["check_network_options", "network_context", "train_layers"]


def train_layers(design: NetworkDesign, *, progress: bool = False):
    """Return the trained layers and the held-out inputs and labels of ``design``."""
    settings = design.network
    x_train, x_test, y_train, y_test = load_digits_split(seed=settings.seed)
    module, _ = fit_mlp(x_train, y_train, design.training.spec, hidden=settings.hidden,
                        activation=settings.activation,
                        weight_decay=design.training.weight_decay,
                        weight_limit=settings.weight_limit, progress=progress)
    return network_layers(module), x_test, y_test


def _twin_classes(design: NetworkDesign, layers, inputs: np.ndarray) -> np.ndarray:
    network = build_crossbar_network(layers, design.device, read_v=design.read_v,
                                     readout=design.readout, quantize=True, seed=None,
                                     max_rows=design.max_rows, max_cols=design.max_cols)
    outputs, _ = run_crossbar_twin(network, inputs)
    return outputs.argmax(axis=1)


def check_network_options(design: NetworkDesign, options) -> None:
    """Reject options of grid sweeps that mean nothing for a crossbar network."""
    if options.figure not in NETWORK_FIGURES:
        raise SweepOptionError(f"--figure {options.figure}: {design.source} is a crossbar "
                               f"network design; use one of {sorted(NETWORK_FIGURES)}")
    if options.tolerances:
        raise SweepOptionError(f"--{next(iter(options.tolerances))}-tolerance: "
                               f"{design.source} is a crossbar network design, whose device "
                               "variation comes from [crossbar] programming_noise, "
                               "stuck_min_rate and stuck_max_rate; vary those with --vary")
    if options.distribution != "normal":
        raise SweepOptionError(f"--distribution {options.distribution}: {design.source} is "
                               "a crossbar network design, whose programming noise is "
                               "normal; leave the option out")


def network_context(design: NetworkDesign, options, trained: dict, *,
                    failing: frozenset[int] = frozenset(),
                    progress: bool = False) -> NetworkSampleContext:
    """Return what every sample of ``design`` shares.

    ``trained`` caches the training result by the design's ``[network]`` and
    ``[training]`` settings, so settings that only change other keys train once.
    """
    key = repr((design.network, design.training))
    if key not in trained:
        if progress:
            print(f"training the {design.network.hidden}-unit network of {design.name}",
                  file=sys.stderr, flush=True)
        trained[key] = train_layers(design, progress=progress)
    layers, x_test, y_test = trained[key]
    count = options.network_samples
    inputs, labels = x_test[:count], y_test[:count].astype(np.int64)
    return NetworkSampleContext(
        title=design.name, layers=layers, device=design.device, read_v=design.read_v,
        readout=design.readout, max_rows=design.max_rows, max_cols=design.max_cols,
        inputs=inputs, labels=labels, twin_classes=_twin_classes(design, layers, inputs),
        seed=options.seed, failing_samples=failing)
