"""Running the samples of a sweep on Dask and storing each one as it finishes.

Every setting runs its nominal circuit (sample ``-1``, parts at their marked values)
and ``samples`` Monte Carlo samples. Samples that already have a file in the sweep
folder are skipped. A sample that raises is stored with its error, and the others go
on. A tqdm bar on stderr shows the finished and failed samples and the time left.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import sys
import time
import traceback

from npdehw.errors import SimulationError
from npdehw.sim.sweep_network import NetworkSampleContext, run_network_sample
from npdehw.sim.sweep_sample import NOMINAL, run_sample
from npdehw.sweep_store import SweepFolder

__all__ = ["pending_samples", "run_samples"]

logger = logging.getLogger(__name__)


def pending_samples(stored: dict, n_settings: int, samples: int,
                    retry_failed: bool) -> list[tuple[int, int]]:
    """Return the ``(setting, sample)`` pairs without a stored record, in setting order.

    ``stored`` maps ``(setting, sample)`` to a record (``SweepFolder.records``); with
    ``retry_failed`` the failed ones count as missing.
    """
    wanted = [(s, k) for s in range(n_settings) for k in [NOMINAL, *range(samples)]]
    return [pair for pair in wanted if pair not in stored
            or (retry_failed and stored[pair]["status"] == "failed")]


def _failure(future) -> str:
    error = future.exception()
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text or type(error).__name__


def error_line(text: str) -> str:
    """Return the first line of an error and the first two ``error:`` lines that follow."""
    lines = text.splitlines() or [""]
    causes = [line.removeprefix("error:").strip() for line in lines[1:]
              if line.startswith("error:")][:2]
    return f"{lines[0]} ({' / '.join(causes)})" if causes else lines[0]


def _record(setting: int, sample: int, seed: int, run_id: str, future) -> dict:
    record = {"setting": setting, "sample": sample,
              "seed": {"entropy": seed, "spawn_key": [sample]} if sample != NOMINAL else None,
              "run_id": run_id}
    if future.status == "finished":
        return {**record, "status": "done", "error": None, **future.result()}
    error = _failure(future)
    return {**record, "status": "failed", "error": error, "error_line": error_line(error)}


@contextlib.contextmanager
def _cancel_on_exit(client, futures: dict):
    """Cancel the samples still queued when the loop ends early (Ctrl-C, lost scheduler)."""
    try:
        yield
    except BaseException:
        if futures:
            client.cancel(list(futures), force=True)
        raise


def _submit(client, contexts: list, pending: list[tuple[int, int]]) -> dict:
    """Send each setting's context to every worker once, then queue the samples."""
    needed = sorted({setting for setting, _ in pending})
    shared = {s: client.scatter(contexts[s], broadcast=True, hash=False) for s in needed}
    futures = {}
    for setting, sample in pending:
        task = (run_network_sample if isinstance(contexts[setting], NetworkSampleContext)
                else run_sample)
        future = client.submit(task, shared[setting], sample, pure=False,
                               priority=1 if sample == NOMINAL else 0)
        futures[future] = (setting, sample)
    return futures


def _store(folder: SweepFolder, record: dict) -> None:
    folder.write_record(record)
    if record["status"] == "failed":
        logger.warning("setting %d sample %d failed: %s", record["setting"], record["sample"],
                       record["error_line"])


def run_samples(client, folder: SweepFolder, contexts: list, pending: list[tuple[int, int]],
                *, total: int, failed_before: int = 0, quiet: bool = False) -> dict:
    """Run ``pending`` samples and store each record; return counts and times.

    ``contexts`` contains one ``SampleContext`` (grid) or ``NetworkSampleContext`` per
    setting. For the progress bar,
    ``total`` is the number of samples in the whole sweep, stored ones included, and
    ``failed_before`` the stored failures that are not run again. Of the times,
    ``wall_s`` is the whole call and ``samples_s`` the part after the contexts reached
    every worker, so it leaves out the workers' imports.

    Raises:
        SimulationError: when the cluster cancels samples (a lost scheduler); the
            samples stored so far stay.
    """
    from distributed import as_completed
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    run_id = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    start = time.perf_counter()
    futures = _submit(client, contexts, pending)  # workers import npdehw while unpickling
    submitted = time.perf_counter()
    counts = {"done": 0, "failed": 0}
    bar = tqdm(total=total, initial=total - len(pending), desc="samples", unit="sample",
               file=sys.stderr, disable=quiet, dynamic_ncols=True)
    with bar, logging_redirect_tqdm(), _cancel_on_exit(client, futures):
        bar.set_postfix(failed=failed_before)
        for future in as_completed(futures):
            setting, sample = futures.pop(future)
            if future.status == "cancelled":
                raise SimulationError(f"the Dask cluster cancelled sample {sample} of setting "
                                      f"{setting} (lost scheduler or workers); finished "
                                      "samples are stored, so rerun to resume")
            record = _record(setting, sample, contexts[setting].seed, run_id, future)
            _store(folder, record)
            future.release()
            counts[record["status"]] += 1
            bar.set_postfix(failed=failed_before + counts["failed"], refresh=False)
            bar.update()
    return {**counts, "wall_s": time.perf_counter() - start,
            "samples_s": time.perf_counter() - submitted, "run_id": run_id}
