"""Observability of conductances from probe data: sensitivities and Cramer-Rao bounds.

For ``C dV/dt = -G V`` (no sources) with ``G = sum_k g_k d_k d_k^T``, the
sensitivity of every probe voltage to ``ln g_k`` follows in closed form from the
modes of ``S = C^-1/2 G C^-1/2 = Q Lambda Q^T``: with ``a_k = C^-1/2 d_k``,
``q_k = Q^T a_k`` and ``z = Q^T C^1/2 V(0)``,

    dV(t)/dg_k = C^-1/2 Q (D_t o (q_k q_k^T)) z,

where ``D_t`` contains the divided differences of ``exp(-t x)`` at the eigenvalues
(the Daleckii-Krein formula). Under Gaussian probe noise of standard deviation
``sigma`` the Cramer-Rao bound on ``ln g_k``, and so on the relative error of the
resistance, is ``sigma sqrt([(J^T J)^-1]_kk)``.
"""

from __future__ import annotations

import numpy as np
import torch

from npdehw.models.linear_trajectories import exp_divided_differences

__all__ = ["cramer_rao_bounds", "log_sensitivities"]

# Eigenvalues of J^T J below this share of the largest count as unobservable directions.
NULL_SHARE = 1e-12


def log_sensitivities(capacitance_f, matrix, incidence, conductance_s, initial, times_s,
                      probes) -> np.ndarray:
    """Return ``dV/d ln g`` of the probes, shape ``(n_starts * n_times * n_probes, p)``.

    Args:
        capacitance_f: node capacitances, shape ``(n,)``.
        matrix: ``G`` in siemens, shape ``(n, n)``, symmetric.
        incidence: ``d_k`` as rows, shape ``(p, n)``.
        conductance_s: ``g_k``, shape ``(p,)``.
        initial: initial voltages, one row per start, shape ``(n_starts, n)``.
        times_s: observation times, shape ``(n_times,)``.
        probes: state indices of the probed nodes.

    Rows run over starts, then times, then probes (C order).
    """
    capacitance_f, matrix, incidence = map(_tensor, (capacitance_f, matrix, incidence))
    conductance_s, initial, times_s = map(_tensor, (conductance_s, initial, times_s))
    root = torch.sqrt(capacitance_f)
    eigenvalues, vectors = torch.linalg.eigh(matrix / root[:, None] / root[None, :])
    loads = vectors.T @ (incidence / root).T
    readout = (vectors / root[:, None])[list(probes)]
    difference = eigenvalues[:, None] - eigenvalues[None, :]
    blocks = []
    for start in initial:
        coordinates = vectors.T @ (root * start)
        for t in times_s:
            divided = exp_divided_differences(torch.exp(-t * eigenvalues), difference, t)
            inner = divided @ (loads * coordinates[:, None])
            blocks.append(readout @ (loads * inner) * conductance_s)
    return torch.cat(blocks).numpy()


def _tensor(values) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=float), dtype=torch.float64)


def cramer_rao_bounds(sensitivities, noise_std) -> np.ndarray:
    """Return the Cramer-Rao standard deviation of each ``ln g_k``, shape ``(p,)``.

    ``sensitivities`` is ``J`` from ``log_sensitivities`` and ``noise_std`` the
    probe noise in volts. A parameter with a share above 1e-6 of its weight in
    a direction that the data do not see (an eigenvalue of ``J^T J`` below
    ``NULL_SHARE`` of the largest) gets ``inf``.
    """
    information = np.asarray(sensitivities).T @ np.asarray(sensitivities)
    values, vectors = np.linalg.eigh(information)
    null = values <= NULL_SHARE * values.max()
    weights = vectors ** 2
    variance = weights[:, ~null] @ (1.0 / values[~null])
    variance[weights[:, null].sum(axis=1) > 1e-6] = np.inf
    return noise_std * np.sqrt(variance)
