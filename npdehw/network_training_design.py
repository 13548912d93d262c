"""The ``[training]`` table of a crossbar network design and its two sub-tables.

- ``[training]``: the float network, with the keys of ``parse_training`` (optimizer,
  learning_rate, epochs, seed, patience, min_improvement, batch_size, momentum) and
  ``weight_decay``;
- ``[training.qat]``: post-training quantization (PTQ) against quantization-aware
  training (QAT) at each level count of ``levels``. ``noise`` is the relative
  programming noise that QAT injects (default: the device's ``programming_noise``);
- ``[training.physics_aware]``: training with ngspice in the forward pass, on a
  crossbar whose columns reach their readout through ``sense_ohm`` ohms, which the
  twin leaves out; each epoch draws ``samples_per_epoch`` training samples.

The sub-tables take the keys of ``parse_training`` too. A design without
``[training.qat]`` or ``[training.physics_aware]`` skips that stage.
"""

from __future__ import annotations

import dataclasses

from npdehw.errors import SpecError
from npdehw.hw.devices import DeviceSpec
from npdehw.models.training import TrainSpec
from npdehw.tomlkeys import Table
from npdehw.training_setup import parse_training

__all__ = ["NetworkTraining", "PhysicsAwareSettings", "QatSettings",
           "parse_network_training"]

TRAIN_SAMPLES = 1347  # the training split of the digits (75 % of 1797)


@dataclasses.dataclass(frozen=True, kw_only=True)
class QatSettings:
    """PTQ against QAT: the level counts compared and how QAT fine-tunes."""

    levels: tuple[int, ...]
    spec: TrainSpec
    noise: float

    def __post_init__(self):
        if not self.levels or any(count < 2 for count in self.levels):
            raise SpecError("levels", f"must list level counts of at least 2, got "
                            f"{list(self.levels)}")
        if len(set(self.levels)) != len(self.levels):
            raise SpecError("levels", f"lists a level count twice: {list(self.levels)}")
        if not 0 <= self.noise < 1:
            raise SpecError("noise", f"must be a relative standard deviation in [0, 1), "
                            f"got {self.noise!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PhysicsAwareSettings:
    """Training with ngspice in the loop against a crossbar with column sense resistance."""

    sense_ohm: float
    spec: TrainSpec
    samples_per_epoch: int = 256

    def __post_init__(self):
        if not self.sense_ohm > 0:
            raise SpecError("sense_ohm", f"must be a positive resistance in ohms, got "
                            f"{self.sense_ohm!r}")
        if not 1 <= self.samples_per_epoch <= TRAIN_SAMPLES:
            raise SpecError("samples_per_epoch", f"must be between 1 and {TRAIN_SAMPLES} "
                            f"(the training split), got {self.samples_per_epoch}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class NetworkTraining:
    """Training settings of the float network and of the optional QAT and physics-aware stages."""

    spec: TrainSpec
    weight_decay: float = 1e-3
    qat: QatSettings | None = None
    physics_aware: PhysicsAwareSettings | None = None

    def __post_init__(self):
        if not self.weight_decay >= 0:
            raise SpecError("weight_decay", f"must be zero or positive, got "
                            f"{self.weight_decay!r}")


def parse_network_training(table: Table, network, device: DeviceSpec) -> NetworkTraining:
    """Read ``[training]``; ``network`` supplies the default seed, ``device`` the noise."""
    spec = parse_training(table, optimizer="adam", learning_rate=0.01, epochs=80,
                          batch_size=64, seed=network.seed)
    weight_decay = table.number("weight_decay", default=1e-3)
    qat = _parse_qat(table.table("qat", optional=True), network, device) \
        if table.has("qat") else None
    physics_aware = _parse_physics_aware(table.table("physics_aware", optional=True),
                                         network) if table.has("physics_aware") else None
    training = table.build(NetworkTraining, spec=spec, weight_decay=weight_decay, qat=qat,
                           physics_aware=physics_aware)
    table.finish()
    return training


def _parse_qat(table: Table, network, device: DeviceSpec) -> QatSettings:
    spec = parse_training(table, optimizer="adam", learning_rate=0.001, epochs=60,
                          batch_size=64, seed=network.seed)
    levels = tuple(table.int_list("levels", default=[device.levels, 4]))
    noise = table.number("noise", default=device.programming_noise)
    settings = table.build(QatSettings, levels=levels, spec=spec, noise=noise)
    table.finish()
    return settings


def _parse_physics_aware(table: Table, network) -> PhysicsAwareSettings:
    spec = parse_training(table, optimizer="adam", learning_rate=0.03, epochs=15,
                          batch_size=32, seed=network.seed)
    sense_ohm = table.number("sense_ohm")
    samples = table.integer("samples_per_epoch", default=256)
    settings = table.build(PhysicsAwareSettings, sense_ohm=sense_ohm, spec=spec,
                           samples_per_epoch=samples)
    table.finish()
    return settings
