"""Image pairs for learning a 3 x 3 stencil: noisy input, clean or edge target.

The images are scikit-learn's bundled 8 x 8 digits (1797 images, no download),
scaled to [0, 1] (pixel / 16). Seeded Gaussian noise of standard deviation
``noise_std`` (in the same units) is drawn once per image, so the same seed gives the
same pairs. Two tasks:

- ``denoise``: the target is the clean image;
- ``edges``: the target is the 5-point Laplacian of the clean image, zero outside it.

Arrays of images have shape ``(n_images, 8, 8)`` and dtype float64.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import correlate
from sklearn.datasets import load_digits

__all__ = ["LAPLACIAN", "TASKS", "StencilData", "StencilSplit", "baseline_output",
           "laplacian_of", "load_stencil_data"]

TASKS = ("denoise", "edges")
PIXEL_MAX = 16.0
LAPLACIAN = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


@dataclasses.dataclass(frozen=True)
class StencilSplit:
    """Inputs and targets of one split, each of shape ``(n_images, 8, 8)``."""

    inputs: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.inputs)


@dataclasses.dataclass(frozen=True)
class StencilData:
    """The train, validation (early stopping) and held-out test splits of one task."""

    task: str
    train: StencilSplit
    validation: StencilSplit
    test: StencilSplit


def load_stencil_data(task: str = "denoise", *, noise_std: float = 0.25,
                      validation_fraction: float = 0.15, test_fraction: float = 0.2,
                      seed: int = 0, max_images: int = 0) -> StencilData:
    """Return the seeded noisy image pairs, split into train, validation and test.

    Args:
        task: ``denoise`` or ``edges``.
        noise_std: standard deviation of the Gaussian noise, in pixel units of [0, 1].
        validation_fraction: share of the images for early stopping.
        test_fraction: share of the images held out for the final scores.
        seed: seeds the noise and the shuffle before the split.
        max_images: use only the first this many shuffled images; 0 uses all 1797.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; use one of {TASKS}")
    clean = load_digits().images.astype(np.float64) / PIXEL_MAX
    rng = np.random.default_rng(seed)
    noisy = clean + noise_std * rng.standard_normal(clean.shape)
    order = rng.permutation(len(clean))
    if max_images:
        order = order[:max_images]
    targets = clean if task == "denoise" else laplacian_of(clean)
    n_test = int(round(test_fraction * len(order)))
    n_validation = int(round(validation_fraction * len(order)))
    if min(n_test, n_validation, len(order) - n_test - n_validation) < 1:
        raise ValueError(f"{len(order)} images leave an empty split with test_fraction "
                         f"{test_fraction} and validation_fraction {validation_fraction}")
    parts = np.split(order, [n_test, n_test + n_validation])
    test, validation, train = (StencilSplit(noisy[p], targets[p]) for p in parts)
    return StencilData(task, train, validation, test)


def laplacian_of(images: np.ndarray) -> np.ndarray:
    """Return the 5-point Laplacian of each image, with zero pixels outside the image."""
    return np.stack([correlate(image, LAPLACIAN, mode="constant") for image in images])


def baseline_output(task: str, inputs: np.ndarray) -> np.ndarray:
    """Return what an unlearned filter gives: the noisy input itself, or its Laplacian."""
    return inputs.copy() if task == "denoise" else laplacian_of(inputs)
