"""The Dask client of a sweep: a local cluster of worker processes, or an existing scheduler.

The local cluster binds the scheduler, the workers and their HTTP endpoints to
127.0.0.1 on free ports, with one thread per worker process, because ngspice keeps
global state and allows one run at a time per process.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from npdehw.errors import SimulationError
from npdehw.sweep_options import SweepOptionError

__all__ = ["LOOPBACK", "dask_client", "default_workers"]

LOOPBACK = "127.0.0.1"
CONNECT_TIMEOUT_S = 20
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}
"""Dask's statistical profiler keeps about 1000 s of stack samples per worker, so a
worker's memory would grow with the sweep's length. The sweep never reads them."""


def default_workers() -> int:
    """Return the number of CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None = None, *,
                verbose: bool = False) -> Iterator[object]:
    """Yield a connected ``distributed.Client`` and close it (and a local cluster) after.

    With ``scheduler`` the client joins that cluster, whose workers must have npdehw and
    ngspice installed. Otherwise a local cluster of ``workers`` processes starts, and
    its processes log only critical messages unless ``verbose`` is set. A failed sample is
    stored with its error either way.

    Raises:
        SweepOptionError: when the scheduler cannot be reached.
        SimulationError: when the local cluster does not start.
    """
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, ValueError, TypeError) as err:
            raise SweepOptionError(f"--scheduler {scheduler}: cannot connect ({err}); give "
                                   "the address a running dask scheduler prints, such as "
                                   "tcp://127.0.0.1:8786") from err
        with client:
            yield client
        return
    try:
        with dask.config.set(WORKER_CONFIG):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   host=LOOPBACK, dashboard_address=f"{LOOPBACK}:0",
                                   silence_logs=logging.WARNING if verbose
                                   else logging.CRITICAL,
                                   preload=["npdehw.sweep_worker"])
    except RuntimeError as err:
        raise SimulationError(f"cannot start a local Dask cluster of {workers} worker "
                              f"processes ({err}); a script that starts a sweep needs an "
                              "'if __name__ == \"__main__\":' guard, because workers "
                              "import the main module") from err
    with cluster, Client(cluster) as client:
        yield client
