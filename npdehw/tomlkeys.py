"""Typed access to a parsed TOML table that tracks dotted keys and rejects unknown ones."""

from __future__ import annotations

import difflib
import math

from npdehw.errors import SpecError

__all__ = ["Table"]

_MISSING = object()
_TYPE_NAMES = {dict: "table", list: "array", str: "string", bool: "boolean", int: "integer",
               float: "float"}


class Table:
    """One TOML table with its dotted path, for messages such as ``npde.boundary.x_low``."""

    def __init__(self, data, path: str):
        if not isinstance(data, dict):
            raise SpecError(path or "<top>", f"must be a table, got {_describe(data)}")
        self._data = data
        self._path = path
        self._used: set[str] = set()
        self._known: set[str] = set()

    def key(self, name: str) -> str:
        """Return the dotted key of ``name`` in this table."""
        return f"{self._path}.{name}" if self._path else name

    def has(self, name: str) -> bool:
        """Return True when the key is present; the name counts as a known key either way."""
        self._known.add(name)
        return name in self._data

    def _get(self, name, default):
        self._used.add(name)
        if name in self._data:
            return self._data[name]
        if default is _MISSING:
            unread = [key for key in self._data if key not in self._used]
            close = difflib.get_close_matches(name, unread, n=1)
            if close:
                raise SpecError(self.key(name), f"missing; found unknown key {close[0]!r}, "
                                f"rename it to {name!r}")
            raise SpecError(self.key(name), "missing; add this key to the design")
        return default

    def raw(self, name: str, default=_MISSING):
        """Return the value of ``name`` as parsed, unchecked."""
        return self._get(name, default)

    def keys(self) -> list[str]:
        """Return the keys present in this table."""
        return list(self._data)

    def table(self, name: str, optional: bool = False) -> Table:
        value = self._get(name, {} if optional else _MISSING)
        return Table(value, self.key(name))

    def tables(self, name: str) -> list[Table]:
        value = self._get(name, _MISSING)
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise SpecError(self.key(name), f"must be an array of tables, got {_describe(value)}")
        return [Table(item, f"{self.key(name)}[{k}]") for k, item in enumerate(value)]

    def string(self, name: str, default=_MISSING) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise SpecError(self.key(name), f"must be a string, got {_describe(value)}")
        return value

    def choice(self, name: str, options) -> str:
        value = self.string(name)
        if value not in options:
            raise SpecError(self.key(name), f"unknown value {value!r}; use one of {list(options)}")
        return value

    def number(self, name: str, default=_MISSING) -> float:
        return self._as_number(self._get(name, default), self.key(name))

    def integer(self, name: str, default=_MISSING) -> int:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(self.key(name), f"must be an integer, got {_describe(value)}")
        return value

    def number_list(self, name: str, length: int | None = None, default=_MISSING) -> list[float]:
        value = self._list(name, length, default)
        return [self._as_number(v, f"{self.key(name)}[{k}]") for k, v in enumerate(value)]

    def int_list(self, name: str, length: int | None = None, default=_MISSING) -> list[int]:
        value = self._list(name, length, default)
        for k, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int):
                raise SpecError(f"{self.key(name)}[{k}]", f"must be an integer, got "
                                f"{_describe(item)}")
        return list(value)

    def list_of_int_lists(self, name: str, default=_MISSING) -> list[list[int]]:
        value = self._list(name, None, default)
        result = []
        for k, item in enumerate(value):
            if not isinstance(item, list) or not all(
                    isinstance(i, int) and not isinstance(i, bool) for i in item):
                raise SpecError(f"{self.key(name)}[{k}]", f"must be an array of integers, got "
                                f"{_describe(item)}")
            result.append(item)
        return result

    def _list(self, name, length, default):
        value = self._get(name, default)
        if not isinstance(value, list):
            raise SpecError(self.key(name), f"must be an array, got {_describe(value)}")
        if length is not None and len(value) != length:
            noun = "entry" if length == 1 else "entries"
            raise SpecError(self.key(name), f"needs {length} {noun}, got {len(value)}: {value}")
        return value

    @staticmethod
    def _as_number(value, key) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(key, f"must be a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise SpecError(key, f"must be finite, got {value!r}")
        return float(value)

    def build(self, cls, **kwargs):
        """Return ``cls(**kwargs)``, turning its SpecError into one with the full key."""
        try:
            return cls(**kwargs)
        except SpecError as err:
            nested = bool(self._path) and err.key.startswith(self._path + ".")
            key = err.key if nested else self.key(err.key)
            raise SpecError(key, err.message) from err

    def finish(self) -> None:
        """Raise SpecError on any key of this table that no reader asked for."""
        unknown = [name for name in self._data if name not in self._used]
        if unknown:
            name = unknown[0]
            known_names = sorted(self._used | self._known)
            close = difflib.get_close_matches(name, known_names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(known_names) or "none"
            raise SpecError(self.key(name), f"unknown key (known keys here: {known}){hint}")


def _describe(value) -> str:
    return f"{_TYPE_NAMES.get(type(value), type(value).__name__)} {value!r}"
