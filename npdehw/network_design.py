"""Crossbar network designs: a network trained in torch, mapped onto memristor crossbars.

A design with a ``[network]`` table (and no ``[npde]``) is read here:

- ``[network]``: ``kind = "digits_mlp"`` (scikit-learn's bundled 8 x 8 digits), the
  hidden width, activation, seed, optional weight limit, and how many held-out samples
  ngspice runs (``samples``) and runs with wire resistance (``wire_samples``);
- ``[crossbar]``: the device (conductance range in siemens, levels and their spacing,
  programming noise, stuck-at rates), the wire resistance per cell segment in ohms,
  the read voltage, the readout and the tile size;
- ``[training]`` (optional): how the float network trains, and its sub-tables
  ``[training.qat]`` (quantization-aware training at each of ``levels``) and
  ``[training.physics_aware]`` (training with ngspice in the forward pass, on a
  crossbar with a column sense resistance of ``sense_ohm`` that the twin leaves out).
  Each takes the keys of ``npdehw.training_setup.parse_training``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from npdehw.errors import SpecError
from npdehw.hw.crossbar_circuit import READOUTS, Readout
from npdehw.hw.devices import DeviceSpec
from npdehw.models.training import TrainSpec
from npdehw.network_training_design import NetworkTraining, parse_network_training
from npdehw.tomlkeys import Table

__all__ = ["NetworkDesign", "NetworkSettings", "parse_network_design"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkSettings:
    """The network to train and how many held-out samples each simulator runs."""

    kind: str = "digits_mlp"
    hidden: int = 32
    activation: str = "tanh"
    seed: int = 0
    weight_limit: float | None = 1.0
    samples: int = 300
    wire_samples: int = 10

    def __post_init__(self):
        if self.hidden < 1:
            raise SpecError("hidden", f"must be at least 1, got {self.hidden}")
        if self.activation not in ("tanh", "sigmoid", "relu"):
            raise SpecError("activation", f"unknown activation {self.activation!r}; use tanh, "
                            "sigmoid or relu")
        if not 1 <= self.samples <= 450:
            raise SpecError("samples", f"must be between 1 and 450 (the held-out split), got "
                            f"{self.samples}")
        if not 0 <= self.wire_samples <= self.samples:
            raise SpecError("wire_samples", f"must be between 0 and samples, got "
                            f"{self.wire_samples}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkDesign:
    """A validated crossbar network design."""

    name: str
    description: str
    source: Path
    network: NetworkSettings
    device: DeviceSpec
    readout: Readout
    wire_ohm: float
    read_v: float
    max_rows: int
    max_cols: int
    training: NetworkTraining = NetworkTraining(spec=TrainSpec(
        optimizer="adam", learning_rate=0.01, epochs=80, batch_size=64))


def parse_network_design(root: Table, name: str, description: str, path: Path) -> NetworkDesign:
    """Read the ``[network]`` and ``[crossbar]`` tables of a design."""
    network = _parse_network(root.table("network"))
    table = root.table("crossbar", optional=True)
    device_keys = {"g_min_s": table.number, "g_max_s": table.number, "levels": table.integer,
                   "level_spacing": table.string, "programming_noise": table.number,
                   "stuck_min_rate": table.number, "stuck_max_rate": table.number,
                   "read_noise": table.number}
    device = table.build(DeviceSpec, **{key: read(key) for key, read in device_keys.items()
                                        if table.has(key)})
    readout_kind = table.choice("readout", READOUTS) if table.has("readout") else "ideal"
    readout = Readout(kind=readout_kind,
                      opamp_gain=table.number("opamp_gain", default=1e5),
                      feedback_ohm=table.number("feedback_ohm", default=1e4))
    wire_ohm = table.number("wire_ohm", default=0.0)
    read_v = table.number("read_v", default=0.2)
    if wire_ohm < 0:
        raise SpecError(table.key("wire_ohm"), f"must be zero or positive, got {wire_ohm!r}")
    if not 0 < read_v <= 1.0:
        raise SpecError(table.key("read_v"), f"must be in (0, 1] volts so reads do not "
                        f"program the devices, got {read_v!r}")
    max_rows = table.integer("max_rows", default=64)
    max_cols = table.integer("max_cols", default=64)
    if max_rows < 1 or max_cols < 2:
        raise SpecError(table.key("max_rows"), f"tiles need at least 1 row and 2 columns, got "
                        f"{max_rows} x {max_cols}")
    table.finish()
    training = parse_network_training(root.table("training", optional=True), network,
                                      device)
    return NetworkDesign(name=name, description=description, source=path, network=network,
                         device=device, readout=readout, wire_ohm=wire_ohm, read_v=read_v,
                         max_rows=max_rows, max_cols=max_cols, training=training)


def _parse_network(table: Table) -> NetworkSettings:
    kind = table.choice("kind", ("digits_mlp",))
    kwargs = {"kind": kind}
    for key in ("hidden", "seed", "samples", "wire_samples"):
        if table.has(key):
            kwargs[key] = table.integer(key)
    if table.has("activation"):
        kwargs["activation"] = table.string("activation")
    if table.has("weight_limit"):
        kwargs["weight_limit"] = table.number("weight_limit")
    settings = table.build(NetworkSettings, **kwargs)
    table.finish()
    return settings
