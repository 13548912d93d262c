"""Reaction terms f(u, v, ...) as a small, safe expression language.

A reaction term is parsed once into a tree. The same tree evaluates in numpy, builds a
differentiable float64 torch function for the twin, and writes the expression text of an
ngspice behavioural source (``b1 n_1 0 i = ...``). The parser is hand-written and accepts
only numbers, the caller's fields and parameters, ``+ - * / ^ **``, parentheses and the
functions in ``FUNCTIONS``. User text never reaches Python's ``eval``, and nothing the user
types is copied into SPICE text: fields become the caller's node-voltage expressions,
parameters and numbers become exponent-form floats, and functions become fixed ngspice text.

Facts about ngspice 39 B sources that the SPICE writer relies on, each checked with
``ngspice -b`` and ``.op`` or ``.ac``:

- ``x^y``, ``x**y`` and ``pow(x, y)`` compute ``|x|^y``, so ``(-2)^3`` is 8. ``pwr(x, y)``
  computes ``sign(x) |x|^y``. Values and ``.ac`` derivatives of ``pow(x, 2)`` and
  ``pwr(x, 3)`` are correct at ``x = -2``.
- ``^`` is left-associative (``2^3^2`` is 64). The writer parenthesizes every operation,
  so ngspice's precedence rules never matter.
- ``log`` and ``ln`` are both the natural logarithm. The writer emits ``ln``.
- ``exp`` saturates at ``1e99`` (``exp(228)`` gives ``1e99``), division by zero gives
  ``1e32``, and ``sqrt`` of a negative number, ``pow(0, 0.5)`` or ``pow(0, -1)`` stops the
  simulation with an "out of range" error. The twin returns inf or NaN there instead.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import types
from collections.abc import Callable, Mapping

import numpy as np
import torch

from npdehw.hw.netlist import format_value

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "REACTIONS",
    "Expression",
    "ExpressionError",
    "parse",
    "reaction",
]

MAX_LENGTH = 2000
"""Longest accepted expression text, in characters."""

MAX_DEPTH = 64
"""Deepest accepted nesting of parentheses, function calls, signs and exponents."""

FUNCTIONS: Mapping[str, int] = types.MappingProxyType({
    "abs": 1,
    "cos": 1,
    "exp": 1,
    "log": 1,
    "max": 2,
    "min": 2,
    "pwl_sat": 1,
    "sigmoid": 1,
    "sin": 1,
    "sqrt": 1,
    "tanh": 1,
})
"""Function name to number of arguments. ``log`` is the natural logarithm,
``sigmoid(x) = 1 / (1 + exp(-x))`` and ``pwl_sat(x) = 0.5 (|x + 1| - |x - 1|)``."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_OPERATORS = ("**", "+", "-", "*", "/", "^", "(", ")", ",")
_WHITESPACE = " \t"
_FORBIDDEN = {
    "\n": "line breaks are not allowed",
    "\r": "line breaks are not allowed",
    ";": "semicolons are not allowed",
    "{": "braces are not allowed because SPICE substitutes parameters inside them",
    "}": "braces are not allowed because SPICE substitutes parameters inside them",
    "[": "brackets are not allowed",
    "]": "brackets are not allowed",
    '"': "quotes are not allowed",
    "'": "quotes are not allowed",
    "`": "quotes are not allowed",
    "\\": "backslashes are not allowed",
    "$": "'$' is not allowed because it starts a SPICE comment",
    "@": "'@' is not allowed because it reads SPICE device parameters",
}
_SYNTAX = "numbers such as 2, 0.5 or 1.5e-3, names, + - * / ^ ** ( ) and commas between " \
          "function arguments"
_SIMPLE_VOLTAGE = re.compile(r"v\([A-Za-z0-9_]+\)")
_SAFE_VOLTAGE = re.compile(r"[A-Za-z0-9_().,*/+\- ]+")
_MAX_EXPANDED_POWER = 4
_MAX_EXPANDED_BASE = 200
_SPICE_ONE = format_value(1.0)
_SPICE_HALF = format_value(0.5)


