"""Run ``run_many`` beyond one machine: Dask distributed and Ray executors.

``oe.run_many(configs, data, executor=...)`` accepts a Dask ``distributed.Client``, a
:class:`DaskExecutor` or a :class:`RayExecutor` (Ray initialised by the caller). The work is the
same Rust batch as a local run, cut into chunks of configs:

* the data (bars, ticks, signals) travels to each worker **once**, as Arrow tables (Dask
  ``scatter(..., broadcast=True)``, Ray object store); each worker process rebuilds the validated
  ``Bars`` once per batch and caches them;
* configs go in chunks of canonical JSON strings; each chunk runs ``_core.run_many`` on the worker
  (GIL released, a rayon pool sized to the worker's share of cores);
* results come back as Arrow IPC streams, keyed by chunk index, and are concatenated in config
  order with ``config_index`` shifted by the chunk's start, so the tables are byte-identical (Arrow
  IPC) to a local ``run_many``, whatever the chunk size or the number of workers;
* a worker that dies mid-run only costs its chunks a rerun elsewhere (Dask reschedules them, Ray
  retries them; both are resubmitted up to ``retries`` more times), and since results are keyed
  by chunk index no row is lost or duplicated;
* an exception raised on a worker (bad input: a coded ``OmegaError``) arrives in the caller as the
  same class with the same code and message; when several chunks fail, the lowest-index one wins,
  as in a local run;
* ``progress(done, total)`` is called in the caller after every finished chunk, and Ctrl-C cancels
  every outstanding chunk (running ones included) before ``KeyboardInterrupt`` propagates.

``run_many(..., threads=n, executor=...)`` sizes the rayon pool of every chunk (default: the
executor's ``threads_per_task``, else the worker's share of its host's cores). Walk-forward passes
its ``executor`` on to ``run_many``. Custom backends subclass :class:`Executor`.

Neither Dask nor Ray is imported by ``import omega_engine``; they are optional extras
(``omega_engine[dask]``, ``omega_engine[ray]``) imported when an executor is built.
"""

from __future__ import annotations

import math
import os
import pickle
import re
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from omega_engine import _core

__all__ = [
    "DaskExecutor",
    "Executor",
    "RayExecutor",
    "resolve_executor",
    "run_core",
]

Progress = Callable[[int, int], None]
CoreResult = tuple[pa.Table, pa.Table | None, pa.Table | None]

# Error codes of the shared table (crates/exec-core/src/codes.rs) used here.
_WORKER_FAILED = 5003
_INVALID_PARAMETER = 1001

# Chunks per worker slot when the caller gives no chunk size: enough for load balancing and a
# progress bar that moves, few enough that per-chunk overhead (task dispatch, shared indicator
# computations per batch) stays small.
_CHUNKS_PER_SLOT = 4


# --------------------------------------------------------------------------------------------
# What travels to the workers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Payload:
    """The data of one batch, shipped once per worker as Arrow tables.

    Pickling keeps the Arrow buffers out of band (pickle protocol 5), so Dask and Ray move them
    without re-encoding; ``token`` keys the per-worker cache of rebuilt ``Bars``.
    """

    token: str
    bars: tuple[tuple[str, pa.Table], ...]
    ticks: tuple[tuple[str, pa.Table], ...] | None
    signals: tuple[tuple[str, pa.Table], ...] | None


@dataclass(frozen=True)
class _Chunk:
    index: int
    start: int
    configs: tuple[str, ...]


@dataclass(frozen=True)
class _ChunkOk:
    """A finished chunk: each table as one Arrow IPC stream (None when not requested).

    Arrow buffers pickle out of band (protocol 5), so Dask and Ray move the streams uncopied.
    """

    summary: pa.Buffer
    trades: pa.Buffer | None
    equity: pa.Buffer | None


