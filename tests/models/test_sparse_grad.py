"""The sparse theta-scheme twin against SciPy, a closed form and central differences."""

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from npdehw.design import load_design
from npdehw.hw.builder import build_circuit
from npdehw.models.sparse_grad import RCNetwork, SparseThetaStepper
from npdehw.sim.sparse_twin import run_sparse_twin, sparse_system
from npdehw.sim.twin import run_twin

SIDE = 8
N_NODES = SIDE * SIDE
FIXED_V = np.array([0.0, 1.0])  # ground and one driven net
DT = 0.05


def random_grid(rng):
    """An 8 x 8 RC grid: neighbour resistors, left column to net 1 V, right column to ground.

    Returns the terminals (fixed nets numbered after the 64 nodes) and random values.
    """
    terminals = []
    for i in range(SIDE):
        for j in range(SIDE):
            k = i * SIDE + j
            if j + 1 < SIDE:
                terminals.append((k, k + 1))
            if i + 1 < SIDE:
                terminals.append((k + SIDE, k))
        terminals.append((N_NODES + 1, i * SIDE))
        terminals.append((i * SIDE + SIDE - 1, N_NODES))
    terminals = np.array(terminals)
    return {
        "terminals": terminals,
        "conductance": rng.uniform(0.5, 2.0, len(terminals)),
        "capacitance": rng.uniform(0.5, 2.0, N_NODES),
        "source": rng.normal(scale=0.1, size=N_NODES),
        "initial": rng.normal(size=N_NODES),
    }


def scipy_reference(grid, theta, n_steps, static=None):
    """The theta scheme written out with scipy.sparse and splu, one solve per step."""
    n, values = N_NODES, np.zeros((N_NODES, N_NODES))
    constant = grid["source"].copy()
    for (a, b), g in zip(grid["terminals"], grid["conductance"]):
        for node, other in ((a, b), (b, a)):
            if node >= n:
                continue
            values[node, node] += g
            if other < n:
                values[node, other] -= g
            else:
                constant[node] += g * FIXED_V[other - n]
    matrix = sp.csr_matrix(values) if static is None else sp.csr_matrix(values) + static
    mass = sp.diags(grid["capacitance"] / DT)
    factor = spla.splu((mass + theta * matrix).tocsc())
    right = (mass - (1 - theta) * matrix).tocsr()
    states = [grid["initial"]]
    for _ in range(n_steps):
        states.append(factor.solve(right @ states[-1] + constant))
    return np.array(states)


def stepper(grid, theta=0.5, static=None, **tensors):
    network = RCNetwork(grid["terminals"], N_NODES, len(FIXED_V), static)
    values = {"conductance_s": grid["conductance"], "capacitance_f": grid["capacitance"],
              "fixed_v": FIXED_V, "source_a": grid["source"]}
    values.update(tensors)
    values = {key: torch.as_tensor(value, dtype=torch.float64) for key, value in values.items()}
    return SparseThetaStepper(network, dt_s=DT, theta=theta, **values)


@pytest.mark.parametrize("theta", [0.5, 1.0])
def test_forward_matches_scipy_reference(rng, theta):
    """Trajectories equal an independent splu theta scheme, transconductances included."""
    grid = random_grid(rng)
    static = sp.random(N_NODES, N_NODES, density=0.02, random_state=1, format="csr") * 0.1
    expected = scipy_reference(grid, theta, 30, static)
    with torch.no_grad():
        states = stepper(grid, theta, static).integrate(torch.from_numpy(grid["initial"]), 30)
    scale = np.abs(expected).max()
    np.testing.assert_allclose(states.numpy(), expected, rtol=0, atol=1e-12 * scale)


def test_single_node_decays_to_driven_net():
    """One node, resistor to a 2 V net: V_k = 2 + (V_0 - 2) r^k, r = (1 - x/2) / (1 + x/2).

    Here x = g dt / C, the trapezoidal rule's amplification factor for one RC node.
    """
    network = RCNetwork(np.array([[0, 1]]), 1, 1)
    step = SparseThetaStepper(network, conductance_s=[0.8], capacitance_f=[2.0], dt_s=0.5,
                              fixed_v=[2.0])
    with torch.no_grad():
        states = step.integrate(torch.tensor([-1.0], dtype=torch.float64), 6)[:, 0].numpy()
    x = 0.8 * 0.5 / 2.0
    expected = 2.0 + (-1.0 - 2.0) * ((1 - x / 2) / (1 + x / 2)) ** np.arange(7)
    np.testing.assert_allclose(states, expected, rtol=1e-13, atol=1e-14)


