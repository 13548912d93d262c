"""Exception types shared by the design loader, the circuit builder and the simulators."""

__all__ = ["CircuitError", "DesignError", "SimulationError", "SpecError"]


class SpecError(ValueError):
    """An invalid value in a specification.

    Attributes:
        key: dotted design-file key of the offending value, for example
            ``npde.diffusion``.
    """

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


class DesignError(ValueError):
    """A design file that cannot be read or validated; the message names the file."""


class CircuitError(ValueError):
    """A circuit graph that no simulator can run as it is (the message names the node)."""


class SimulationError(RuntimeError):
    """A simulator run that failed; the message carries the tail of its output."""