@dataclass(frozen=True)
class _ChunkError:
    """An exception raised by the engine on a worker, in a form that survives the trip back.

    ``blob`` is the pickled exception when it round-trips with its class, code and message intact;
    otherwise the caller rebuilds it from the code through ``omega_engine.errors``.
    """

    blob: bytes | None
    module: str
    qualname: str
    code: int | None
    message: str

    def rebuild(self) -> BaseException:
        if self.blob is not None:
            try:
                exc = pickle.loads(self.blob)
            except Exception:  # noqa: BLE001 - fall through to the code-based rebuild
                exc = None
            if isinstance(exc, BaseException):
                return exc
        if self.code is not None:
            return _coded_error(self.code, self.message)
        return _worker_failed(
            f"a worker raised {self.module}.{self.qualname}: {self.message}",
        )


# Per worker process: token -> (bars, ticks, signals) rebuilt from a payload. Two entries are
# enough for two interleaved batches; older ones are dropped so memory stays bounded.
_CACHE: OrderedDict[str, tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]]
_CACHE = OrderedDict()
_CACHE_SIZE = 2
_CACHE_LOCK = threading.Lock()


def _materialize(
    payload: _Payload,
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Rebuilds (once per worker process and batch) the validated Rust objects of a payload."""
    with _CACHE_LOCK:
        hit = _CACHE.get(payload.token)
        if hit is not None:
            _CACHE.move_to_end(payload.token)
            return hit
        from omega_engine import _core

        bars = {sym: _core.Bars(sym, table) for sym, table in payload.bars}
        ticks = (
            None
            if payload.ticks is None
            else {sym: _core.Ticks(sym, table) for sym, table in payload.ticks}
        )
        signals = None if payload.signals is None else dict(payload.signals)
        entry = (bars, ticks, signals)
        _CACHE[payload.token] = entry
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return entry


def _drop_cached(token: str) -> None:
    """Frees a finished batch's rebuilt data on a worker (called through ``client.run``)."""
    with _CACHE_LOCK:
        _CACHE.pop(token, None)


# Per worker process: batches the caller gave up on (Ctrl-C). Bounded: a token only matters
# while that batch's chunks are still running.
_ABORTED: OrderedDict[str, None] = OrderedDict()
_ABORTED_SIZE = 256


class _BatchAbortedError(Exception):
    """Raised from the engine's progress poll to stop a chunk whose batch was abandoned."""


def _abort_batch(token: str) -> None:
    """Marks a batch as abandoned in this worker process (called through ``client.run``)."""
    with _CACHE_LOCK:
        _ABORTED[token] = None
        while len(_ABORTED) > _ABORTED_SIZE:
            _ABORTED.popitem(last=False)
        _CACHE.pop(token, None)


class _AbortProbe:
    """The engine's progress callback on a worker: polled every ~50 ms on the task's thread,
    it stops the running chunk (the engine sets its cancel flag) once the batch is abandoned.
    Dask cannot interrupt a running task itself."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, done: int, total: int) -> None:
        if self.token in _ABORTED:
            raise _BatchAbortedError(f"batch {self.token} was cancelled by the caller")


def _to_ipc(table: pa.Table) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _from_ipc(blob: pa.Buffer) -> pa.Table:
    return pa.ipc.open_stream(blob).read_all()


def _shift_config_index(table: pa.Table, start: int) -> pa.Table:
    """Turns a chunk's local config_index (0..len) into the batch's index (start..start+len)."""
    if start == 0 or "config_index" not in table.column_names:
        return table
    pos = table.schema.get_field_index("config_index")
    col = table.column(pos)
    shifted = pc.add(col, pa.scalar(start, type=col.type))
    return table.set_column(pos, table.schema.field(pos), shifted)


# Engine messages that name a config by its position in the batch: on a worker that position is
# relative to the chunk. ``configs[i]`` is how run_many names a config it cannot parse; ``config i``
# is how a panic caught in one config's run is reported (summary ``error`` column).
_INDEX_IN_MESSAGE = re.compile(
    r"^(\[\d{4}\] [A-Z0-9_]+: configs\[)(\d+)(\])|^(\[5005\] FFI_PANIC_CAUGHT: config )(\d+)(:)"
)


def _shift_message(message: str, start: int) -> str:
    """Rewrites a chunk-relative config position in an engine message to the batch's."""
    m = _INDEX_IN_MESSAGE.match(message)
    if m is None or start == 0:
        return message
    head, num = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(4), m.group(5))
    return f"{head}{int(num) + start}{message[len(head) + len(num) :]}"


