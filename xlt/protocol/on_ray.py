"""Distributed runs on Ray (`xlt run CONFIG --ray [ADDRESS]`).

The plan is the sequential one, checked on the driver before anything is written. Each source stage a
run starts from becomes a Ray task, trained once; each run becomes a task that depends on its stage and
asks for the CPUs and GPUs of the config's `resources:`. A stage's weights are saved in the stages folder as
in a sequential run and also travel through Ray's object store, so a node without that folder writes them
before its run reads them. Workers write no results: a run returns the store calls it would have made, and
the driver, the single writer of every store, applies them as results arrive. A worker that dies is
retried by Ray (resources.retries); a driver that dies resumes like any run, from the finished runs in the
store and the stages on disk.
"""
from __future__ import annotations

import math
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xlt.errors import XltError
from xlt.files import atomic_write_bytes
from xlt.store import RunKey

CONNECT_SECONDS = 10  # how long an address may take to answer before `--ray ADDRESS` gives up
KILL_ONCE_ENV = "XLT_TEST_KILL_WORKER_ONCE"  # tests: a file path; the first run to finish kills its worker


@contextmanager
def ray_session(address: str):
    """Join the cluster at `address` ("auto": the one this machine belongs to; "host:port" or
    "ray://host:port"), or start a local instance ("local"), shut down again at the end."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports sent from a lab's machines
    try:
        import ray
    except ImportError:
        raise XltError("xlt run --ray needs Ray: pip install 'xlt[ray]' (or ray)") from None
    started = not ray.is_initialized()
    if started:
        env = {"env_vars": {k: v for k, v in os.environ.items() if k.startswith(("XLT_", "HF_"))}}
        if address == "local":
            ray.init(include_dashboard=False, runtime_env=env, logging_level="ERROR")
        else:
            if address != "auto":
                _check_reachable(address)
            try:
                ray.init(address=address, runtime_env=env, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise XltError(f"could not join the Ray cluster at {address!r}: {str(exc).splitlines()[0]}; "
                               "start one with `ray start --head`, or give its address (host:port); nothing "
                               "was written") from None
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def _check_reachable(address: str) -> None:
    """Refuse, within CONNECT_SECONDS, an address where nothing answers (Ray itself can wait minutes)."""
    hostport = address.removeprefix("ray://")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise XltError(f"--ray {address!r} is not a cluster address; give host:port (e.g. 10.0.0.5:6379), "
                       "ray://host:10001, auto (the cluster this machine joined), or nothing for a local instance")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise XltError(f"no Ray cluster answers at {address} ({exc.strerror or exc}); start one with "
                       "`ray start --head`, or check the address and port; nothing was written") from None


@dataclass(frozen=True)
class Job:
    """What a worker needs to rebuild a plan's context: the same checks, on its own machine."""

    index: int  # the plan's position among the driver's plans
    exp: object  # the Experiment of this plan (one source set, one model)
    data_dir: str | None
    out: str
    stages_dir: str


_CONTEXTS: dict[tuple, object] = {}  # per worker process: (plan, output folder) -> Context, loaded once


def _context(job: Job):
    from xlt.protocol.plan import check_experiment

    cache_key = (job.index, job.out)
    if cache_key not in _CONTEXTS:
        _CONTEXTS[cache_key] = check_experiment(job.exp, job.data_dir, job.out, Path(job.stages_dir)).ctx
    return _CONTEXTS[cache_key]


def _stage_data(ctx, name: str | None):
    return ctx.source if name is None else next(t for t in ctx.targets if t.key() == name)


def train_stage(job: Job, method: str, seed: int, select_on: str | None) -> tuple[str, dict[str, bytes]]:
    """Train (or load) one source stage; returns its name and its files, for nodes without the folder."""
    ctx = _context(job)
    data = _stage_data(ctx, select_on)
    ctx.stages.model(method, seed, data)
    path = ctx.stages.path(method, seed, data)
    files = {f.name: f.read_bytes() for f in (path, path.with_suffix(".json")) if f.exists()}
    return path.name, files


class RecordingStore:
    """Stands in for the store on a worker: keeps the calls a run makes, for the driver to apply."""

    def __init__(self):
        self.calls: list[tuple[str, tuple]] = []

    def mark_started(self, *args) -> None:
        self.calls.append(("mark_started", args))

    def finish(self, *args) -> None:
        self.calls.append(("finish", args))


