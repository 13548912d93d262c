"""Training loops for the twin's parameters: optimizers, early stopping, checkpoints.

``fit`` runs SGD, Adam or L-BFGS from ``torch.optim`` over the batches a caller
supplies and shows a progress bar on stderr. It stops early when the monitored loss
stops improving and keeps the best parameters. It writes a checkpoint after every
epoch, so a stopped run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from tqdm import tqdm

from npdehw.errors import SimulationError, SpecError

__all__ = ["OPTIMIZERS", "History", "TrainSpec", "TrainingError", "epoch_order", "fit",
           "make_optimizer"]

logger = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "adam", "lbfgs")


class TrainingError(SimulationError):
    """Training that cannot go on, such as a loss that became NaN or infinite."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """How to train: optimizer, learning rate, epochs, seed and early stopping.

    Attributes:
        optimizer: ``sgd``, ``adam`` or ``lbfgs``.
        learning_rate: step size of the optimizer (L-BFGS: its initial step, 1 is usual).
        epochs: passes over the training data.
        seed: seeds torch and the batch order, so equal specs give equal results.
        patience: epochs without an improvement of at least ``min_improvement``
            (relative) before training stops; 0 trains every epoch.
        batch_size: samples a step; 0 uses all samples in one batch.
        momentum: SGD momentum.
    """

    optimizer: str = "adam"
    learning_rate: float = 1e-2
    epochs: int = 100
    seed: int = 0
    patience: int = 0
    min_improvement: float = 1e-4
    batch_size: int = 0
    momentum: float = 0.9

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise SpecError("optimizer", f"{self.optimizer!r} is not one of "
                            f"{', '.join(OPTIMIZERS)}; choose one of them")
        checks = (("learning_rate", self.learning_rate > 0, "a positive number"),
                  ("epochs", 1 <= self.epochs <= 100_000, "1 to 100000"),
                  ("seed", self.seed >= 0, "0 or more"),
                  ("patience", self.patience >= 0, "0 or more"),
                  ("min_improvement", 0 <= self.min_improvement < 1, "in [0, 1)"),
                  ("batch_size", self.batch_size >= 0, "0 (all samples) or more"),
                  ("momentum", 0 <= self.momentum < 1, "in [0, 1)"))
        for key, ok, expected in checks:
            if not ok:
                raise SpecError(key, f"must be {expected}, got "
                                f"{getattr(self, key)!r}")

    def fingerprint(self) -> str:
        """Return a text that changes whenever a field changes, for checkpoint matching."""
        return repr(dataclasses.astuple(self))


@dataclasses.dataclass
class History:
    """Per-epoch losses of one training run.

    Attributes:
        loss: mean training loss of each epoch.
        monitored: the value early stopping watched (validation loss, or the
            training loss without a validation function).
        best_epoch: 1-based epoch whose parameters were kept.
        stopped_early: True when patience ran out before the last epoch.
        resumed_at: epochs already done when the run started from a checkpoint, else 0.
        seconds: wall time of the epochs run in this process.
    """

    loss: list[float] = dataclasses.field(default_factory=list)
    monitored: list[float] = dataclasses.field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    resumed_at: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def make_optimizer(parameters: list[torch.Tensor], spec: TrainSpec) -> torch.optim.Optimizer:
    """Return the torch optimizer that ``spec`` names."""
    if spec.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=spec.learning_rate, momentum=spec.momentum)
    if spec.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=spec.learning_rate)
    return torch.optim.LBFGS(parameters, lr=spec.learning_rate, max_iter=20,
                             history_size=20, line_search_fn="strong_wolfe")


def epoch_order(n_samples: int, spec: TrainSpec, epoch: int) -> list[torch.Tensor]:
    """Return the sample indices of each batch of ``epoch`` (0-based), seeded by the spec."""
    if spec.batch_size == 0 or spec.batch_size >= n_samples:
        return [torch.arange(n_samples)]
    generator = torch.Generator().manual_seed(spec.seed * 1_000_003 + epoch)
    order = torch.randperm(n_samples, generator=generator)
    return list(torch.split(order, spec.batch_size))


Batches = Callable[[int], Iterable[Callable[[], torch.Tensor]]]


def fit(parameters, batches: Batches, spec: TrainSpec, *, validate=None,
        checkpoint: Path | None = None, fingerprint: str = "", label: str = "training",
        progress: bool = True) -> History:
    """Train ``parameters`` in place and return the history.

    Args:
        parameters: a ``torch.nn.Module`` or a list of leaf tensors with ``requires_grad``.
        batches: ``batches(epoch)`` yields, for each step of that 0-based epoch, a
            function that returns the scalar loss of one batch. The epoch's training
            loss is the mean of these losses, each measured before its step.
        validate: optional function returning a float that early stopping watches
            (lower is better); it runs without gradients after each epoch.
        checkpoint: file to resume from when it matches ``fingerprint`` and the spec,
            and to write after every epoch.
    """
    tensors = list(parameters.parameters()) if isinstance(parameters, torch.nn.Module) \
        else list(parameters)
    torch.manual_seed(spec.seed)
    optimizer = make_optimizer(tensors, spec)
    tag = f"{fingerprint}|{spec.fingerprint()}"
    state = _Progress(tensors)
    history = History()
    if checkpoint is not None:
        history = _resume(checkpoint, tag, tensors, optimizer, state) or history
    start = time.perf_counter()
    bar = tqdm(total=spec.epochs, initial=len(history.loss), desc=label, unit="epoch",
               file=sys.stderr, disable=not progress, leave=False)
    if history.resumed_at and state.since_best >= spec.patience > 0:
        history.stopped_early = True
    try:
        last = len(history.loss) if history.stopped_early else spec.epochs
        for epoch in range(len(history.loss), last):
            loss = _run_epoch(optimizer, tensors, batches(epoch), epoch)
            monitored = loss if validate is None else float(_no_grad(validate))
            history.loss.append(loss)
            history.monitored.append(monitored)
            state.observe(monitored, epoch, spec)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}")
            if checkpoint is not None:
                _save(checkpoint, tag, tensors, optimizer, state, history)
            if state.since_best >= spec.patience > 0:
                history.stopped_early = True
                break
    finally:
        bar.close()
    history.seconds = time.perf_counter() - start
    history.best_epoch = state.best_epoch + 1
    state.restore_best()
    logger.info("%s: %d epochs, best epoch %d, loss %.4g", label, len(history.loss),
                history.best_epoch, history.monitored[state.best_epoch])
    return history


def _no_grad(function):
    with torch.no_grad():
        return function()


def _run_epoch(optimizer, tensors, steps, epoch) -> float:
    total, count = 0.0, 0
    for batch_loss in steps:
        def closure(batch_loss=batch_loss):
            optimizer.zero_grad()
            value = batch_loss()
            value.backward()
            return value

        value = float(optimizer.step(closure).detach())
        if not math.isfinite(value) or not all(torch.isfinite(t).all() for t in tensors):
            raise TrainingError(f"the loss became {value} in epoch {epoch + 1}; lower "
                                "training.learning_rate or use another optimizer")
        total += value
        count += 1
    return total / max(count, 1)


class _Progress:
    """Best monitored value so far and a copy of the parameters that reached it."""

    def __init__(self, tensors):
        self.tensors = tensors
        self.best = math.inf
        self.best_epoch = 0
        self.since_best = 0
        self.best_values = [t.detach().clone() for t in tensors]

    def observe(self, value: float, epoch: int, spec: TrainSpec) -> None:
        if value < self.best - spec.min_improvement * abs(self.best) or epoch == 0:
            self.best, self.best_epoch, self.since_best = value, epoch, 0
            self.best_values = [t.detach().clone() for t in self.tensors]
        else:
            self.since_best += 1

    def restore_best(self) -> None:
        with torch.no_grad():
            for tensor, value in zip(self.tensors, self.best_values):
                tensor.copy_(value)


def _save(path: Path, tag, tensors, optimizer, state, history) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"tag": tag, "values": [t.detach().clone() for t in tensors],
               "optimizer": optimizer.state_dict(), "history": history.as_dict(),
               "best": (state.best, state.best_epoch, state.since_best, state.best_values)}
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def _resume(path: Path, tag, tensors, optimizer, state) -> History | None:
    path = Path(path)
    if not path.exists():
        return None
    try:
        payload = torch.load(path, weights_only=False)
    except Exception as err:  # a damaged file must not stop a fresh start
        logger.warning("ignoring unreadable checkpoint %s: %s", path, err)
        return None
    if payload.get("tag") != tag or len(payload["values"]) != len(tensors):
        logger.warning("checkpoint %s belongs to other settings; training from the start",
                       path)
        return None
    with torch.no_grad():
        for tensor, value in zip(tensors, payload["values"]):
            tensor.copy_(value)
    optimizer.load_state_dict(payload["optimizer"])
    state.best, state.best_epoch, state.since_best, state.best_values = payload["best"]
    history = History(**payload["history"])
    history.resumed_at = len(history.loss)
    print(f"{path}: resuming after epoch {history.resumed_at}", file=sys.stderr)
    return history
