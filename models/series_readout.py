"""Scoring linear readouts on a time series: the split, the NMSE and a delay-line baseline.

A run of ``washout + train + test`` samples is split in that order. The washout lets
the reservoir forget its initial state and is never scored. The readout is fitted on
the training part and scored on the test part by the normalized mean squared error

    NMSE = mean((prediction - target)^2) / var(target),

so predicting the test mean scores 1 and a perfect readout 0.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from npdehw.models.readout import LinearReadout, fit_readout

__all__ = ["SeriesSplit", "delay_line", "nmse", "score_readout"]


@dataclasses.dataclass(frozen=True)
class SeriesSplit:
    """Sample counts of the washout, training and test parts, in that order."""

    washout: int
    train: int
    test: int

    @property
    def total(self) -> int:
        return self.washout + self.train + self.test

    @property
    def train_part(self) -> slice:
        return slice(self.washout, self.washout + self.train)

    @property
    def test_part(self) -> slice:
        return slice(self.washout + self.train, self.total)


def nmse(prediction, target) -> float:
    """Return the mean squared error of ``prediction`` divided by the variance of ``target``."""
    prediction = np.asarray(prediction, dtype=float)
    target = np.asarray(target, dtype=float)
    variance = float(np.var(target))
    if variance == 0:
        raise ValueError("the target is constant, so its NMSE is undefined")
    return float(np.mean((prediction - target) ** 2) / variance)


def delay_line(inputs, taps: int) -> np.ndarray:
    """Return ``(n_samples, taps)`` features whose column ``i`` is the input ``i`` samples ago.

    Samples before the start of ``inputs`` count as zero.
    """
    u = np.asarray(inputs, dtype=float)
    features = np.zeros((len(u), taps))
    for i in range(taps):
        features[i:, i] = u[:len(u) - i]
    return features


def score_readout(train_features, targets, split: SeriesSplit, ridge: float,
                  test_features=None) -> tuple[LinearReadout, float, np.ndarray]:
    """Fit a readout on the training part and return ``(readout, test NMSE, prediction)``.

    Args:
        train_features: ``(split.total, n_features)`` features the readout is fitted on.
        targets: ``(split.total,)``.
        split: the washout, training and test parts.
        ridge: Tikhonov weight of ``fit_readout``.
        test_features: features the fitted readout is scored on, for example another
            simulator's states of the same circuit; ``train_features`` when None.
    """
    train_features = np.asarray(train_features, dtype=float)
    test_features = train_features if test_features is None else np.asarray(test_features,
                                                                             dtype=float)
    for name, features in (("train_features", train_features),
                           ("test_features", test_features)):
        if len(features) != split.total:
            raise ValueError(f"{name} has {len(features)} rows, the split needs "
                             f"{split.total}")
    readout = fit_readout(train_features[split.train_part], targets[split.train_part], ridge)
    prediction = readout(test_features[split.test_part])
    return readout, nmse(prediction, targets[split.test_part]), prediction
