"""A small trained classifier for crossbar mapping: a 64-hidden-10 MLP on 8x8 digits.

The data are scikit-learn's bundled ``load_digits`` images (1797 samples, no
download), scaled to [0, 1]. ``train_mlp`` returns an ``nn.Sequential`` of
``Linear``, an activation and ``Linear`` in float64, the form that
``npdehw.models.torch_import.npde_from_torch`` accepts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

__all__ = ["ACTIVATIONS", "accuracy", "load_digits_split", "predict", "train_mlp"]

logger = logging.getLogger(__name__)

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
}

N_INPUTS = 64
N_CLASSES = 10
PIXEL_MAX = 16.0


def load_digits_split(test_size: float = 0.25, seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split the 8x8 digits into stratified train and test sets.

    Args:
        test_size: the fraction of samples in the test set.
        seed: the seed of the shuffle.

    Returns:
        ``(X_train, X_test, y_train, y_test)``: float64 inputs of shape ``(n, 64)``
        scaled to [0, 1] (pixel / 16), and float64 class labels 0 to 9.
    """
    data = load_digits()
    inputs = np.asarray(data.data, dtype=np.float64) / PIXEL_MAX
    labels = np.asarray(data.target, dtype=np.float64)
    x_train, x_test, y_train, y_test = train_test_split(
        inputs, labels, test_size=test_size, random_state=seed, stratify=labels)
    logger.debug("digits split: %d train, %d test", len(y_train), len(y_test))
    return x_train, x_test, y_train, y_test