def execute_run(job: Job, key: RunKey, stage_name: str | None, stage_files: list) -> list[tuple[str, tuple]]:
    """One run on a worker; returns its store calls. `stage_files` holds (unresolved) the object-store copy
    of its stage, fetched only where the stages folder lacks it."""
    import ray

    from xlt.protocol.run import run_one

    ctx = _context(job)
    if stage_name is not None and not (ctx.stages.dir / stage_name).exists():
        for name, data in ray.get(stage_files[0]).items():
            atomic_write_bytes(ctx.stages.dir / name, data)
    ctx.store = RecordingStore()
    run_one(ctx, key)
    _kill_once_for_tests()
    return ctx.store.calls


def _kill_once_for_tests() -> None:
    """A test's way to lose a worker mid-run: with XLT_TEST_KILL_WORKER_ONCE=FILE, the first run to get here
    creates FILE and kills its own process before returning, so Ray must retry it."""
    marker = os.environ.get(KILL_ONCE_ENV)
    if marker:
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return
        os.close(fd)
        os.kill(os.getpid(), 9)


def run_on_ray(plans: list, headers: list, stream) -> None:
    """Every unfinished run of `plans` as Ray tasks; the results written here, in the order they arrive."""
    import ray

    from xlt.protocol.run import open_store, start_progress
    from xlt.protocol.strategies import STRATEGIES

    stores = [open_store(p) for p in plans]
    try:
        for header in filter(None, headers):
            print(header, file=stream)
        progress = start_progress(plans, plans[0].ctx.task.metric_name, stream)
        pending = _submit(plans, ray, STRATEGIES)
        try:
            while pending:
                [ref], _ = ray.wait(list(pending), num_returns=1)
                i, key = pending.pop(ref)
                calls = _result(ray, ref, key)
                for name, args in calls:
                    getattr(stores[i], name)(*args)
                finish = dict(calls)["finish"]
                progress.finished(key.label(), finish[1], finish[3] + finish[4])
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
        progress.close()
    finally:
        for store in stores:
            store.close()


def _submit(plans: list, ray, strategies) -> dict:
    """Stage tasks (one per stage file, shared across plans that share it) and run tasks that depend on them."""
    from xlt.baselines import BASELINES

    res = plans[0].ctx.exp.resources
    threads = plans[0].ctx.exp.training.threads or max(1, math.ceil(res.cpus_per_run))
    options = {"num_cpus": res.cpus_per_run, "num_gpus": res.gpus_per_run, "max_retries": res.retries}
    stage_task = ray.remote(train_stage).options(num_returns=2, **options)
    run_task = ray.remote(execute_run).options(**options)
    stages: dict[Path, tuple] = {}
    pending = {}
    for i, p in enumerate(plans):
        exp = p.ctx.exp.model_copy(update={"training": p.ctx.exp.training.model_copy(update={"threads": threads})})
        job = Job(i, exp, p.data_dir, str(p.ctx.out), str(p.ctx.stages.dir))
        for key in p.todo:
            data = None if key.method in BASELINES else strategies.get(key.strategy).stage_data(p.ctx, key)
            if data is None:
                pending[run_task.remote(job, key, None, [None])] = (i, key)
                continue
            path = p.ctx.stages.path(key.method, key.seed, data)
            if path not in stages:
                stages[path] = stage_task.remote(job, key.method, key.seed,
                                                 None if data is p.ctx.source else data.key())
            name_ref, files_ref = stages[path]
            pending[run_task.remote(job, key, name_ref, [files_ref])] = (i, key)
    return pending


def _result(ray, ref, key: RunKey) -> list:
    """A run's store calls; a run that failed ends the whole run with its own error (finished runs kept)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, XltError):
            raise cause from None
        raise XltError(f"{key.label()} failed on a Ray worker: {exc}; the finished runs are kept, run the same "
                       "command again to resume") from None
    except ray.exceptions.WorkerCrashedError:
        raise XltError(f"{key.label()}: its worker died more often than resources.retries allows; the "
                       "finished runs are kept, run the same command again to resume") from None