def _shift_summary_errors(summary: pa.Table, start: int) -> pa.Table:
    """Applies :func:`_shift_message` to the ``error`` column of failed configs."""
    if start == 0 or "error" not in summary.column_names:
        return summary
    pos = summary.schema.get_field_index("error")
    col = summary.column(pos)
    if col.null_count == len(col):
        return summary
    values = col.to_pylist()
    shifted = [None if v is None else _shift_message(v, start) for v in values]
    if shifted == values:
        return summary
    return summary.set_column(pos, summary.schema.field(pos), pa.array(shifted, col.type))


def _portable_error(exc: BaseException) -> _ChunkError:
    code = getattr(exc, "code", None)
    code = code if isinstance(code, int) else None
    blob: bytes | None
    try:
        blob = pickle.dumps(exc)
        back = pickle.loads(blob)
        if (
            type(back) is not type(exc)
            or getattr(back, "code", None) != getattr(exc, "code", None)
            or str(back) != str(exc)
        ):
            blob = None
    except Exception:  # noqa: BLE001 - unpicklable exceptions travel by code and message
        blob = None
    cls = type(exc)
    return _ChunkError(blob, cls.__module__, cls.__qualname__, code, str(exc))


def _run_chunk(
    payload: _Payload,
    chunk: _Chunk,
    threads: int,
    include_trades: bool,
    include_equity: bool,
) -> _ChunkOk | _ChunkError:
    """The task every worker runs: one Rust batch over a chunk of configs.

    Exceptions of the engine are returned, not raised: they are deterministic, so retrying them
    (as Dask and Ray do for raised exceptions) would only repeat the failure.
    """
    try:
        from omega_engine import _core

        bars, ticks, signals = _materialize(payload)
        summary, trades, equity = _core.run_many(
            list(chunk.configs),
            bars,
            ticks=ticks,
            signals=signals,
            threads=threads,
            include_trades=include_trades,
            include_equity=include_equity,
            progress=_AbortProbe(payload.token),
        )
        summary = _shift_summary_errors(summary, chunk.start)
        return _ChunkOk(
            _to_ipc(_shift_config_index(summary, chunk.start)),
            None if trades is None else _to_ipc(_shift_config_index(trades, chunk.start)),
            None if equity is None else _to_ipc(_shift_config_index(equity, chunk.start)),
        )
    except Exception as exc:  # noqa: BLE001 - shipped back to the caller, see docstring
        from omega_engine import _core, errors

        if isinstance(exc, _core.OmegaCoreError):
            # The same mapping (and message) a local run gives, so the caller sees the same error.
            mapped = errors.from_core(exc)
            message = _shift_message(str(mapped), chunk.start)
            return _portable_error(type(mapped)(message, code=mapped.code))
        return _portable_error(exc)