def loss_of(grid, theta=0.5, n_steps=12, batch=None, **tensors):
    """A loss with a non-trivial adjoint: weighted squares of every saved state."""
    initial = tensors.pop("initial", torch.as_tensor(grid["initial"] if batch is None else batch))
    states = stepper(grid, theta, **tensors).integrate(initial, n_steps, save_every=3)
    weights = torch.linspace(0.5, 1.5, states.shape[-1], dtype=torch.float64)
    return (weights * states**2).sum() + states[-1].sum()


def central_difference(grid, name, index, theta, relative_step=1e-6):
    """Return dL/d(value) at one entry of one parameter by central differences."""
    key = {"conductance_s": "conductance", "capacitance_f": "capacitance",
           "source_a": "source", "initial": "initial"}.get(name)
    base = FIXED_V.copy() if name == "fixed_v" else grid[key].copy()
    step = relative_step * max(abs(base[index]), 1.0)
    values = []
    for sign in (1, -1):
        shifted = base.copy()
        shifted[index] += sign * step
        with torch.no_grad():
            values.append(float(loss_of(grid, theta, **{name: torch.from_numpy(shifted)})))
    return (values[0] - values[1]) / (2 * step)


@pytest.mark.parametrize("theta", [0.5, 1.0])
@pytest.mark.parametrize("name", ["conductance_s", "capacitance_f", "fixed_v", "source_a",
                                  "initial"])
def test_gradient_matches_central_differences(rng, theta, name):
    """Adjoint gradients of every parameter agree with central differences to 1e-4."""
    grid = random_grid(rng)
    own = {"conductance_s": grid["conductance"], "capacitance_f": grid["capacitance"],
           "fixed_v": FIXED_V, "source_a": grid["source"], "initial": grid["initial"]}[name]
    leaf = torch.tensor(own, dtype=torch.float64, requires_grad=True)
    loss_of(grid, theta, **{name: leaf}).backward()
    # Both resistor kinds to fixed nets (last two rows) and some between nodes.
    random = rng.choice(len(own), min(4, len(own)), replace=False)
    picks = sorted({len(own) - 1, len(own) - 2, *random})
    for index in picks:
        expected = central_difference(grid, name, index, theta)
        assert leaf.grad[index].item() == pytest.approx(expected, rel=1e-4, abs=1e-9), \
            f"{name}[{index}]"


def test_batch_gradient_is_sum_over_samples(rng):
    """A batch of initial states gives the sum of the per-sample conductance gradients."""
    grid = random_grid(rng)
    batch = torch.from_numpy(rng.normal(size=(3, N_NODES)))
    gradients = []
    for initial in (batch, *batch):
        leaf = torch.tensor(grid["conductance"], requires_grad=True)
        loss_of(grid, conductance_s=leaf, initial=initial).backward()
        gradients.append(leaf.grad.numpy())
    np.testing.assert_allclose(gradients[0], sum(gradients[1:]), rtol=1e-10, atol=1e-12)


def test_rejects_invalid_networks_and_states(rng):
    """Loops, terminals out of range, bad values and float32 states raise with the reason."""
    with pytest.raises(ValueError, match="itself"):
        RCNetwork(np.array([[0, 0]]), 2, 0)
    with pytest.raises(ValueError, match="lie in"):
        RCNetwork(np.array([[0, 5]]), 2, 1)
    grid = random_grid(rng)
    with pytest.raises(ValueError, match="positive"):
        stepper(grid, conductance_s=-grid["conductance"])
    with pytest.raises(ValueError, match="shape"):
        stepper(grid, source_a=np.zeros(3))
    with pytest.raises(TypeError, match="float64"):
        stepper(grid).step(torch.zeros(N_NODES, dtype=torch.float32))


@pytest.mark.parametrize("name", ["heat2d", "schrodinger_1d"])
def test_sparse_twin_of_graph_matches_run_twin(name):
    """The graph adapter gives run_twin's trajectory (schrodinger_1d has transconductances)."""
    design = load_design(name)
    graph = build_circuit(design.npde, design.mapping)
    arguments = {"stop_s": design.mapping.to_seconds(design.npde.end_time), "n_steps": 100,
                 "save_every": 10}
    expected = run_twin(graph, **arguments, backend="sparse")
    result = run_sparse_twin(graph, **arguments)
    assert result.nodes == expected.nodes
    scale = np.abs(expected.voltages).max()
    np.testing.assert_allclose(result.voltages, expected.voltages, rtol=0, atol=1e-12 * scale)
    system = sparse_system(graph)
    resistors = sum(1 for _, _, kind in graph.edges(data="kind") if kind == "resistor")
    assert len(system.designators) == resistors
