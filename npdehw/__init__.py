"""npdehw: neural PDEs turned into analog circuits, simulated in ngspice and a torch twin."""

import logging

__version__ = "0.1.0"
__all__ = ["__version__"]

logging.getLogger(__name__).addHandler(logging.NullHandler())
