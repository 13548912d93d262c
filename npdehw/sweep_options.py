"""Options of ``npdehw sweep``: samples, seed, figure, specification, tolerances, ``--vary``.

The argparse ``type`` functions here reject malformed values, and argparse then exits
with status 2 naming the option. Checks that need the design raise SweepOptionError,
which the command line also turns into status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import tomllib

from npdehw.errors import DesignError

__all__ = ["DEFAULT_FIGURES", "DEFAULT_NETWORK_SAMPLES", "DEFAULT_SPECS", "SweepOptionError",
           "SweepOptions", "Variation", "parse_fraction", "parse_held_out",
           "parse_nonnegative_int", "parse_positive_float", "parse_variation", "toml_text", "with_defaults"]

MAX_SAMPLES = 1_000_000
HELD_OUT_DIGITS = 450
"""Held-out digits of the crossbar networks' data split (25 % of 1797)."""
DOTTED_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class SweepOptionError(DesignError):
    """An option of ``npdehw sweep`` that does not fit the design; the message names it."""


@dataclasses.dataclass(frozen=True)
class Variation:
    """One ``--vary`` option: a dotted design key and the values it takes in turn."""

    key: str
    values: tuple

    def describe(self) -> str:
        return f"{self.key}={','.join(toml_text(v) for v in self.values)}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepOptions:
    """Everything that decides which samples run and how they are judged.

    Attributes:
        samples: Monte Carlo samples per setting; each setting also runs once with
            every part at its marked value.
        seed: root seed; sample ``k`` draws from ``SeedSequence(seed, spawn_key=(k,))``.
        spec: the largest value of ``figure`` that passes; yield is the passing share;
            None takes the default of the design's kind (``DEFAULT_SPECS``).
        figure: the figure of merit (``npdehw.sim.sweep_sample.FIGURES`` or
            ``probe:NAME`` for grids, ``npdehw.sim.sweep_network.NETWORK_FIGURES`` for
            crossbar networks); None takes the default of the design's kind.
        distribution: ``normal`` (sigma = tolerance / 3, truncated at the tolerance) or
            ``uniform`` (within the tolerance).
        tolerances: part kind to a tolerance (fraction) that replaces the series one.
        variations: the ``--vary`` options; the settings are their Cartesian product.
        retry_failed: run failed samples of an earlier, stopped sweep again.
        network_samples: held-out inputs each sample of a crossbar network runs; None
            takes ``DEFAULT_NETWORK_SAMPLES`` there, and grid designs take no value.
    """

    samples: int = 100
    seed: int = 0
    spec: float = 0.01
    figure: str = "relative_l2"
    distribution: str = "normal"
    tolerances: dict = dataclasses.field(default_factory=dict)
    variations: tuple[Variation, ...] = ()
    retry_failed: bool = False
    network_samples: int | None = None


DEFAULT_FIGURES = {"grid": "relative_l2", "network": "error_rate"}
DEFAULT_SPECS = {"grid": 0.01, "network": 0.05}
DEFAULT_NETWORK_SAMPLES = 100


def with_defaults(options: SweepOptions, kind: str) -> SweepOptions:
    """Return ``options`` with the figure, spec and network samples of a ``kind`` design.

    ``kind`` is ``grid`` or ``network``.

    Raises:
        SweepOptionError: when ``--network-samples`` is given for a grid design.
    """
    if kind == "grid" and options.network_samples is not None:
        raise SweepOptionError("--network-samples sets the held-out inputs of a crossbar "
                               "network design; leave it out for grid designs")
    samples = options.network_samples
    if kind == "network" and samples is None:
        samples = DEFAULT_NETWORK_SAMPLES
    return dataclasses.replace(
        options, network_samples=samples,
        figure=DEFAULT_FIGURES[kind] if options.figure is None else options.figure,
        spec=DEFAULT_SPECS[kind] if options.spec is None else options.spec)


def parse_nonnegative_int(text: str) -> int:
    """Return ``text`` as an integer in [0, MAX_SAMPLES] for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_SAMPLES}, got {value}")
    return value


def parse_held_out(text: str) -> int:
    """Return ``text`` as a count of held-out digits, 1 to 450, for argparse."""
    value = parse_nonnegative_int(text)
    if not 1 <= value <= HELD_OUT_DIGITS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {HELD_OUT_DIGITS} (the "
                                         f"held-out digits), got {value}")
    return value


def parse_positive_float(text: str) -> float:
    """Return ``text`` as a positive finite number for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text!r}")
    return value


def parse_fraction(text: str) -> float:
    """Return a tolerance given as a fraction (``0.01``) or in percent (``1%``)."""
    percent = text.strip().endswith("%")
    try:
        value = float(text.strip().rstrip("%")) / (100.0 if percent else 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a fraction such as 0.01 or a percentage "
                                         f"such as 1%, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be above 0 and below 1 (100 %), got {text!r}")
    return value


def parse_variation(text: str) -> Variation:
    """Return ``KEY=V1,V2,...`` as a Variation; values are TOML values.

    Numbers, booleans, quoted strings and arrays (``[16,16]``) are read as TOML. When
    the list is not valid TOML, each comma-separated word is taken as a string, so
    ``circuit.resistor_series=E96,E24`` works without quotes.
    """
    key, equals, values = text.partition("=")
    key = key.strip()
    if not equals or not values.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,... such as "
                                         f"npde.diffusion=0.5,1,2, got {text!r}")
    if not DOTTED_KEY.match(key):
        raise argparse.ArgumentTypeError(f"{key!r} is not a dotted design key such as "
                                         "npde.diffusion or circuit.resistor_series")
    try:
        parsed = tomllib.loads(f"v = [{values}]")["v"]
    except tomllib.TOMLDecodeError:
        parsed = [word.strip() for word in values.split(",")]
        if not all(re.fullmatch(r"[A-Za-z0-9_.+-]+", word) for word in parsed):
            raise argparse.ArgumentTypeError(f"cannot read the values {values!r} of {key}; "
                                             "write numbers, true/false, quoted strings or "
                                             "arrays such as [16,16]") from None
    if len(parsed) != len({toml_text(v) for v in parsed}):
        raise argparse.ArgumentTypeError(f"{key} lists a value twice: {values!r}")
    return Variation(key, tuple(parsed))


def toml_text(value) -> str:
    """Return a value as it would be written on the command line, for labels."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(toml_text(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return repr(value)
