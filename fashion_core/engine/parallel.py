"""Independent training runs side by side: one single-threaded worker process per CPU core.

The default-profile models are so narrow (8-64 channels at 64 px) that on the 2-core machine a
second thread speeds one run up by 1.0-1.4x for the resnet_mini models (1.7-2.0x for the vgg_mini
ones), while two runs in two single-threaded processes go close to 2x as fast as one. `run_jobs`
is that scheduler for the (row, seed) runs of a notebook. Each worker trains with exactly one thread, so a run's numbers do not depend on how
many processes there were or which job shared the machine with which: the thread count is part
of the configuration, not of the schedule. With processes=1 the jobs run in this process with
torch's own thread count (the paper profile, meant for GPUs, does that).

Workers are spawned, not forked: a forked child of a process whose OpenMP pool is already
running can hang on its first parallel region.
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Sequence

import torch
from tqdm.auto import tqdm


class JobError(RuntimeError):
    """A job failed in a worker process; names the job and carries the worker's traceback text."""


def _single_threaded_worker() -> None:

    torch.set_num_threads(1)
    os.environ["OMP_NUM_THREADS"] = "1"


def _call(function: Callable[..., Any], arguments: tuple, keywords: dict[str, Any]) -> Any:

    try:
        return function(*arguments, **keywords)
    except BaseException as error:  # the parent re-raises it with the job's name
        raise JobError(f"{type(error).__name__}: {error}\n{traceback.format_exc()}") from None


def run_jobs(function: Callable[..., Any], jobs: Sequence[tuple[tuple, dict[str, Any]]], names: Sequence[str],
             processes: int, progress: bool = True, description: str = "runs") -> list[Any]:
    """function(*arguments, **keywords) for every (arguments, keywords) job; results in job order.

    processes > 1: at most that many spawned single-threaded workers (never more than jobs), even
    for a single job, so that its numbers are those of a single-threaded run; the function and its
    arguments must be picklable (module-level functions, datasets, models).
    processes == 1: in this process, in order. The first failure is raised as JobError naming
    its job, after the jobs already running have finished (their checkpoints are kept).
    """
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    if len(names) != len(jobs):
        raise ValueError(f"{len(jobs)} jobs but {len(names)} names")
    bar = tqdm(total=len(jobs), desc=description, unit="run", disable=not progress)
    try:
        if processes == 1:
            results = []
            for (arguments, keywords) in jobs:
                results.append(function(*arguments, **keywords))
                bar.update()
            return results
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(processes, len(jobs)), mp_context=context,
                                 initializer=_single_threaded_worker) as pool:
            futures: list[Future] = []
            for arguments, keywords in jobs:
                future = pool.submit(_call, function, arguments, keywords)
                future.add_done_callback(lambda _: bar.update())
                futures.append(future)
            results = []
            for name, future in zip(names, futures):
                try:
                    results.append(future.result())
                except JobError as error:
                    for pending in futures:
                        pending.cancel()
                    raise JobError(f"{description}: {name} failed in its worker process: {error}") from None
            return results
    finally:
        bar.close()
