"""Dask worker preload of the local sweep cluster: Ctrl-C is left to the client.

A Ctrl-C in a terminal reaches every process of the foreground group, the worker
processes included. The client then cancels the queued samples and closes the
cluster, so the workers ignore SIGINT instead of each printing a traceback.
"""

from __future__ import annotations

import signal
import threading

__all__ = ["dask_setup"]


def dask_setup(worker) -> None:
    """Ignore SIGINT in this worker process (Dask calls this when the worker starts)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