class ExpressionError(ValueError):
    """Invalid expression text.

    Attributes:
        position: 0-based offset of the offending token in the text (the message gives
            the 1-based column), or ``None`` when no single token is at fault.
        token: the offending token's text, ``""`` at the end of the input.
    """

    def __init__(self, message: str, *, position: int | None, token: str):
        super().__init__(message)
        self.position = position
        self.token = token


def _fail(problem: str, token: str, position: int, hint: str) -> ExpressionError:
    """Return an error that names ``token``, or the end of the input when it is empty."""
    if problem == "unexpected" and not token:
        where = f"unexpected end of the expression at column {position + 1}"
    else:
        where = f"{problem} {token!r} at column {position + 1}"
    return ExpressionError(f"{where}: {hint}", position=position, token=token)


# --- syntax tree -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Number:
    """A numeric literal."""

    value: float

    def children(self) -> tuple:
        return ()


@dataclasses.dataclass(frozen=True, slots=True)
class Parameter:
    """A named parameter, substituted by its value."""

    name: str
    value: float

    def children(self) -> tuple:
        return ()


@dataclasses.dataclass(frozen=True, slots=True)
class Field:
    """A field of the NPDE, such as ``u``."""

    name: str

    def children(self) -> tuple:
        return ()


@dataclasses.dataclass(frozen=True, slots=True)
class Negate:
    """Unary minus."""

    operand: object

    def children(self) -> tuple:
        return (self.operand,)


@dataclasses.dataclass(frozen=True, slots=True)
class Binary:
    """One of ``+ - * /``."""

    operator: str
    left: object
    right: object

    def children(self) -> tuple:
        return (self.left, self.right)


@dataclasses.dataclass(frozen=True, slots=True)
class Power:
    """``base ^ exponent`` with an exponent that uses no field.

    Attributes:
        exponent_value: the exponent evaluated once at parse time.
    """

    base: object
    exponent: object
    exponent_value: float

    def children(self) -> tuple:
        return (self.base, self.exponent)


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """A call of one of ``FUNCTIONS``."""

    name: str
    arguments: tuple

    def children(self) -> tuple:
        return self.arguments


def _fold(root, visit: Callable):
    """Return ``visit(node, child_results)`` for ``root``, computed bottom-up.

    The walk uses an explicit stack because a long sum such as ``1+1+...+1`` makes a tree
    deeper than Python's recursion limit.
    """
    results = {}
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            results[id(node)] = visit(node, [results[id(child)] for child in node.children()])
        elif id(node) not in results:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children())
    return results[id(root)]