def _worker_slot_info() -> tuple[str, int]:
    """(host name, usable cores) of the process it runs in."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return socket.gethostname(), max(1, cores)


# --------------------------------------------------------------------------------------------
# Errors in the caller
# --------------------------------------------------------------------------------------------


def _coded_error(code: int, message: str) -> BaseException:
    """The ``omega_engine.errors`` exception of ``code`` carrying ``message`` unchanged."""
    from omega_engine import errors

    return errors.error_class(code)(message, code=code)


def _worker_failed(detail: str) -> BaseException:
    from omega_engine import errors

    return errors.make_error(_WORKER_FAILED, detail)


def _invalid_parameter(detail: str) -> BaseException:
    from omega_engine import errors

    return errors.make_error(_INVALID_PARAMETER, detail)


# --------------------------------------------------------------------------------------------
# The driver loop shared by every backend
# --------------------------------------------------------------------------------------------


@dataclass
class _Job:
    payload: _Payload
    chunks: list[_Chunk]
    total: int
    threads: int
    include_trades: bool
    include_equity: bool
    progress: Progress | None
    attempts: dict[int, int] = field(default_factory=dict)


class Executor(ABC):
    """Runs the chunks of a ``run_many`` batch somewhere else; see the module docstring.

    ``chunk_size`` is the number of configs per task (default: about four chunks per worker slot);
    ``retries`` is how many more times a chunk is submitted after its task was lost to a failing
    worker (beyond what the engine itself does); ``threads_per_task`` is the rayon pool of each
    chunk (default: the worker's share of its host's cores, 1 when the cluster already fills the
    cores).
    """

    def __init__(
        self,
        *,
        chunk_size: int | None = None,
        retries: int = 2,
        threads_per_task: int | None = None,
    ) -> None:
        if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
            raise _invalid_parameter(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if not isinstance(retries, int) or retries < 0:
            raise _invalid_parameter(f"retries must be a non-negative integer, got {retries!r}")
        if threads_per_task is not None and (
            not isinstance(threads_per_task, int) or threads_per_task < 1
        ):
            raise _invalid_parameter(
                f"threads_per_task must be a positive integer, got {threads_per_task!r}"
            )
        self.chunk_size = chunk_size
        self.retries = retries
        self.threads_per_task = threads_per_task
        #: Of the last batch: how many chunks it had, and how many times a chunk was submitted
        #: again after its task was lost (a worker died and the engine gave up on the task).
        self.last_chunks = 0
        self.last_resubmitted = 0

    # -- backend hooks ------------------------------------------------------------------------

    @abstractmethod
    def _slots(self) -> int:
        """How many chunks the cluster runs at once (for the default chunk size)."""

    @abstractmethod
    def _default_threads(self) -> int:
        """The rayon pool of one chunk when neither the executor nor the call names one."""

    @abstractmethod
    def _open(self, payload: _Payload) -> Any:
        """Ships the payload to the workers; returns a handle for ``_submit``."""

    @abstractmethod
    def _submit(self, handle: Any, job: _Job, chunk: _Chunk, attempt: int) -> Any:
        """Starts one chunk; returns a pending task."""

    @abstractmethod
    def _wait(self, pending: Sequence[Any], timeout: float) -> list[Any]:
        """Returns the tasks of ``pending`` that have finished (possibly none after timeout)."""

    @abstractmethod
    def _outcome(self, task: Any) -> _ChunkOk | _ChunkError | BaseException:
        """A finished task's result, or the infrastructure exception that made it fail."""

    @abstractmethod
    def _cancel(self, tasks: Sequence[Any]) -> None:
        """Cancels tasks that have not finished."""

    @abstractmethod
    def _close(self, handle: Any, payload: _Payload) -> None:
        """Releases the shipped payload."""

    def _reship(self, handle: Any, payload: _Payload) -> Any:
        """Returns a handle whose data is still available (after workers holding it died)."""
        return handle

    def _abort(self, job: _Job) -> None:
        """Stops chunks of an abandoned batch that are already running (where cancelling the
        task does not). Nothing to do where ``_cancel`` interrupts running tasks."""
        return None

    # -- the driver -------------------------------------------------------------------------

    def run_core(
        self,
        configs_json: Sequence[str],
        bars: Mapping[str, _core.Bars],
        *,
        ticks: Mapping[str, _core.Ticks] | None = None,
        signals: Mapping[str, Any] | None = None,
        threads: int | None = None,
        include_trades: bool = True,
        include_equity: bool = False,
        progress: Progress | None = None,
    ) -> CoreResult:
        """Drop-in replacement of ``_core.run_many`` running the batch on this executor."""
        configs = [str(c) for c in configs_json]
        if not configs:
            # Nothing to distribute: the local engine gives the exact empty tables.
            from omega_engine import _core

            return _core.run_many(
                configs,
                bars,
                ticks=ticks,
                signals=signals,
                threads=1,
                include_trades=include_trades,
                include_equity=include_equity,
                progress=progress,
            )
        payload = _make_payload(bars, ticks, signals)
        chunk_size = self.chunk_size or max(
            1, math.ceil(len(configs) / (_CHUNKS_PER_SLOT * max(1, self._slots())))
        )
        chunks = [
            _Chunk(i, start, tuple(configs[start : start + chunk_size]))
            for i, start in enumerate(range(0, len(configs), chunk_size))
        ]
        job = _Job(
            payload=payload,
            chunks=chunks,
            total=len(configs),
            threads=threads or self.threads_per_task or self._default_threads(),
            include_trades=include_trades,
            include_equity=include_equity,
            progress=progress,
        )
        self.last_chunks, self.last_resubmitted = len(chunks), 0
        results = self._drive(job)
        return _assemble([results[c.index] for c in chunks], include_trades, include_equity)

    def _drive(self, job: _Job) -> dict[int, _ChunkOk]:
        handle = self._open(job.payload)
        pending: dict[Any, _Chunk] = {}
        results: dict[int, _ChunkOk] = {}
        errors: dict[int, BaseException] = {}
        done_configs = 0
        try:
            for chunk in job.chunks:
                pending[self._submit(handle, job, chunk, 0)] = chunk
            while pending:
                finished = self._wait(list(pending), 0.1)
                for task in finished:
                    if task not in pending:
                        continue  # dropped while handling an earlier failure of this round
                    chunk = pending.pop(task)
                    outcome = self._outcome(task)
                    if isinstance(outcome, _ChunkOk):
                        if chunk.index not in results:
                            results[chunk.index] = outcome
                            done_configs += len(chunk.configs)
                            if job.progress is not None:
                                job.progress(done_configs, job.total)
                        continue
                    if isinstance(outcome, _ChunkError):
                        failure: BaseException = outcome.rebuild()
                    else:
                        attempt = job.attempts.get(chunk.index, 0) + 1
                        if attempt <= self.retries:
                            job.attempts[chunk.index] = attempt
                            self.last_resubmitted += 1
                            handle = self._reship(handle, job.payload)
                            pending[self._submit(handle, job, chunk, attempt)] = chunk
                            continue
                        failure = _worker_failed(
                            f"chunk {chunk.index} (configs {chunk.start}.."
                            f"{chunk.start + len(chunk.configs) - 1}) failed after "
                            f"{attempt} attempt(s): {type(outcome).__name__}: {outcome}"
                        )
                        failure.__cause__ = outcome
                    errors[chunk.index] = failure
                    # Like a local run, report the lowest-index error: chunks after it are not
                    # needed any more, chunks before it may still fail with a lower index.
                    lowest = min(errors)
                    later = [t for t, c in pending.items() if c.index > lowest]
                    if later:
                        self._cancel(later)
                        for t in later:
                            del pending[t]
            if errors:
                raise errors[min(errors)]
            return results
        except BaseException:
            if pending:
                self._cancel(list(pending))
                self._abort(job)
            raise
        finally:
            self._close(handle, job.payload)


