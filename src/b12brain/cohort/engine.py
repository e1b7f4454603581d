"""The participant level on dask.distributed: one task per scan, on a local cluster, an existing
scheduler or a SLURM/PBS cluster (dask-jobqueue).

* **Resumable.** A scan whose folder is an unchanged b12brain result (its manifest verifies,
  :func:`b12brain.io.manifest.manifest_problem`) is not run again.
* **Atomic.** A task publishes its folder whole (:func:`b12brain.io.outdir.staged_output_dir`); a
  worker killed mid-task leaves only a hidden staging folder, removed by the next run of that scan.
* **Failures stay local.** A scan b12brain refuses (:class:`~b12brain.errors.B12BrainError`) is
  recorded with its message and not retried; an unexpected error is retried ``retries`` times;
  a task whose worker dies is rerun on another worker by the scheduler (Dask's
  ``distributed.scheduler.allowed-failures`` times); the other scans go on.
* **Recorded.** Each scan run gets ``logs/<sub>[_ses]_scan.json`` (status, error, seconds,
  worker, finish time, QC warnings); a scan skipped as done keeps its old record. Each scan's
  QC warnings are also printed (``sub-01: QC warning: ...``) and are in its summary.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, TextIO

from b12brain.cohort.bids_derivative import scan_folder, write_scan_outputs
from b12brain.cohort.bids_index import ScanJob
from b12brain.errors import B12BrainError, ConfigError
from b12brain.io.manifest import manifest_problem
from b12brain.io.outdir import write_text_file
from b12brain.pipeline import PipelineConfig
from b12brain.segment import Segmenter

#: Cluster systems reachable through dask-jobqueue.
JOBQUEUE_SYSTEMS = ("slurm", "pbs")
LOG_FOLDER = "logs"


@dataclass(frozen=True)
class ClusterOptions:
    """Where the tasks run.

    Parameters
    ----------
    workers, threads_per_worker : int
        Local cluster size (one process per worker); with ``jobqueue``, jobs and cores per job.
    scheduler : str or None
        Address of a running Dask scheduler (``tcp://host:8786``); the workers are its own.
    jobqueue : {"slurm", "pbs"} or None
        Submit the workers as batch jobs through dask-jobqueue.
    memory, walltime, queue, account : str or None
        Per batch job (``"16GB"``, ``"02:00:00"``); ``memory`` is required with ``jobqueue``.
    retries : int
        Reruns of a task that raised an unexpected error (a worker that dies is handled by the
        scheduler apart from this).
    """

    workers: int = 1
    threads_per_worker: int = 1
    scheduler: str | None = None
    jobqueue: str | None = None
    memory: str | None = None
    walltime: str | None = None
    queue: str | None = None
    account: str | None = None
    retries: int = 2

    def __post_init__(self) -> None:
        if self.workers < 1 or self.threads_per_worker < 1:
            raise ConfigError(f"--workers {self.workers} / --threads-per-worker {self.threads_per_worker}: "
                              "need at least 1 each")
        if self.jobqueue is not None and self.jobqueue not in JOBQUEUE_SYSTEMS:
            raise ConfigError(f"--jobqueue {self.jobqueue!r}: expected one of {', '.join(JOBQUEUE_SYSTEMS)}")
        if self.jobqueue is not None and self.memory is None:
            raise ConfigError("--jobqueue needs --job-memory (memory per batch job, e.g. 16GB)")
        if self.jobqueue is not None and self.scheduler is not None:
            raise ConfigError("--scheduler and --jobqueue exclude each other: give one")
        if self.retries < 0:
            raise ConfigError(f"retries {self.retries} is negative")


@dataclass(frozen=True)
class ScanOutcome:
    """What became of one scan: ``status`` is ``ok``, ``failed`` or ``done before`` (verified
    outputs of an earlier run, not run again)."""

    key: str
    status: str
    error: str = ""
    seconds: float = 0.0
    worker: str = ""
    finished_utc: str = ""
    warnings: tuple[str, ...] = ()


def run_scans(
    jobs: Sequence[ScanJob],
    out_dir: Path,
    config: PipelineConfig,
    options: ClusterOptions,
    *,
    sources: dict[str, list[str]],
    command: str | None = None,
    stream: TextIO | None = sys.stderr,
) -> list[ScanOutcome]:
    """Run every runnable job not already done; return one outcome per runnable job.

    ``sources`` maps a job's key to its inputs as named in the outputs. Progress (a bar with
    done / failed / remaining and the ETA, and one line per scan) goes to ``stream``.
    """
    from distributed import as_completed
    from tqdm import tqdm

    runnable = [job for job in jobs if job.runnable]
    with ThreadPoolExecutor() as pool:  # hashing releases the GIL: checksums are read in parallel
        problems = list(pool.map(lambda job: manifest_problem(scan_folder(out_dir, job)), runnable))
    outcomes = [ScanOutcome(job.key, "done before") for job, problem in zip(runnable, problems, strict=True)
                if problem is None]
    todo = [job for job, problem in zip(runnable, problems, strict=True) if problem is not None]
    if stream is not None and outcomes:
        print(f"b12brain bids: {len(outcomes)} scans already done (outputs verified by their manifest); not run again",
              file=stream)
    if not todo:
        return outcomes
    failed = 0
    bar = tqdm(total=len(todo), file=stream, unit="scan", disable=stream is None, dynamic_ncols=True,
               desc="participant level")
    with _client(options) as client:
        futures = {
            client.submit(process_scan, job, str(out_dir), config, sources.get(job.key, []), command,
                          key=f"b12brain-{job.key}-{time.time_ns()}", retries=options.retries, pure=False): job
            for job in todo
        }
        for future in as_completed(futures):
            job = futures[future]
            try:
                outcome = future.result()
            except Exception as err:  # noqa: BLE001 - retries spent or worker lost: record, go on
                outcome = ScanOutcome(job.key, "failed", f"{type(err).__name__}: {err}",
                                      finished_utc=_now())
            _write_log(out_dir, outcome)
            outcomes.append(outcome)
            failed += outcome.status == "failed"
            bar.update(1)
            bar.set_postfix(done=bar.n - failed, failed=failed, remaining=bar.total - bar.n, refresh=True)
            lines = [f"{outcome.key}: ok in {outcome.seconds:.1f} s on {outcome.worker}" if outcome.status == "ok"
                     else f"{outcome.key}: failed: {outcome.error}"]
            lines += [f"{outcome.key}: QC warning: {warning}" for warning in outcome.warnings]
            if stream is not None:
                bar.write("\n".join(lines), file=stream)
    bar.close()
    return outcomes


def process_scan(job: ScanJob, out_dir: str, config: PipelineConfig, sources: list[str],
                 command: str | None) -> ScanOutcome:
    """Run the pipeline on one job and publish its folder (the task a worker runs).

    An error b12brain raises on purpose (unreadable scan, not a FLAIR, output refused) is
    returned as a failed outcome; anything else propagates, for Dask to retry.
    """
    from b12brain.pipeline import read_scans, run_pipeline

    assert job.flair is not None  # run_scans submits runnable jobs only
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        segmenter = _segmenter(config.segmenter, None if config.model is None else str(config.model))
        result = run_pipeline(read_scans(job.flair, job.t1), config=config, segmenter=segmenter)
        write_scan_outputs(result, job, Path(out_dir), sources=sources, command=command)
    except B12BrainError as err:
        return ScanOutcome(job.key, "failed", str(err), round(time.perf_counter() - start, 2), worker, _now())
    return ScanOutcome(job.key, "ok", "", round(time.perf_counter() - start, 2), worker, _now(),
                       tuple(str(w) for w in result.warnings))


def read_logs(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The last record of every scan run into ``out_dir`` (key -> record)."""
    records = {}
    folder = out_dir / LOG_FOLDER
    for path in sorted(folder.glob("*_scan.json")) if folder.is_dir() else ():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            records[str(record["key"])] = record
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return records