# --- tokenizer and parser ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "number", "name", "operator" or "end"
    text: str
    position: int


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(text):
        char = text[position]
        if char in _WHITESPACE:
            position += 1
            continue
        number = _NUMBER.match(text, position)
        if number:
            end = number.end()
            suffix = _NAME.match(text, end)
            if suffix:
                raise _fail("number with a unit suffix", text[position:suffix.end()], position,
                            "SPICE unit suffixes are not allowed, write 1.5e-3 for 1.5m")
            tokens.append(_Token("number", number.group(), position))
            position = end
            continue
        name = _NAME.match(text, position)
        if name:
            tokens.append(_Token("name", name.group(), position))
            position = name.end()
            continue
        if char == ".":
            word = _NAME.match(text, position + 1)
            if word:
                raise _fail("SPICE dot command", "." + word.group(), position,
                            "dot commands are not allowed in an expression")
            raise _fail("stray", char, position, f"a '.' belongs inside a number. Allowed: {_SYNTAX}")
        operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
        if operator:
            tokens.append(_Token("operator", operator, position))
            position += len(operator)
            continue
        reason = _FORBIDDEN.get(char, "the character is not allowed")
        raise _fail("character", char, position, f"{reason}. Allowed: {_SYNTAX}")
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive-descent parser. Precedence from low to high: ``+ -``, ``* /``, unary sign,
    ``^`` (right-associative, so ``2^3^2`` is 512 and ``-2^2`` is -4)."""

    def __init__(self, text: str, fields: tuple[str, ...], params: Mapping[str, float]):
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.fields = fields
        self.params = params

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, *texts: str) -> bool:
        return self.token.kind == "operator" and self.token.text in texts

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _fail("too deeply nested", token.text, token.position,
                        f"parentheses, function calls, signs and exponents may nest at most "
                        f"{MAX_DEPTH} levels deep")

    def parse(self):
        node = self.expression()
        token = self.token
        if token.kind != "end":
            if token.text == ",":
                raise _fail("unexpected", token.text, token.position,
                            "a comma is only allowed between function arguments")
            raise _fail("unexpected", token.text, token.position,
                        "expected an operator (+ - * / ^ **) or the end of the expression")
        return node

    def expression(self):
        node = self.term()
        while self.at("+", "-"):
            operator = self.advance().text
            node = Binary(operator, node, self.term())
        return node

    def term(self):
        node = self.unary()
        while self.at("*", "/"):
            operator = self.advance().text
            node = Binary(operator, node, self.unary())
        return node

    def unary(self):
        if not self.at("+", "-"):
            return self.power()
        token = self.advance()
        self.enter(token)
        operand = self.unary()
        self.depth -= 1
        return Negate(operand) if token.text == "-" else operand

    def power(self):
        base = self.primary()
        if not self.at("^", "**"):
            return base
        token = self.advance()
        self.enter(token)
        exponent = self.unary()
        self.depth -= 1
        if _uses_fields(exponent):
            raise _fail("field in the exponent after", token.text, token.position,
                        "an exponent may use only numbers and parameters. "
                        "Write exp(y*log(x)) for a variable exponent")
        with np.errstate(all="ignore"):
            value = float(_fold(exponent, _NumpyEvaluator({})))
        if not math.isfinite(value):
            raise _fail("exponent after", token.text, token.position,
                        f"the exponent evaluates to {value}, not a finite number")
        return Power(base, exponent, value)

    def primary(self):
        token = self.token
        if token.kind == "number":
            self.advance()
            value = float(token.text)
            if not math.isfinite(value):
                raise _fail("number out of range", token.text, token.position,
                            "numbers must be below about 1.8e308")
            return Number(value)
        if token.kind == "name":
            return self.name()
        if token.text == "(":
            self.advance()
            self.enter(token)
            node = self.expression()
            self.expect_close(token)
            self.depth -= 1
            return node
        raise _fail("unexpected", token.text, token.position,
                    "expected a number, a name or '('")

    def name(self):
        token = self.advance()
        name = token.text
        is_call = self.at("(")
        if name in FUNCTIONS:
            if not is_call:
                raise _fail("function without arguments", name, token.position,
                            f"write {name}(...)")
            return self.call(token)
        if is_call:
            raise _fail("unknown function", name, token.position,
                        f"allowed functions are {', '.join(FUNCTIONS)}")
        if name in self.fields:
            return Field(name)
        if name in self.params:
            return Parameter(name, self.params[name])
        raise _fail("unknown name", name, token.position, self.allowed_names())

    def call(self, name_token: _Token):
        opening = self.advance()
        self.enter(name_token)
        arguments = [self.expression()]
        while self.at(","):
            self.advance()
            arguments.append(self.expression())
        self.expect_close(opening)
        self.depth -= 1
        arity = FUNCTIONS[name_token.text]
        if len(arguments) != arity:
            raise _fail("wrong number of arguments for", name_token.text, name_token.position,
                        f"{name_token.text} takes {arity} argument{'s' if arity > 1 else ''}, "
                        f"got {len(arguments)}")
        return Call(name_token.text, tuple(arguments))

    def expect_close(self, opening: _Token) -> None:
        token = self.token
        if self.at(")"):
            self.advance()
            return
        if token.text == ",":
            raise _fail("unexpected", token.text, token.position,
                        "a comma is only allowed between function arguments")
        raise _fail("unexpected", token.text, token.position,
                    f"expected ')' to close the '(' at column {opening.position + 1}")

    def allowed_names(self) -> str:
        fields = ", ".join(self.fields) or "none"
        params = ", ".join(self.params) or "none"
        return (f"allowed names are the fields ({fields}), the parameters ({params}) and the "
                f"functions {', '.join(FUNCTIONS)}")


def _uses_fields(root) -> bool:
    return _fold(root, lambda node, children: isinstance(node, Field) or any(children))


# --- evaluators --------------------------------------------------------------------------


class _NumpyEvaluator:
    """Fold visitor that evaluates a tree in numpy float64."""

    def __init__(self, values: Mapping[str, np.ndarray]):
        self.values = values

    def __call__(self, node, children):
        if isinstance(node, (Number, Parameter)):
            return np.float64(node.value)
        if isinstance(node, Field):
            return self.values[node.name]
        if isinstance(node, Negate):
            return -children[0]
        if isinstance(node, Binary):
            return _apply_binary(node.operator, *children)
        if isinstance(node, Power):
            return np.power(children[0], node.exponent_value)
        return self.call(node.name, children)

    @staticmethod
    def call(name, arguments):
        x = arguments[0]
        if name == "min":
            return np.minimum(x, arguments[1])
        if name == "max":
            return np.maximum(x, arguments[1])
        if name == "sigmoid":
            with np.errstate(over="ignore"):
                return 1.0 / (1.0 + np.exp(-x))
        if name == "pwl_sat":
            return 0.5 * (np.abs(x + 1.0) - np.abs(x - 1.0))
        return _NUMPY_UNARY[name](x)


_NUMPY_UNARY = {"abs": np.abs, "cos": np.cos, "exp": np.exp, "log": np.log, "sin": np.sin,
                "sqrt": np.sqrt, "tanh": np.tanh}


class _TorchEvaluator:
    """Fold visitor that evaluates a tree on float64 torch tensors, keeping autograd."""

    def __init__(self, values: Mapping[str, torch.Tensor], device):
        self.values = values
        self.device = device

    def __call__(self, node, children):
        if isinstance(node, (Number, Parameter)):
            return torch.tensor(node.value, dtype=torch.float64, device=self.device)
        if isinstance(node, Field):
            return self.values[node.name]
        if isinstance(node, Negate):
            return -children[0]
        if isinstance(node, Binary):
            return _apply_binary(node.operator, *children)
        if isinstance(node, Power):
            return torch.pow(children[0], node.exponent_value)
        return self.call(node.name, children)

    @staticmethod
    def call(name, arguments):
        x = arguments[0]
        if name == "min":
            return torch.minimum(x, arguments[1])
        if name == "max":
            return torch.maximum(x, arguments[1])
        if name == "pwl_sat":
            return 0.5 * (torch.abs(x + 1.0) - torch.abs(x - 1.0))
        return _TORCH_UNARY[name](x)


_TORCH_UNARY = {"abs": torch.abs, "cos": torch.cos, "exp": torch.exp, "log": torch.log,
                "sigmoid": torch.sigmoid, "sin": torch.sin, "sqrt": torch.sqrt,
                "tanh": torch.tanh}


def _apply_binary(operator, left, right):
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    return left / right


# --- text writers ------------------------------------------------------------------------


def _write_text(node, children) -> str:
    """Fold visitor that writes fully parenthesized text in this expression language."""
    if isinstance(node, Number):
        return repr(node.value) if node.value >= 0 else f"({node.value!r})"
    if isinstance(node, Parameter):
        return node.name
    if isinstance(node, Field):
        return node.name
    if isinstance(node, Negate):
        return f"(-{children[0]})"
    if isinstance(node, Binary):
        return f"({children[0]} {node.operator} {children[1]})"
    if isinstance(node, Power):
        return f"({children[0]}^{children[1]})"
    return f"{node.name}({', '.join(children)})"


class _SpiceWriter:
    """Fold visitor that writes ngspice B-source text with every operation in parentheses."""

    def __init__(self, voltages: Mapping[str, str]):
        self.voltages = voltages

    def __call__(self, node, children) -> str:
        if isinstance(node, (Number, Parameter)):
            text = format_value(node.value)
            return text if node.value >= 0 else f"({text})"
        if isinstance(node, Field):
            return self.voltages[node.name]
        if isinstance(node, Negate):
            return f"(-{children[0]})"
        if isinstance(node, Binary):
            return f"({children[0]}{node.operator}{children[1]})"
        if isinstance(node, Power):
            return _spice_power(children[0], node.exponent_value)
        return _spice_call(node.name, children)


def _spice_power(base: str, exponent: float) -> str:
    """Return ``base ^ exponent`` in ngspice text that is right for negative bases.

    ngspice's ``^`` and ``pow`` use ``|base|``. Small integer powers of short bases become
    products, other odd powers ``pwr`` (``sign(x) |x|^n``) and other even powers ``pow``.
    """
    if exponent == 0:
        return _SPICE_ONE
    if not exponent.is_integer():
        # NOTE: ngspice computes |base|^exponent here, while numpy and torch return NaN
        # for a negative base, so the two agree only where the base is positive.
        return f"pow({base},{format_value(exponent)})"
    count = abs(int(exponent))
    if count == 1:
        text = base
    elif count <= _MAX_EXPANDED_POWER and len(base) <= _MAX_EXPANDED_BASE:
        text = "(" + "*".join([base] * count) + ")"
    elif count % 2:
        text = f"pwr({base},{format_value(count)})"
    else:
        text = f"pow({base},{format_value(count)})"
    return text if exponent > 0 else f"({_SPICE_ONE}/{text})"


def _spice_call(name: str, arguments: list[str]) -> str:
    x = arguments[0]
    if name in ("min", "max"):
        return f"{name}({x},{arguments[1]})"
    if name == "log":
        return f"ln({x})"
    if name == "sigmoid":
        return f"({_SPICE_ONE}/({_SPICE_ONE}+exp(-{x})))"
    if name == "pwl_sat":
        return f"({_SPICE_HALF}*(abs({x}+{_SPICE_ONE})-abs({x}-{_SPICE_ONE})))"
    return f"{name}({x})"


# --- public API --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Expression:
    """A parsed reaction term, compared by identity because its tree may be very deep.

    Attributes:
        text: the source text, or for a scaled expression its fully parenthesized form.
        root: the syntax tree.
        declared_fields: every field name the caller allowed, in the caller's order.
        fields: the declared fields that the expression uses, in the same order.
        params: parameter name to value, as substituted.
    """

    text: str
    root: object = dataclasses.field(repr=False)
    declared_fields: tuple[str, ...]
    fields: tuple[str, ...]
    params: Mapping[str, float]

    def __str__(self) -> str:
        return _fold(self.root, _write_text)

    def evaluate_numpy(self, values: Mapping | None = None, /, **arrays) -> np.ndarray:
        """Evaluate elementwise in float64 on arrays given by field name."""
        inputs = self._inputs(values, arrays)
        arrays = {name: np.asarray(value, dtype=np.float64) for name, value in inputs.items()}
        result = np.asarray(_fold(self.root, _NumpyEvaluator(arrays)), dtype=np.float64)
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
        return np.array(np.broadcast_to(result, np.broadcast_shapes(result.shape, shape)))

    def to_torch(self) -> Callable[..., torch.Tensor]:
        """Return ``f(values=None, /, **tensors)``, an elementwise float64 torch function.

        Fields are given as a mapping, as keyword arguments or both. Inputs of another dtype
        are converted to float64, and gradients flow to every input that requires them.
        """

        def evaluate(values: Mapping | None = None, /, **tensors) -> torch.Tensor:
            inputs = self._inputs(values, tensors)
            device = next((value.device for value in inputs.values()
                           if isinstance(value, torch.Tensor)), None)
            converted = {name: torch.as_tensor(value, dtype=torch.float64, device=device)
                         for name, value in inputs.items()}
            result = _fold(self.root, _TorchEvaluator(converted, device))
            shape = torch.broadcast_shapes(result.shape,
                                           *(t.shape for t in converted.values()))
            return result if result.shape == shape else torch.broadcast_to(result, shape)

        return evaluate

    def scaled(self, input_scale: float | Mapping[str, float] = 1.0,
               output_scale: float = 1.0) -> Expression:
        """Return ``g(V) = output_scale * f(V / input_scale)`` over the same fields.

        With node voltages ``V = s u`` and ``input_scale = s``, ``g`` is ``f`` in volts.
        ``input_scale`` is one factor for every field or a mapping from field name to
        factor, where a missing field keeps factor 1.
        """
        scales = self._input_scales(input_scale)
        output = _check_scale(output_scale, "output_scale", allow_zero=True)

        def substitute(node, children):
            if isinstance(node, Field):
                scale = scales[node.name]
                return node if scale == 1.0 else Binary("/", node, Number(scale))
            if isinstance(node, Negate):
                return Negate(children[0])
            if isinstance(node, Binary):
                return Binary(node.operator, *children)
            if isinstance(node, Power):
                return Power(children[0], node.exponent, node.exponent_value)
            if isinstance(node, Call):
                return Call(node.name, tuple(children))
            return node

        root = _fold(self.root, substitute)
        if output != 1.0:
            root = Binary("*", Number(output), root)
        text = _fold(root, _write_text)
        return dataclasses.replace(self, text=text, root=root)

    def to_spice(self, node_voltage: Mapping[str, str], *,
                 input_scale: float | Mapping[str, float] = 1.0,
                 output_scale: float = 1.0) -> str:
        """Return the ngspice B-source expression for ``output_scale * f(V / input_scale)``.

        ``node_voltage`` maps every field the expression uses to an ngspice expression for
        its voltage, such as ``v(n_3)`` or ``v(n_3)-v(n_4)``. Anything but a plain
        ``v(name)`` is put in parentheses.
        """
        expression = self.scaled(input_scale, output_scale)
        voltages = {}
        for name in self.fields:
            if name not in node_voltage:
                raise ValueError(f"node_voltage has no entry for field {name!r}: give an "
                                 f"ngspice expression such as 'v(n_1)' for each of "
                                 f"{', '.join(self.fields)}")
            voltages[name] = _checked_voltage(name, node_voltage[name])
        return _fold(expression.root, _SpiceWriter(voltages))

    def _inputs(self, values: Mapping | None, keywords: Mapping) -> dict:
        inputs = dict(values or {})
        for name, value in keywords.items():
            if name in inputs:
                raise ValueError(f"field {name!r} is given twice, in the mapping and as a "
                                 f"keyword argument")
            inputs[name] = value
        for name in inputs:
            if name not in self.declared_fields:
                raise ValueError(f"unknown field {name!r}: the expression's fields are "
                                 f"{', '.join(self.declared_fields) or 'none'}")
        for name in self.fields:
            if name not in inputs:
                raise ValueError(f"missing value for field {name!r}, which the expression "
                                 f"{self.text!r} uses")
        return inputs

    def _input_scales(self, input_scale) -> dict[str, float]:
        if isinstance(input_scale, Mapping):
            for name in input_scale:
                if name not in self.declared_fields:
                    raise ValueError(f"input_scale names unknown field {name!r}: the fields "
                                     f"are {', '.join(self.declared_fields) or 'none'}")
            return {name: _check_scale(input_scale.get(name, 1.0), f"input_scale[{name!r}]")
                    for name in self.declared_fields}
        scale = _check_scale(input_scale, "input_scale")
        return {name: scale for name in self.declared_fields}


def _check_scale(value, label: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{label} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (value == 0.0 and not allow_zero):
        raise ValueError(f"{label} must be finite{'' if allow_zero else ' and non-zero'}, "
                         f"got {value!r}")
    return value


def _checked_voltage(field: str, text: str) -> str:
    if not isinstance(text, str) or not _SAFE_VOLTAGE.fullmatch(text):
        raise ValueError(f"invalid node_voltage[{field!r}] = {text!r}: an ngspice voltage "
                         f"expression may use only letters, digits, '_', '.', ',', spaces, "
                         f"parentheses and + - * /")
    return text if _SIMPLE_VOLTAGE.fullmatch(text) else f"({text})"


def _check_names(fields, params) -> tuple[tuple[str, ...], dict[str, float]]:
    if isinstance(fields, str):
        raise ValueError(f"fields must be a sequence of names, got the string {fields!r}")
    fields = tuple(fields)
    params = dict(params or {})
    seen = set()
    for kind, name in [("field", f) for f in fields] + [("parameter", p) for p in params]:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"{kind} name {name!r} is not an identifier [A-Za-z_][A-Za-z0-9_]*")
        if name in FUNCTIONS:
            raise ValueError(f"{kind} name {name!r} is a function name")
        if name in seen:
            raise ValueError(f"{kind} name {name!r} is declared twice")
        seen.add(name)
    for name, value in params.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(float(value)):
            raise ValueError(f"parameter {name!r} must be a finite real number, got {value!r}")
        params[name] = float(value)
    return fields, params


def parse(text: str, fields=("u",), params: Mapping[str, float] | None = None) -> Expression:
    """Parse ``text`` into an ``Expression`` over ``fields`` with ``params`` substituted.

    Raises:
        ExpressionError: for invalid text. The message names the offending token, its
            column and what is allowed there.
        ValueError: for invalid field or parameter names or values.
    """
    fields, params = _check_names(fields, params)
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}",
                              position=None, token="")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is {len(text)} characters long, the maximum is "
                              f"{MAX_LENGTH}", position=MAX_LENGTH, token=text[MAX_LENGTH:][:20])
    if not text.strip(" \t"):
        raise ExpressionError(f"empty expression {text!r}: write a formula such as "
                              f"'r*u*(1 - u)'", position=0, token=text)
    root = _Parser(text, fields, params).parse()
    used = _fold(root, lambda node, children: set().union(
        {node.name} if isinstance(node, Field) else set(), *children))
    used_fields = tuple(name for name in fields if name in used)
    return Expression(text=text, root=root, declared_fields=fields, fields=used_fields,
                      params=types.MappingProxyType(params))


# --- library of reaction terms -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReactionSpec:
    """A named reaction term: its fields, default parameters and one formula per field."""

    fields: tuple[str, ...]
    defaults: Mapping[str, float]
    formulas: tuple[str, ...]


REACTIONS: Mapping[str, ReactionSpec] = types.MappingProxyType({
    "fisher_kpp": ReactionSpec(("u",), {"r": 1.0}, ("r*u*(1 - u)",)),
    "allen_cahn": ReactionSpec(("u",), {"coefficient": 1.0}, ("coefficient*(u - u^3)",)),
    "fitzhugh_nagumo": ReactionSpec(("u", "v"), {"eps": 0.08, "a": 0.7, "b": 0.8, "I": 0.5},
                                    ("u - u^3/3 - v + I", "eps*(u + a - b*v)")),
    "tanh": ReactionSpec(("u",), {"gain": 1.0}, ("gain*tanh(u)",)),
    "sigmoid": ReactionSpec(("u",), {"gain": 1.0}, ("gain*sigmoid(u)",)),
    "pwl_sat": ReactionSpec(("u",), {"gain": 1.0}, ("gain*pwl_sat(u)",)),
})
"""Named reaction terms. FitzHugh-Nagumo defaults are the classic a = 0.7, b = 0.8,
eps = 0.08 with input current I = 0.5."""


def reaction(name: str, **params: float) -> Expression | tuple[Expression, ...]:
    """Return the named reaction term, one ``Expression`` per field.

    A one-field term returns an ``Expression``, and ``fitzhugh_nagumo`` returns the pair
    ``(f_u, f_v)`` over fields ``("u", "v")``. Parameters not given keep their defaults.
    """
    if name not in REACTIONS:
        raise ValueError(f"unknown reaction term {name!r}: choose one of {', '.join(REACTIONS)}")
    spec = REACTIONS[name]
    unknown = sorted(set(params) - set(spec.defaults))
    if unknown:
        raise ValueError(f"reaction term {name!r} has no parameter {unknown[0]!r}: its "
                         f"parameters are {', '.join(spec.defaults)}")
    values = {**spec.defaults, **params}
    expressions = tuple(parse(formula, spec.fields, values) for formula in spec.formulas)
    return expressions[0] if len(expressions) == 1 else expressions