def _make_payload(
    bars: Mapping[str, Any],
    ticks: Mapping[str, Any] | None,
    signals: Mapping[str, Any] | None,
) -> _Payload:
    def tables(items: Iterable[tuple[str, Any]]) -> tuple[tuple[str, pa.Table], ...]:
        out = []
        for sym, obj in items:
            to_arrow = getattr(obj, "to_arrow", None)
            out.append((str(sym), to_arrow() if to_arrow is not None else pa.table(obj)))
        return tuple(out)

    return _Payload(
        token=uuid.uuid4().hex,
        bars=tables(bars.items()),
        ticks=None if ticks is None else tables(ticks.items()),
        signals=None if signals is None else tables(signals.items()),
    )


def _concat(tables: list[pa.Table]) -> pa.Table:
    # One chunk per column, like the single record batch of a local run.
    return pa.concat_tables(tables).combine_chunks()


def _unify_summaries(tables: list[pa.Table]) -> list[pa.Table]:
    """Gives every chunk's summary the column set a single batch would have had.

    The summary has one column per config parameter, the union over the batch in order of first
    appearance, placed after the key columns; a chunk only knows its own configs' parameters
    (e.g. a grid mixing strategies). Chunks are in config order, so the union of their parameter
    columns in chunk order is the batch's order; a parameter a chunk lacks is all null there, as
    the engine fills it for configs without it.
    """
    first = tables[0].schema
    if all(t.schema.equals(first, check_metadata=True) for t in tables[1:]):
        return tables
    from omega_engine import _core

    fixed = set(_core.schemas()["summary"].names)
    params: dict[str, pa.Field] = {}
    insert_at: int | None = None
    for t in tables:
        for i, f in enumerate(t.schema):
            if f.name not in fixed:
                if insert_at is None:
                    insert_at = i
                params.setdefault(f.name, f)
    fixed_fields = [f for f in first if f.name in fixed]
    at = len(fixed_fields) if insert_at is None else insert_at
    schema = pa.schema(
        [*fixed_fields[:at], *params.values(), *fixed_fields[at:]], metadata=first.metadata
    )
    out = []
    for t in tables:
        names = set(t.schema.names)
        cols = [
            t.column(f.name) if f.name in names else pa.nulls(t.num_rows, f.type) for f in schema
        ]
        out.append(pa.Table.from_arrays(cols, schema=schema))
    return out


