"""Reaction-term expressions: parsing, numpy and torch values, gradients, rejection of
unsafe text, and the emitted B-source text evaluated by real ngspice."""

import math

import numpy as np
import pytest
import torch

from npdehw.models.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    parse,
    reaction,
)
from npdehw.sim.ngspice import run_netlist

UV = ("u", "v")


def sigmoid_reference(x):
    """Logistic function written out independently of the module."""
    return np.exp(x) / (np.exp(x) + 1.0)


def saturation_reference(x):
    """Cellular-network output: clip to [-1, 1]."""
    return np.clip(x, -1.0, 1.0)


@pytest.fixture
def uv(rng):
    """Random inputs for the fields u and v, uniform in [-3, 3]."""
    u = rng.uniform(-3.0, 3.0, 200)
    v = rng.uniform(-3.0, 3.0, 200)
    return u, v


FORMULAS = [
    ("u + v * 2 - 0.5", lambda u, v: u + 2 * v - 0.5),
    ("u / (1 + v^2)", lambda u, v: u / (1 + v * v)),
    ("u^3", lambda u, v: u * u * u),
    ("u ** 2 * v", lambda u, v: u * u * v),
    ("u^-2", lambda u, v: 1.0 / (u * u)),
    ("-u^2", lambda u, v: -(u * u)),
    ("tanh(u)", lambda u, v: np.tanh(u)),
    ("exp(u) - exp(-v)", lambda u, v: np.exp(u) - np.exp(-v)),
    ("abs(u)", lambda u, v: np.where(u < 0, -u, u)),
    ("min(u, v)", lambda u, v: np.where(u < v, u, v)),
    ("max(u, v)", lambda u, v: np.where(u > v, u, v)),
    ("sigmoid(u)", lambda u, v: sigmoid_reference(u)),
    ("sqrt(1 + u^2)", lambda u, v: np.sqrt(1 + u * u)),
    ("sin(u) * cos(v)", lambda u, v: np.sin(u) * np.cos(v)),
    ("log(1 + u^2)", lambda u, v: np.log1p(u * u)),
    ("pwl_sat(2*u)", lambda u, v: saturation_reference(2 * u)),
    ("+u - -v", lambda u, v: u + v),
    ("1.5e-1*u + .5 + 2E1*v", lambda u, v: 0.15 * u + 0.5 + 20 * v),
]


