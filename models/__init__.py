"""NPDE specifications, reference solutions and the twin's integrators; no circuits here."""

from npdehw.models.diffusion import DiffusionNPDE
from npdehw.models.fields import Constant, CosineModes, Gaussian, Mode, SineModes
from npdehw.models.grid import Boundary, Grid
from npdehw.models.integrators import LinearStepper

__all__ = [
    "Boundary",
    "Constant",
    "CosineModes",
    "DiffusionNPDE",
    "Gaussian",
    "Grid",
    "LinearStepper",
    "Mode",
    "SineModes",
]