def _assemble(results: list[_ChunkOk], include_trades: bool, include_equity: bool) -> CoreResult:
    summary = _concat(_unify_summaries([_from_ipc(r.summary) for r in results]))
    trades_blobs = [r.trades for r in results if r.trades is not None]
    equity_blobs = [r.equity for r in results if r.equity is not None]
    trades = _concat([_from_ipc(b) for b in trades_blobs]) if trades_blobs else None
    equity = _concat([_from_ipc(b) for b in equity_blobs]) if equity_blobs else None
    return summary, trades, equity


# --------------------------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------------------------


def _import_dask() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "DaskExecutor needs dask distributed: pip install 'omega-engine[dask]'"
        ) from exc
    return distributed


class DaskExecutor(Executor):
    """Runs chunks on a Dask ``distributed.Client`` (the cluster is the caller's).

    The data is scattered with ``broadcast=True`` (each worker receives it once per batch); tasks
    of a worker that dies are rescheduled by Dask (``distributed.scheduler.allowed-failures``) and,
    if they still fail, resubmitted up to ``retries`` more times.
    """

    def __init__(
        self,
        client: Any,
        *,
        chunk_size: int | None = None,
        retries: int = 2,
        threads_per_task: int | None = None,
    ) -> None:
        super().__init__(chunk_size=chunk_size, retries=retries, threads_per_task=threads_per_task)
        distributed = _import_dask()
        if not isinstance(client, distributed.Client):
            raise _invalid_parameter(
                f"executor: DaskExecutor needs a distributed.Client, got {type(client).__name__}"
            )
        self.client: Any = client

    def _workers(self) -> dict[str, Any]:
        try:
            info = self.client.scheduler_info(n_workers=-1)  # all workers (distributed >= 2025.1)
        except TypeError:
            info = self.client.scheduler_info()  # older releases list all workers anyway
        workers: dict[str, Any] = info.get("workers", {})
        return workers

    def _slots(self) -> int:
        return sum(int(w.get("nthreads", 1)) for w in self._workers().values()) or 1

    def _default_threads(self) -> int:
        # Each task gets its worker's share of the host's cores: the host's usable cores divided
        # by all Dask threads on that host (1 when the cluster already fills the cores).
        workers = self._workers()
        if not workers:
            return 1
        slots = self.client.run(_worker_slot_info, on_error="ignore")
        per_host_threads: dict[str, int] = {}
        per_host_cores: dict[str, int] = {}
        for addr, (host, cores) in slots.items():
            nthreads = int(workers.get(addr, {}).get("nthreads", 1))
            per_host_threads[host] = per_host_threads.get(host, 0) + nthreads
            per_host_cores[host] = cores
        if not per_host_threads:
            return 1
        return max(1, min(per_host_cores[h] // t for h, t in per_host_threads.items()))

    def _open(self, payload: _Payload) -> Any:
        return self.client.scatter(payload, broadcast=True, hash=False)

    def _reship(self, handle: Any, payload: _Payload) -> Any:
        if handle.status == "finished":
            return handle
        return self.client.scatter(payload, broadcast=True, hash=False)

    def _submit(self, handle: Any, job: _Job, chunk: _Chunk, attempt: int) -> Any:
        return self.client.submit(
            _run_chunk,
            handle,
            chunk,
            job.threads,
            job.include_trades,
            job.include_equity,
            key=f"omega-chunk-{job.payload.token}-{chunk.index}-{attempt}",
            pure=False,
        )

    def _wait(self, pending: Sequence[Any], timeout: float) -> list[Any]:
        distributed = _import_dask()
        try:
            distributed.wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED")
        except (TimeoutError, distributed.TimeoutError):
            pass
        return [f for f in pending if f.done()]

    def _outcome(self, task: Any) -> _ChunkOk | _ChunkError | BaseException:
        if task.status == "finished":
            try:
                out = task.result()
            except Exception as exc:  # noqa: BLE001 - e.g. the result was lost with its worker
                return exc
            finally:
                task.release()
            if isinstance(out, _ChunkOk | _ChunkError):
                return out
            return TypeError(f"unexpected chunk result {type(out).__name__}")
        if task.status == "cancelled":
            return RuntimeError("the chunk's task was cancelled by the scheduler")
        failure: Any
        try:
            failure = task.exception()
        except Exception as err:  # noqa: BLE001 - the exception itself could not be fetched
            failure = err
        task.release()
        return failure if isinstance(failure, BaseException) else RuntimeError(str(failure))

    def _cancel(self, tasks: Sequence[Any]) -> None:
        try:
            self.client.cancel(list(tasks))
        except Exception:  # noqa: BLE001 - best effort while unwinding
            pass

    def _abort(self, job: _Job) -> None:
        try:
            self.client.run(_abort_batch, job.payload.token, on_error="ignore")
        except Exception:  # noqa: BLE001 - best effort while unwinding
            pass

    def _close(self, handle: Any, payload: _Payload) -> None:
        try:
            handle.release()
            self.client.run(_drop_cached, payload.token, on_error="ignore")
        except Exception:  # noqa: BLE001 - best effort: the cluster may be gone already
            pass


# --------------------------------------------------------------------------------------------
# Ray
# --------------------------------------------------------------------------------------------

_RAY_TASK: Any = None


def _ray_task() -> Any:
    global _RAY_TASK
    if _RAY_TASK is None:
        import ray

        _RAY_TASK = ray.remote(_run_chunk)
    return _RAY_TASK


class RayExecutor(Executor):
    """Runs chunks as Ray tasks on the cluster of the caller's ``ray.init()``.

    The data goes to the object store once (``ray.put``); each task reserves ``num_cpus`` CPUs and
    runs its rayon pool on as many threads. Ray retries tasks of a dead worker ``max_retries``
    times; after that the chunk is resubmitted up to ``retries`` more times.
    """

    def __init__(
        self,
        *,
        chunk_size: int | None = None,
        num_cpus: int = 1,
        max_retries: int = 3,
        retries: int = 1,
        threads_per_task: int | None = None,
    ) -> None:
        super().__init__(chunk_size=chunk_size, retries=retries, threads_per_task=threads_per_task)
        try:
            import ray
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("RayExecutor needs ray: pip install 'omega-engine[ray]'") from exc
        if not isinstance(num_cpus, int) or num_cpus < 1:
            raise _invalid_parameter(f"num_cpus must be a positive integer, got {num_cpus!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise _invalid_parameter(
                f"max_retries must be a non-negative integer, got {max_retries!r}"
            )
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self._ray: Any = ray

    def _check(self) -> None:
        if not self._ray.is_initialized():
            raise _invalid_parameter("executor: RayExecutor needs ray.init() to be called first")

    def _slots(self) -> int:
        self._check()
        cpus = float(self._ray.cluster_resources().get("CPU", 1))
        return max(1, int(cpus // self.num_cpus))

    def _default_threads(self) -> int:
        return self.num_cpus

    def _open(self, payload: _Payload) -> Any:
        self._check()
        return self._ray.put(payload)

    def _submit(self, handle: Any, job: _Job, chunk: _Chunk, attempt: int) -> Any:
        task = _ray_task().options(
            num_cpus=self.num_cpus,
            max_retries=self.max_retries,
            retry_exceptions=False,
            name=f"omega-chunk-{chunk.index}",
        )
        return task.remote(handle, chunk, job.threads, job.include_trades, job.include_equity)

    def _wait(self, pending: Sequence[Any], timeout: float) -> list[Any]:
        done, _ = self._ray.wait(list(pending), num_returns=1, timeout=timeout)
        if not done:
            return []
        # Collect every other task that is ready too, without waiting.
        more, _ = self._ray.wait(list(pending), num_returns=len(pending), timeout=0)
        return list(dict.fromkeys([*done, *more]))

    def _outcome(self, task: Any) -> _ChunkOk | _ChunkError | BaseException:
        try:
            out = self._ray.get(task)
        except self._ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            return cause if isinstance(cause, BaseException) else exc
        except Exception as exc:  # noqa: BLE001 - worker crashed, object lost, ...
            return exc
        if isinstance(out, _ChunkOk | _ChunkError):
            return out
        return TypeError(f"unexpected chunk result {type(out).__name__}")

    def _cancel(self, tasks: Sequence[Any]) -> None:
        for t in tasks:
            try:
                self._ray.cancel(t)
            except Exception:  # noqa: BLE001 - best effort while unwinding
                pass

    def _close(self, handle: Any, payload: _Payload) -> None:
        # Dropping the last reference frees the object; workers drop their rebuilt copy when
        # their two-entry cache moves on.
        del handle


# --------------------------------------------------------------------------------------------
# Entry points for run_many / walk_forward
# --------------------------------------------------------------------------------------------


def resolve_executor(executor: Any) -> Executor:
    """The :class:`Executor` for what a user passed as ``executor=``.

    Accepts an :class:`Executor` (``DaskExecutor``, ``RayExecutor``) or a Dask
    ``distributed.Client`` (wrapped in a default ``DaskExecutor``).
    """
    if isinstance(executor, Executor):
        return executor
    client_cls = None
    try:
        import distributed

        client_cls = distributed.Client
    except ImportError:
        pass
    if client_cls is not None and isinstance(executor, client_cls):
        return DaskExecutor(executor)
    raise _invalid_parameter(
        "executor must be a dask distributed.Client, an oe.distributed.DaskExecutor or an "
        f"oe.distributed.RayExecutor, got {type(executor).__name__}"
    )


def run_core(
    executor: Any,
    configs_json: Sequence[str],
    bars: Mapping[str, _core.Bars],
    *,
    ticks: Mapping[str, _core.Ticks] | None = None,
    signals: Mapping[str, Any] | None = None,
    threads: int | None = None,
    include_trades: bool = True,
    include_equity: bool = False,
    progress: Progress | None = None,
) -> CoreResult:
    """``_core.run_many`` with the same arguments and results, run on ``executor``."""
    return resolve_executor(executor).run_core(
        configs_json,
        bars,
        ticks=ticks,
        signals=signals,
        threads=threads,
        include_trades=include_trades,
        include_equity=include_equity,
        progress=progress,
    )