@pytest.mark.parametrize("text,reference", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_numpy_matches_reference(text, reference, uv):
    """Each operator and function evaluates like the numpy formula written in the test."""
    u, v = uv
    expression = parse(text, UV)
    np.testing.assert_allclose(expression.evaluate_numpy(u=u, v=v), reference(u, v),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("text,reference", FORMULAS, ids=[f[0] for f in FORMULAS])
def test_torch_matches_reference(text, reference, uv):
    """The torch function returns float64 values equal to the numpy formula."""
    u, v = uv
    result = parse(text, UV).to_torch()(u=torch.tensor(u), v=torch.tensor(v))
    assert result.dtype == torch.float64
    np.testing.assert_allclose(result.numpy(), reference(u, v), rtol=1e-12, atol=1e-12)


def test_library_matches_reference(uv):
    """Every named reaction term equals its textbook formula."""
    u, v = uv
    fisher = reaction("fisher_kpp", r=2.5)
    allen = reaction("allen_cahn", coefficient=0.3)
    f_u, f_v = reaction("fitzhugh_nagumo", eps=0.1, a=0.6, b=0.9, I=0.4)
    np.testing.assert_allclose(fisher.evaluate_numpy(u=u), 2.5 * u * (1 - u), atol=1e-12)
    np.testing.assert_allclose(allen.evaluate_numpy(u=u), 0.3 * (u - u**3), atol=1e-12)
    np.testing.assert_allclose(f_u.evaluate_numpy(u=u, v=v), u - u**3 / 3 - v + 0.4,
                               atol=1e-12)
    np.testing.assert_allclose(f_v.evaluate_numpy(u=u, v=v), 0.1 * (u + 0.6 - 0.9 * v),
                               atol=1e-12)
    np.testing.assert_allclose(reaction("tanh", gain=2.0).evaluate_numpy(u=u),
                               2 * np.tanh(u), atol=1e-12)
    np.testing.assert_allclose(reaction("sigmoid").evaluate_numpy(u=u),
                               sigmoid_reference(u), atol=1e-12)
    np.testing.assert_allclose(reaction("pwl_sat").evaluate_numpy(u=u),
                               saturation_reference(u), atol=1e-12)


def test_library_fields_and_defaults():
    """Library terms report the fields they use and keep default parameters."""
    f_u, f_v = reaction("fitzhugh_nagumo")
    assert reaction("fisher_kpp").fields == ("u",)
    assert f_u.fields == ("u", "v")
    assert f_v.declared_fields == ("u", "v")
    assert dict(f_v.params) == {"eps": 0.08, "a": 0.7, "b": 0.8, "I": 0.5}
    assert reaction("fisher_kpp").params["r"] == 1.0


def test_library_rejects_unknown_names():
    """Unknown reaction names and parameters raise ValueError naming them."""
    with pytest.raises(ValueError, match="'heat'"):
        reaction("heat")
    with pytest.raises(ValueError, match="'k'"):
        reaction("fisher_kpp", k=1.0)


def test_gradient_fisher_kpp(rng):
    """d/du of r u (1 - u) is r (1 - 2u)."""
    u = torch.tensor(rng.uniform(-2, 2, 50), requires_grad=True)
    f = reaction("fisher_kpp", r=1.7).to_torch()
    (gradient,) = torch.autograd.grad(f(u=u).sum(), u)
    expected = 1.7 * (1 - 2 * u.detach().numpy())
    np.testing.assert_allclose(gradient.numpy(), expected, rtol=0, atol=1e-12)


def test_gradient_fitzhugh_nagumo(rng):
    """The FitzHugh-Nagumo Jacobian equals its analytic form."""
    u = torch.tensor(rng.uniform(-2, 2, 50), requires_grad=True)
    v = torch.tensor(rng.uniform(-2, 2, 50), requires_grad=True)
    f_u, f_v = (e.to_torch() for e in reaction("fitzhugh_nagumo", eps=0.1, b=0.8))
    du_u, du_v = torch.autograd.grad(f_u(u=u, v=v).sum(), (u, v))
    dv_u, dv_v = torch.autograd.grad(f_v({"u": u, "v": v}).sum(), (u, v))
    np.testing.assert_allclose(du_u.numpy(), 1 - u.detach().numpy() ** 2, atol=1e-12)
    np.testing.assert_allclose(du_v.numpy(), -1.0, atol=1e-12)
    np.testing.assert_allclose(dv_u.numpy(), 0.1, atol=1e-12)
    np.testing.assert_allclose(dv_v.numpy(), -0.08, atol=1e-12)


def test_gradient_saturations(rng):
    """sigmoid' = s (1 - s), pwl_sat' is 1 inside [-1, 1] and 0 outside, (u^3)' = 3u^2."""
    x = rng.uniform(-3, 3, 100)
    x = x[np.abs(np.abs(x) - 1) > 1e-3]
    expressions = {name: parse(f"{name}(u)").to_torch() for name in ("sigmoid", "pwl_sat")}
    expressions["cube"] = parse("u^3").to_torch()
    gradients = {}
    for name, f in expressions.items():
        u = torch.tensor(x, requires_grad=True)
        (gradients[name],) = torch.autograd.grad(f(u=u).sum(), u)
    s = sigmoid_reference(x)
    np.testing.assert_allclose(gradients["sigmoid"].numpy(), s * (1 - s), atol=1e-12)
    np.testing.assert_allclose(gradients["pwl_sat"].numpy(), np.where(np.abs(x) < 1, 1, 0),
                               atol=1e-12)
    np.testing.assert_allclose(gradients["cube"].numpy(), 3 * x * x, rtol=1e-12)


def test_precedence_and_associativity():
    """Power is right-associative and binds tighter than unary minus."""
    def value(text):
        return float(parse(text, ()).evaluate_numpy())

    assert value("2^3^2") == 512
    assert value("2**3**2") == 512
    assert value("-2^2") == -4
    assert value("(-2)^3") == -8
    assert value("2^-1") == 0.5
    assert value("1-2-3") == -4
    assert value("8/2/2") == 2
    assert value("2+3*4") == 14
    assert value("2*3+4") == 10
    assert value("-(1+2)*3") == -9


def test_torch_input_forms():
    """The torch function takes a mapping or keywords, converts dtypes and broadcasts."""
    f = parse("u + 2*v", UV).to_torch()
    u = torch.tensor([1.0, 2.0], dtype=torch.float32)
    by_mapping = f({"u": u, "v": 1.0})
    by_keyword = f(u=u, v=torch.tensor(1.0))
    assert by_mapping.dtype == torch.float64
    assert torch.equal(by_mapping, by_keyword)
    assert tuple(parse("3", UV).to_torch()(u=u).shape) == (2,)
    assert tuple(parse("3", UV).evaluate_numpy(u=np.zeros((2, 3))).shape) == (2, 3)


def test_evaluation_rejects_bad_inputs():
    """Missing, unknown and doubly given fields raise ValueError naming the field."""
    expression = parse("u*v", UV)
    with pytest.raises(ValueError, match="'v'"):
        expression.evaluate_numpy(u=1.0)
    with pytest.raises(ValueError, match="'w'"):
        expression.evaluate_numpy(u=1.0, v=1.0, w=1.0)
    with pytest.raises(ValueError, match="'u'"):
        expression.to_torch()({"u": 1.0}, u=1.0, v=1.0)


def test_fields_and_parameters():
    """fields lists the used fields in declared order, and parameters become constants."""
    expression = parse("k*v + u", UV, {"k": 3})
    assert expression.fields == ("u", "v")
    assert parse("2*v", UV).fields == ("v",)
    assert float(expression.evaluate_numpy(u=1.0, v=2.0)) == 7.0


def test_text_round_trip(uv):
    """The canonical text parses back to the same values."""
    u, v = uv
    for text, _ in FORMULAS:
        expression = parse(text, UV, {"k": 0.25})
        again = parse(str(expression), UV, {"k": 0.25})
        np.testing.assert_array_equal(again.evaluate_numpy(u=u, v=v),
                                      expression.evaluate_numpy(u=u, v=v))


def test_scaled_is_f_in_volts(uv):
    """scaled(s, k) evaluated at V = s u equals k f(u)."""
    u, v = uv
    f_u, _ = reaction("fitzhugh_nagumo")
    scaled = f_u.scaled({"u": 0.5, "v": 2.0}, 1e-3)
    np.testing.assert_allclose(scaled.evaluate_numpy(u=0.5 * u, v=2.0 * v),
                               1e-3 * f_u.evaluate_numpy(u=u, v=v), rtol=1e-12, atol=1e-15)
    assert scaled.fields == ("u", "v")


REJECTED = [
    ("u + w", "w", "unknown name"),
    ("foo(u)", "foo", "unknown function"),
    ("u(1)", "u", "unknown function"),
    ("tanh + u", "tanh", "function without arguments"),
    ("u\n.control", "\n", "line breaks"),
    ("u\r", "\r", "line breaks"),
    ("u; v", ";", "semicolons"),
    ("{u}", "{", "braces"),
    ("u}", "}", "braces"),
    ("u[0]", "[", "brackets"),
    ("u]", "]", "brackets"),
    ('"u"', '"', "quotes"),
    ("'u'", "'", "quotes"),
    ("u \\ v", "\\", "backslashes"),
    (".control", ".control", "dot command"),
    ("u + .endc", ".endc", "dot command"),
    ("u $ comment", "$", "comment"),
    ("@r1[i]", "@", "device parameters"),
    ("u, v", ",", "comma"),
    ("(u, v)", ",", "comma"),
    ("u v", "v", "unexpected"),
    ("u)", ")", "unexpected"),
    ("(u", "", "end of the expression"),
    ("u +", "", "end of the expression"),
    ("1k*u", "1k", "unit suffix"),
    ("2meg", "2meg", "unit suffix"),
    ("u^v", "^", "exponent"),
    ("min(u)", "min", "takes 2 arguments"),
    ("tanh(u, v)", "tanh", "takes 1 argument"),
    ("1e999*u", "1e999", "out of range"),
    ("u # v", "#", "not allowed"),
]


@pytest.mark.parametrize("text,token,reason", REJECTED, ids=[r[0] for r in REJECTED])
def test_rejects_unsafe_text(text, token, reason):
    """Each smuggling attempt raises ExpressionError naming the token and its column."""
    with pytest.raises(ExpressionError) as caught:
        parse(text, UV)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.token == token
    assert error.position == (text.find(token) if token else len(text))
    assert reason in str(error)
    assert f"column {error.position + 1}" in str(error)
    if token:
        assert repr(token) in str(error)


def test_rejects_empty_input():
    """Empty and blank input raise ExpressionError."""
    for text in ("", "   "):
        with pytest.raises(ExpressionError, match="empty expression"):
            parse(text)


def test_rejects_long_input():
    """Input over MAX_LENGTH characters raises and names the length."""
    text = "+".join(["u"] * (MAX_LENGTH // 2 + 1))
    assert len(text) > MAX_LENGTH
    with pytest.raises(ExpressionError, match=f"{len(text)} characters"):
        parse(text)


def test_nesting_limit():
    """Nesting of MAX_DEPTH levels parses and one more level raises naming the token."""
    deep = "(" * MAX_DEPTH + "u" + ")" * MAX_DEPTH
    assert parse(deep).evaluate_numpy(u=2.0) == 2.0
    for text, token in [("(" * (MAX_DEPTH + 1) + "u" + ")" * (MAX_DEPTH + 1), "("),
                        ("-" * (MAX_DEPTH + 1) + "u", "-"),
                        ("tanh(" * (MAX_DEPTH + 1) + "u" + ")" * (MAX_DEPTH + 1), "tanh"),
                        ("1^" * (MAX_DEPTH + 1) + "1", "^")]:
        with pytest.raises(ExpressionError, match="nested") as caught:
            parse(text)
        assert caught.value.token == token


def test_long_flat_sum_evaluates():
    """A sum of many terms, deeper than Python's recursion limit as a tree, evaluates."""
    text = "+".join(["u"] * 999)
    assert float(parse(text).evaluate_numpy(u=1.0)) == 999.0
    assert parse(text).to_spice({"u": "v(a)"}).count("v(a)") == 999


def test_rejects_bad_declarations():
    """Names must be identifiers, and parameter values must be finite numbers."""
    with pytest.raises(ValueError, match="function name"):
        parse("1", ("tanh",))
    with pytest.raises(ValueError, match="identifier"):
        parse("1", ("u v",))
    with pytest.raises(ValueError, match="twice"):
        parse("1", ("u",), {"u": 1.0})
    with pytest.raises(ValueError, match="finite"):
        parse("r", (), {"r": math.nan})
    with pytest.raises(ValueError, match="finite"):
        parse("r", (), {"r": "1"})


def test_spice_text_has_no_caret():
    """Integer powers avoid ngspice's ^, which uses |x|. Odd ones use pwr, even ones pow."""
    voltages = {"u": "v(a)"}
    assert parse("u^3").to_spice(voltages) == "(v(a)*v(a)*v(a))"
    assert parse("u^5").to_spice(voltages) == "pwr(v(a),5.000000000000e+00)"
    assert parse("u^6").to_spice(voltages) == "pow(v(a),6.000000000000e+00)"
    assert "^" not in parse("u^3 + u**2").to_spice(voltages)
    assert "**" not in parse("u^3 + u**2").to_spice(voltages)


def test_spice_rejects_unsafe_voltage():
    """Unsafe node-voltage text raises, and composite text is put in parentheses."""
    expression = parse("u^2")
    with pytest.raises(ValueError, match="node_voltage"):
        expression.to_spice({"u": "v(a)\n.control"})
    with pytest.raises(ValueError, match="node_voltage"):
        expression.to_spice({"u": "v(a);"})
    with pytest.raises(ValueError, match="'u'"):
        expression.to_spice({})
    assert expression.to_spice({"u": "v(a)-v(b)"}) == "((v(a)-v(b))*(v(a)-v(b)))"


# Inputs avoid 0 because u^-2 is singular there.
U_POINTS = np.array([-2.3, -1.2, -0.7, -0.15, 0.4, 0.95, 1.6, 2.8])
V_POINTS = np.array([0.6, -1.9, 0.25, -0.3, 1.1, -0.8, 2.2, 0.05])

SPICE_CASES = [
    ("u^3", 1.0, 1.0),
    ("-u^2 + u^5 - u^6", 1.0, 1.0),
    ("u^-2", 1.0, 1.0),
    ("u - u^3/3 - v + 0.5", 1.0, 1.0),
    ("tanh(2*u)", 1.0, 1.0),
    ("sigmoid(u)", 1.0, 1.0),
    ("pwl_sat(u)", 1.0, 1.0),
    ("min(u, v) + 2*max(u, v)", 1.0, 1.0),
    ("exp(u) - abs(v)", 1.0, 1.0),
    ("sin(u)*cos(v) + sqrt(1 + u^2) + log(2 + v)", 1.0, 1.0),
    ("r*u*(1 - u)", 1.0, 1.0),
    ("u - u^3/3 - v + 0.5", {"u": 0.5, "v": 2.0}, 1e-3),
    ("pwl_sat(u) + sigmoid(v)", 0.25, -3.0),
]


def test_ngspice_evaluates_emitted_text():
    """ngspice B sources computing the emitted text match numpy to 1e-9 relative."""
    lines = ["* expression check"]
    expected = {}
    for case, (text, input_scale, output_scale) in enumerate(SPICE_CASES):
        expression = parse(text, UV, {"r": 1.3})
        scales = input_scale if isinstance(input_scale, dict) else {"u": input_scale,
                                                                    "v": input_scale}
        for point, (u, v) in enumerate(zip(U_POINTS, V_POINTS)):
            prefix = f"c{case}_{point}"
            lines.append(f"vu_{prefix} u_{prefix} 0 dc {scales['u'] * u:.17e}")
            lines.append(f"vv_{prefix} v_{prefix} 0 dc {scales['v'] * v:.17e}")
            body = expression.to_spice({"u": f"v(u_{prefix})", "v": f"v(v_{prefix})"},
                                       input_scale=input_scale, output_scale=output_scale)
            lines.append(f"b_{prefix} out_{prefix} 0 v = {body}")
            expected[f"out_{prefix}"] = output_scale * float(expression.evaluate_numpy(u=u, v=v))
    lines += [".tran 1e-6 2e-6", ".end", ""]
    result = run_netlist("\n".join(lines))
    for node, value in expected.items():
        simulated = result.voltages[node]
        np.testing.assert_allclose(simulated, value, rtol=1e-9, atol=1e-15, err_msg=node)


def test_ngspice_caret_uses_magnitude():
    """ngspice 39 computes (-2)^3 as 8, the fact that makes the writer avoid '^'."""
    netlist = "\n".join(["* caret check", "va a 0 dc -2", "b1 caret 0 v = v(a)^3",
                         f"b2 ours 0 v = {parse('u^3').to_spice({'u': 'v(a)'})}",
                         ".tran 1e-6 2e-6", ".end", ""])
    result = run_netlist(netlist)
    np.testing.assert_allclose(result.voltages["caret"], 8.0, rtol=1e-12)
    np.testing.assert_allclose(result.voltages["ours"], -8.0, rtol=1e-12)