def jobqueue_cluster(options: ClusterOptions) -> Any:
    """The dask-jobqueue cluster of ``options`` (not yet scaled: nothing is submitted).

    ``cluster.job_script()`` shows the batch script each worker job would be submitted with.
    """
    from dask_jobqueue import PBSCluster, SLURMCluster

    kind = {"slurm": SLURMCluster, "pbs": PBSCluster}[str(options.jobqueue)]
    return kind(
        cores=options.threads_per_worker,
        processes=1,
        memory=options.memory,
        walltime=options.walltime,
        queue=options.queue,
        account=options.account,
        job_script_prologue=[f"export {k}={v}" for k, v in _thread_env(options.threads_per_worker).items()],
    )


@contextmanager
def _client(options: ClusterOptions) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if options.scheduler is not None:
        try:
            client = Client(options.scheduler, timeout="30s")
        except OSError as err:
            raise ConfigError(f"--scheduler {options.scheduler}: cannot connect ({err}); check the address and "
                              "that the scheduler runs") from err
        with client:
            yield client
        return
    if options.jobqueue is not None:
        with jobqueue_cluster(options) as cluster, Client(cluster) as client:
            cluster.scale(jobs=options.workers)
            yield client
        return
    with LocalCluster(n_workers=options.workers, threads_per_worker=options.threads_per_worker, processes=True,
                      dashboard_address=None, env=_thread_env(options.threads_per_worker)) as cluster, \
            Client(cluster) as client:
        yield client


def _thread_env(threads: int) -> dict[str, str]:
    """Each worker's numeric libraries (ITK's N4 and registration, BLAS, ONNX Runtime through
    OpenMP) use the worker's threads, so that workers do not fight over the cores."""
    return {name: str(threads) for name in ("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "OMP_NUM_THREADS",
                                            "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@lru_cache(maxsize=2)
def _segmenter(name: str, model: str | None) -> Segmenter:
    """One segmenter per worker process (the learned one loads its weights once)."""
    from b12brain.segment import get_segmenter

    return get_segmenter(name, model=model)


def _write_log(out_dir: Path, outcome: ScanOutcome) -> None:
    write_text_file(json.dumps(asdict(outcome), indent=2) + "\n", out_dir / LOG_FOLDER / f"{outcome.key}_scan.json",
                    overwrite=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