def train_mlp(X: np.ndarray, y: np.ndarray, hidden: int = 32, activation: str = "tanh",
              epochs: int = 80, lr: float = 0.01, seed: int = 0,
              weight_decay: float = 1e-3, batch_size: int | None = 64,
              weight_limit: float | None = None) -> nn.Sequential:
    """Train a ``64 -> hidden -> 10`` MLP with Adam and cross-entropy in float64.

    Training seeds torch inside a forked RNG state, so the same seed gives the
    same weights and the global torch RNG is left as it was. Training runs on one
    torch thread, and the thread count is restored afterwards. On matrices this
    small, more threads only add overhead: on a busy 2-core CPU, two threads made
    training 5 to 20 times slower in one measurement.

    NOTE: ``torch.set_num_threads`` is process-wide, so torch work on other Python
    threads also runs on one thread while this function trains.

    Args:
        X: inputs of shape ``(n, 64)``.
        y: class labels 0 to 9 of shape ``(n,)``, integer or integral floats.
        hidden: the number of hidden units.
        activation: the hidden activation, a key of ``ACTIVATIONS``.
        epochs: the number of passes over the data.
        lr: the Adam learning rate.
        seed: the seed of the initial weights and the mini-batch order.
        weight_decay: the Adam L2 penalty, which also keeps weights small.
        batch_size: samples per Adam step; ``None`` for full-batch steps.
        weight_limit: if given, every weight and bias is clipped to
            ``[-weight_limit, weight_limit]`` after each step, a bound that a
            crossbar's conductance range can hold.

    Returns:
        The trained ``nn.Sequential(Linear, activation, Linear)`` in eval mode.

    Raises:
        ValueError: on an unknown activation, mismatched shapes or a
            non-positive ``weight_limit``.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"invalid activation {activation!r}: expected one of "
                         f"{sorted(ACTIVATIONS)}")
    if weight_limit is not None and weight_limit <= 0:
        raise ValueError(f"invalid weight_limit {weight_limit}: expected a positive "
                         "number or None")
    inputs = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    labels = torch.as_tensor(np.asarray(y)).long()
    shapes_valid = (inputs.ndim == 2 and inputs.shape[1] == N_INPUTS
                    and labels.shape == inputs.shape[:1])
    if not shapes_valid:
        raise ValueError(f"invalid shapes {tuple(inputs.shape)} and "
                         f"{tuple(labels.shape)}: expected X of shape (n, {N_INPUTS}) "
                         "and y of shape (n,)")
    n_samples = inputs.shape[0]
    if batch_size is None:
        batch_size = n_samples
    batch_size = max(1, min(batch_size, n_samples))
    start = time.perf_counter()
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        module = _fit(inputs, labels, hidden, activation, epochs, lr, seed,
                      weight_decay, batch_size, weight_limit)
    finally:
        torch.set_num_threads(n_threads)
    logger.debug("trained %d-%d-%d MLP in %.2f s", N_INPUTS, hidden, N_CLASSES,
                 time.perf_counter() - start)
    return module


def _fit(inputs: torch.Tensor, labels: torch.Tensor, hidden: int, activation: str,
         epochs: int, lr: float, seed: int, weight_decay: float, batch_size: int,
         weight_limit: float | None) -> nn.Sequential:
    """Train the MLP as ``train_mlp`` describes, on inputs that it has checked."""
    n_samples = inputs.shape[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        module = nn.Sequential(nn.Linear(N_INPUTS, hidden), ACTIVATIONS[activation](),
                               nn.Linear(hidden, N_CLASSES)).double()
        optimizer = torch.optim.Adam(module.parameters(), lr=lr,
                                     weight_decay=weight_decay)
        loss_fn = nn.CrossEntropyLoss()
        module.train()
        for epoch in range(epochs):
            order = torch.randperm(n_samples, generator=generator)
            total = 0.0
            for begin in range(0, n_samples, batch_size):
                batch = order[begin:begin + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(module(inputs[batch]), labels[batch])
                loss.backward()
                optimizer.step()
                if weight_limit is not None:
                    with torch.no_grad():
                        for parameter in module.parameters():
                            parameter.clamp_(-weight_limit, weight_limit)
                total += loss.item() * len(batch)
            if epoch % 50 == 0 or epoch == epochs - 1:
                logger.debug("epoch %d: mean loss %.4g", epoch, total / n_samples)
    return module.eval()


def predict(model: nn.Module | Callable, X: np.ndarray) -> np.ndarray:
    """Return the class index with the highest score for each input.

    Args:
        model: a torch module or any other callable. A module is called with a
            float64 tensor and another callable with a float64 numpy array. Either
            returns scores of shape ``(n, n_classes)`` as a tensor or an array.
        X: inputs of shape ``(n, n_features)``.

    Returns:
        Integer class indices of shape ``(n,)``.
    """
    inputs = np.asarray(X, dtype=np.float64)
    if isinstance(model, nn.Module):
        with torch.no_grad():
            scores = model(torch.as_tensor(inputs))
    else:
        scores = model(inputs)
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    return np.argmax(np.asarray(scores), axis=-1)


def accuracy(model: nn.Module | Callable, X: np.ndarray, y: np.ndarray) -> float:
    """Return the fraction of inputs whose predicted class equals the label.

    Args:
        model: a torch module or callable, as for ``predict``.
        X: inputs of shape ``(n, n_features)``.
        y: class labels of shape ``(n,)``.

    Returns:
        The accuracy in [0, 1].
    """
    return float(np.mean(predict(model, X) == np.asarray(y).astype(np.int64)))


def fit_mlp(X: np.ndarray, y: np.ndarray, spec, *, hidden: int = 32,
            activation: str = "tanh", weight_decay: float = 1e-3,
            weight_limit: float | None = None, checkpoint=None, fingerprint: str = "",
            progress: bool = False):
    """Train a ``64 -> hidden -> 10`` MLP with ``npdehw.models.training.fit``.

    The loss is the cross-entropy plus ``weight_decay / 2`` times the squared norm of
    every weight and bias, which gives the same gradient as ``train_mlp``'s Adam
    ``weight_decay``. With ``weight_limit`` every weight and bias is clipped to
    ``[-weight_limit, weight_limit]`` before each step's forward pass and once more at
    the end. ``spec.seed`` seeds the initial weights and ``spec`` the batches. Training
    runs on one torch thread, as in ``train_mlp``.

    Args:
        X, y: inputs of shape ``(n, 64)`` and class labels of shape ``(n,)``.
        spec: a ``npdehw.models.training.TrainSpec``.
        checkpoint, fingerprint, progress: passed to ``fit``.

    Returns:
        ``(module, history)``: the ``nn.Sequential(Linear, activation, Linear)`` in
        float64 and eval mode, and fit's ``History``.
    """
    from npdehw.models.qat import one_thread
    from npdehw.models.training import epoch_order, fit

    if activation not in ACTIVATIONS:
        raise ValueError(f"invalid activation {activation!r}: expected one of "
                         f"{sorted(ACTIVATIONS)}")
    inputs = torch.as_tensor(np.asarray(X), dtype=torch.float64)
    labels = torch.as_tensor(np.asarray(y)).long()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        module = nn.Sequential(nn.Linear(N_INPUTS, hidden), ACTIVATIONS[activation](),
                               nn.Linear(hidden, N_CLASSES)).double()
    loss_fn = nn.CrossEntropyLoss()

    def clip():
        if weight_limit is not None:
            with torch.no_grad():
                for parameter in module.parameters():
                    parameter.clamp_(-weight_limit, weight_limit)

    def batch_loss(batch):
        clip()
        penalty = sum((parameter**2).sum() for parameter in module.parameters())
        return loss_fn(module(inputs[batch]), labels[batch]) + 0.5 * weight_decay * penalty

    def batches(epoch):
        for batch in epoch_order(len(inputs), spec, epoch):
            yield lambda batch=batch: batch_loss(batch)

    module.train()
    with one_thread():
        history = fit(module, batches, spec, checkpoint=checkpoint, fingerprint=fingerprint,
                      label="float network", progress=progress)
    clip()
    return module.eval(), history
