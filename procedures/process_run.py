"""A run or a campaign in a worker *process* (the dashboard, on a simulated bench): the GUI keeps its interpreter.

A simulated bench is chip physics in numpy and Python: run in a thread of the dashboard, it holds
the interpreter lock and the window stops repainting for tens to hundreds of milliseconds at a
time. :class:`ProcessRunHandle` runs the procedure in a child process instead, with the interface
of :class:`~memlab.procedures.runner.RunHandle` (``abort()``, ``join()``, ``done``, ``result``,
``exception``), so the dashboard's code around a run is the same for both.

How it works:

- The child builds its own copy of the bench from the parent bench's checked bench file
  (``bench.config``) and takes the simulated chip's state and virtual time from the parent
  (:meth:`SimWorld.export_state`). It runs :func:`~memlab.procedures.runner.run_procedure`'s
  whole path (validation, file, safe shutdown with outputs verified off, final status) there.
- Whatever the run reports (start, batches, log lines, progress, finish) is gathered in the child
  and sent to the parent every few tens of milliseconds through a pipe; a reader thread of the
  parent hands it to the parent's listeners (the dashboard's ``QtRunListener``) as if the run
  were local. Listeners given as ``worker_listeners`` run in the child instead (they must pickle).
- Abort is a multiprocessing Event, which the run checks between steps like the thread's Event.
- At the end the child hands back the chip's state and time; the parent switches its own copy
  of the bench off (every output verified off) and takes that state, so the next run, a manual
  control or the chip map continue from where the run left the chip.
- If the child dies (killed, crashed) or must be killed (:meth:`kill`), the run ends *failed*
  with a message saying so: the parent's bench is switched off and verified, the run file keeps
  every row flushed so far (readers see it as interrupted and clear the dead writer's flags), and
  the chip keeps the state it had before the run (the run's effect on it is lost with the child).
- The worker watches a pipe whose other end only the parent holds: if the dashboard dies, the
  pipe ends and the worker aborts what it runs, as the Abort button would (outputs off, the file
  closed; a campaign's manifest final, the task redone on resume). Nobody watching means nothing
  runs on.

:class:`ProcessCampaignHandle` runs a whole campaign (:class:`~memlab.procedures.campaign.Campaign`)
the same way: the worker parses the plan and runs it as ``memlab campaign`` would, and also sends
each task's start and end.

``MEMLAB_WORKER_DEBUG=1`` makes each worker print when it loaded, built the bench, opened the file
and ended the run (to stderr).

Only simulated benches are run this way: a real bench's VISA sessions belong to the process that
opened them. The worker is started with ``forkserver`` where the platform has it (a clean server
process that never loaded Qt forks each worker), else ``spawn``; never plain ``fork`` of a process
that runs Qt.
"""

from __future__ import annotations

import abc
import contextlib
import importlib.machinery
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from memlab.errors import MemlabError
from memlab.procedures.base import Procedure
from memlab.procedures.recorder import RunListener
from memlab.procedures.runner import RunResult, _safety_failures
from memlab.procedures.signals import stop_reason
from memlab.storage import FAILED

log = logging.getLogger("memlab.worker")

FLUSH_INTERVAL_S = 0.025
"""How often the child sends what the run reported (batches of one stream in that time are joined)."""

WORKER_NICENESS = 10
"""The worker runs at a lower scheduling priority than the dashboard: on a busy machine the window
gets the processor when it needs it, and the simulation takes what is left."""

#: modules the fork server imports once, so that each worker starts in tens of milliseconds (with
#: the modules of the first bench's drivers and twins, added when the server starts)
_PRELOAD = ["memlab.procedures.process_run", "memlab.procedures.library", "memlab.instruments.bench",
            "memlab.instruments.simulation", "memlab.instruments.sim.chip", "memlab.procedures.worker_warmup"]

_context: Any = None
_prepared = False


class WorkerDied(MemlabError, RuntimeError):
    """The worker process running a procedure ended without handing back the run's result."""


def worker_context(bench: Any = None) -> Any:
    """The multiprocessing context for workers: forkserver where available, else spawn. The first
    call starts the fork server with memlab's run path (and ``bench``'s driver and twin modules)
    imported, so that each worker starts without importing them again."""
    global _context
    if _context is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            modules = list(_PRELOAD)
            if bench is not None:
                drivers = bench.instruments().values() if hasattr(bench, "instruments") else ()
                twins = (getattr(bench, "twins", None) or {}).values()
                for obj in (*drivers, *twins):
                    module = type(obj).__module__
                    if module.startswith("memlab.") and module not in modules:
                        modules.append(module)
            ctx.set_forkserver_preload(modules)
        else:
            ctx = multiprocessing.get_context("spawn")
        _context = ctx
    return _context


@contextlib.contextmanager
def _main_not_reimported() -> Iterator[None]:
    """While a worker starts: tell multiprocessing not to run the parent's main script again in it.

    Workers get everything they need explicitly (the bench file, the chip's state and the pickled
    procedure), and a dashboard started from a script without the ``if __name__ == "__main__"``
    guard would otherwise open a second dashboard in every worker. multiprocessing skips a main
    module whose spec is named ``__main__``; one is lent to it for the start only."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        yield  # started with -m: multiprocessing imports that by name, and skips *.__main__ itself
        return
    main.__spec__ = importlib.machinery.ModuleSpec("__main__", None)
    try:
        yield
    finally:
        main.__spec__ = None


def prepare_workers(bench: Any = None) -> None:
    """Start the fork server now (it imports memlab and builds a bench once, about a second or
    two), so that the first run does not wait for it. Does nothing where workers are spawned."""
    global _prepared
    ctx = worker_context(bench)
    if ctx.get_start_method() == "forkserver" and not _prepared:
        _prepared = True
        # the server answers once it has imported its modules: a first, empty worker waits for that
        probe = ctx.Process(target=_ready, name="memlab worker warm-up", daemon=True)
        with _main_not_reimported():
            probe.start()
        probe.join(120.0)


def _ready() -> None:
    """The first, empty worker of :func:`prepare_workers`."""


def can_run_in_process(bench: Any) -> bool:
    """Whether ``bench`` can be copied into a worker: a simulated bench built from a bench file
    (a real bench, or one made up by hand, stays in the dashboard's process)."""
    world = getattr(bench, "world", None)
    config = getattr(bench, "config", None)
    instruments = getattr(config, "instruments", None)
    if not (getattr(bench, "simulated", False) and world is not None and hasattr(world, "export_state")
            and instruments is not None and not getattr(bench, "errors", None)):
        return False
    # one real instrument beside simulated ones: its session stays in the dashboard's process
    return all(getattr(instrument, "simulated", False) for instrument in instruments.values())


def worker_problem(procedure: Procedure) -> str | None:
    """Why ``procedure`` cannot run in a worker, or None (see :func:`class_problem`)."""
    return class_problem(type(procedure))


def class_problem(cls: type) -> str | None:
    """Why a procedure of class ``cls`` cannot run in a worker, or None. A class defined in the
    main script is pickled by reference to ``__main__``, and workers do not run the main script
    again (see :func:`_main_not_reimported`): the worker could not find it."""
    if cls.__module__ == "__main__":
        script = getattr(sys.modules.get("__main__"), "__file__", None) or "the main script"
        return (f"its class {cls.__qualname__} is defined in the main script ({Path(script).name}), which "
                "worker processes do not run; define it in a module to run it in a worker")
    return None


# -- the child ----------------------------------------------------------------------------------

class _Forwarder(RunListener):
    """In the child: gathers the run's events and sends them to the parent in bundles."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._events: list[tuple[str, tuple[Any, ...]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memlab-worker-forward", daemon=True)
        self._thread.start()

    def _add(self, kind: str, *args: Any) -> None:
        with self._lock:
            events = self._events
            if kind == "batch" and events and events[-1][0] == "batch" and events[-1][1][0] == args[0]:
                previous = events[-1][1][1]
                if previous.keys() == args[1].keys():  # parts per column, joined when sent
                    for name, values in args[1].items():
                        previous[name].append(values)
                    return
            if kind == "batch":
                args = (args[0], {name: [values] for name, values in args[1].items()})
            events.append((kind, args))

    def _loop(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            self.flush()

    def flush(self) -> None:
        with self._send_lock:  # taken and sent under one lock: bundles never overtake each other
            with self._lock:
                events, self._events = self._events, []
            if not events:
                return
            bundle = []
            for kind, args in events:
                if kind == "batch":
                    parts = args[1]
                    args = (args[0], {name: (values[0] if len(values) == 1 else np.concatenate(values))
                                      for name, values in parts.items()})
                bundle.append((kind, args))
            self._conn.send(("events", bundle))

    def send(self, message: Any) -> None:
        with self._send_lock:
            self._conn.send(message)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1.0)
        self.flush()

    # RunListener, in the run's thread of the child
    def on_start(self, info: Mapping[str, Any]) -> None:
        self._add("start", dict(info))

    def on_batch(self, stream: str, batch: Mapping[str, np.ndarray]) -> None:
        # the procedure may reuse its arrays: keep a copy of the new rows
        self._add("batch", stream, {name: np.array(values, copy=True) for name, values in batch.items()})

    def on_log(self, level: int, message: str) -> None:
        self._add("log", level, message)

    def on_progress(self, done: float, total: float, eta_s: float | None) -> None:
        self._add("progress", done, total, eta_s)

    def on_finish(self, status: str, error: str, path: str) -> None:
        self._add("finish", status, error, path)
        self.flush()


class _CampaignForwarder(_Forwarder):
    """In the child of a campaign: also sends each task's start and end (with the bench clock, so
    the parent's time left follows the worker's instrument time), and stops the campaign at its next
    event once abort was asked (or the parent died): :class:`CampaignAborted` takes the campaign's
    own stop path (the run recorded aborted, outputs off, the task redone on resume)."""

    def __init__(self, conn: Any, abort_event: Any, clock: Any) -> None:
        super().__init__(conn)
        self._abort_event, self._clock = abort_event, clock

    @property
    def aborted(self) -> bool:
        return self._abort_event.is_set()

    def flush(self) -> None:
        # each bundle ends with the bench clock: the parent's time left follows it between tasks too
        with self._lock:
            if self._events:
                self._events.append(("clock", (self._clock.now(),)))
        super().flush()

    def _check(self) -> None:
        if self._abort_event.is_set():
            from memlab.procedures.campaign import CampaignAborted

            raise CampaignAborted(_abort_reason())

    def on_task_start(self, task: Any, index: int, total: int, estimate_s: float) -> None:
        self._check()
        self._add("task_started", task.key, index, total, estimate_s, self._clock.now())

    def on_task_end(self, task: Any, record: dict[str, Any]) -> None:
        self._add("task_ended", task.key, dict(record), self._clock.now())

    def on_batch(self, stream: str, batch: Mapping[str, np.ndarray]) -> None:
        super().on_batch(stream, batch)
        self._check()

    def on_progress(self, done: float, total: float, eta_s: float | None) -> None:
        super().on_progress(done, total, eta_s)
        self._check()


def _picklable_error(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an error that cannot travel is described instead
        return WorkerDied(f"{type(exc).__name__}: {exc}")


_parent_gone = threading.Event()  # in a worker: its dashboard has ended (see _watch_parent)


def _abort_reason() -> str:
    """Why a worker's job was aborted: by the dashboard, or because the dashboard ended."""
    return ("the dashboard that started the campaign ended (nobody watching: stopped with outputs off)"
            if _parent_gone.is_set() else "aborted from the dashboard")


def _watch_parent(lifeline: Any, abort_event: Any) -> None:
    """In the child: the parent holds the other end of ``lifeline`` and never writes to it. When
    the parent dies (killed, crashed) the pipe ends: nobody watches the run any more, so it is
    aborted as the Abort button would (outputs off, file closed, a campaign's manifest final)."""
    try:
        lifeline.recv()  # the parent never writes: this returns (EOFError) when the pipe ends
    except Exception:  # noqa: BLE001 - EOFError, OSError: the parent has gone either way
        pass
    if not abort_event.is_set():
        print(f"worker {os.getpid()}: the dashboard that started it has ended: aborting", file=sys.stderr, flush=True)
        _parent_gone.set()
        abort_event.set()


def _child_main(conn: Any, lifeline: Any, payload: bytes, sys_path: list[str], abort_event: Any) -> None:
    """The worker process: build the bench, take the chip's state, do the job (a run or a
    campaign), hand the state back."""
    for entry in reversed(sys_path):  # test modules and the like: importable as in the parent
        if entry not in sys.path:
            sys.path.insert(0, entry)
    # Ctrl-C in the terminal reaches the whole process group: until the run starts (and after it),
    # the dashboard decides; during the run the runner's own signal handling ends it as aborted
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if WORKER_NICENESS and hasattr(os, "nice"):
        try:
            os.nice(WORKER_NICENESS)
        except OSError:
            pass
    threading.Thread(target=_watch_parent, args=(lifeline, abort_event), name="memlab-worker-lifeline",
                     daemon=True).start()
    debug = os.environ.get("MEMLAB_WORKER_DEBUG")
    t0 = time.perf_counter()

    def mark(what: str) -> None:
        if debug:
            print(f"worker {os.getpid()}: {what} at {time.perf_counter() - t0:.3f} s", file=sys.stderr, flush=True)

    forwarder: _Forwarder | None = None
    bench: Any = None
    message: Any
    try:
        kind, config, state, job = pickle.loads(payload)
        mark("loaded")
        from memlab.instruments.bench import Bench

        bench = Bench(config)
        if state is not None:
            bench.world.import_state(state)
        mark("bench built")
        if kind == "campaign":
            forwarder = _CampaignForwarder(conn, abort_event, bench.clock)
            outcome = _campaign_job(bench, forwarder, *job)
        else:
            forwarder = _Forwarder(conn)
            outcome = _run_job(bench, forwarder, abort_event, mark, *job)
        mark("job ended")
        forwarder.close()
        message = ("result", outcome, bench.world.export_state())
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the parent hears of it
        if forwarder is not None:
            forwarder.close()
        state_back = None
        if bench is not None:
            try:
                state_back = bench.world.export_state()
            except Exception:  # noqa: BLE001 - the error itself matters more
                state_back = None
        message = ("exception", _picklable_error(exc), state_back)
    finally:
        if bench is not None:
            bench.close()
    try:
        if forwarder is not None:
            forwarder.send(message)
        else:
            conn.send(message)
        conn.close()
    except OSError:  # the parent has gone: the files and the manifest say how it ended
        pass


def _run_job(bench: Any, forwarder: _Forwarder, abort_event: Any, mark: Callable[[str], None],
             procedure: Procedure, out_dir: str, kwargs: dict[str, Any], listeners: list[RunListener]) -> RunResult:
    from memlab.procedures.runner import ActiveRun

    run = ActiveRun(procedure, bench, out_dir, listeners=[forwarder, *listeners], abort_event=abort_event, **kwargs)
    mark("file open")
    try:
        run.run_to_end()
    except KeyboardInterrupt:  # a stop signal: the run has ended as aborted, its file closed
        pass
    return run.result


def _campaign_job(bench: Any, forwarder: _CampaignForwarder, plan_text: str, source: str, out_dir: str,
                  resume: bool, operator: str | None, listeners: list[RunListener]) -> tuple[str, str]:
    """A whole campaign in the worker: the plan checked again against the worker's bench, run (or
    resumed) as ``memlab campaign`` runs it. Returns the campaign's status and error."""
    from memlab.procedures.campaign import Campaign
    from memlab.procedures.plan import parse_plan

    # the forwarder last: it checks for an abort after the others have seen the event
    campaign = Campaign(parse_plan(plan_text, source), bench, out_dir, resume=resume, operator=operator,
                        listeners=[*listeners, forwarder])
    try:
        return campaign.run().status, ""
    except KeyboardInterrupt as exc:  # CampaignAborted, or a stop signal
        return "aborted", _abort_reason() if forwarder.aborted else stop_reason(exc)


# -- the parent ---------------------------------------------------------------------------------

def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"killed by {name}"
    return f"exit status {exitcode}"


class _WorkerHandle(abc.ABC):
    """What a run's and a campaign's worker have in common: start the process with the bench's
    file and the chip's state, read what it reports (in a reader thread, to ``listeners``), take the
    chip's state back at its end, and conclude however the worker ended."""

    what = "job"

    def __init__(self, bench: Any, kind: str, job: tuple[Any, ...], name: str, *,
                 listeners: Iterable[Any], on_end: Callable[[], None] | None) -> None:
        ctx = worker_context(bench)
        self.bench = bench
        self.listeners = list(listeners)
        self.exception: BaseException | None = None
        self.path = ""  # the run file of the run under way, once it reported its start
        self.killed = False
        self._finish_seen = True  # no run has started yet
        self._on_end = on_end
        self._ended = threading.Event()
        self.abort_event = ctx.Event()
        payload = pickle.dumps((kind, bench.config, bench.world.export_state(), job), protocol=pickle.HIGHEST_PROTOCOL)
        sys_path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
        parent_conn, child_conn = ctx.Pipe(duplex=False)
        # the child watches this pipe: it ends when this process does (see _watch_parent)
        child_life, self._lifeline = ctx.Pipe(duplex=False)
        self._conn = parent_conn
        self.process = ctx.Process(target=_child_main, name=name,
                                   args=(child_conn, child_life, payload, sys_path, self.abort_event), daemon=True)
        with _main_not_reimported():
            self.process.start()
        child_conn.close()  # the child's ends live in the child only: its death closes the pipe
        child_life.close()
        self._reader = threading.Thread(target=self._read, name=f"{name} (worker)", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    # -- the reader thread ----------------------------------------------------------------------
    def _read(self) -> None:
        outcome: Any = None
        try:
            while True:
                try:
                    message = self._conn.recv()
                except (EOFError, OSError):
                    break
                except Exception as exc:  # noqa: BLE001 - a message that cannot be read
                    outcome = ("exception", WorkerDied(f"a message from the worker could not be read: "
                                                       f"{type(exc).__name__}: {exc}"), None)
                    break
                if message[0] == "events":
                    self._dispatch(message[1])
                else:
                    outcome = message
                    break
            self._conn.close()
            self.process.join(5.0)
            if self.process.is_alive():  # it said its last word but does not end: do not leave it
                self.process.kill()
                self.process.join(5.0)
            self._lifeline.close()
            self._conclude(outcome)
        except BaseException as exc:  # noqa: BLE001 - never leave the job without an end
            log.exception("the worker's reader failed")
            if self.exception is None:
                self.exception = exc
        finally:
            self._ended.set()
            if self._on_end is not None:
                self._on_end()

    def _dispatch(self, events: list[tuple[str, tuple[Any, ...]]]) -> None:
        for kind, args in events:
            if kind == "start":
                self.path = str(args[0].get("path", ""))
                self._finish_seen = False
            elif kind == "finish":
                self._finish_seen = True
            for listener in self.listeners:
                method = getattr(listener, f"on_{kind}", None)
                if method is None:  # a run listener among a campaign's: task events are not for it
                    continue
                try:
                    method(*args)
                except Exception:  # noqa: BLE001 - as the Recorder does: a listener never stops the run
                    log.exception("worker listener %r failed on %s", listener, kind)

    def _conclude(self, outcome: Any) -> None:
        if outcome is not None:
            kind, value, state = outcome
            problems = self._sync_bench(state)
            if kind == "result":
                self._take_result(value)
            else:
                self.exception = value
            if problems:
                self._tell(logging.ERROR, f"after the {self.what}, the dashboard's copy of the bench: "
                                          + "; ".join(problems))
            return
        # the child died without a word: said loudly, the bench switched off and verified
        how = "it was killed (ALL OUTPUTS OFF or closing)" if self.killed else _describe_exit(self.process.exitcode)
        error = (f"the worker process running {self.describe()} (pid {self.process.pid}) ended before the "
                 f"{self.what} did: {how}")
        log.error("%s", error)
        problems = self._sync_bench(None)
        self._tell(logging.ERROR, error + ". Its simulated instruments ended with it; the simulated chip keeps its "
                                          f"state from before the {self.what}.")
        for message in problems:
            self._tell(logging.ERROR, f"safe shutdown: {message}")
        self._tell(logging.ERROR if problems else logging.INFO,
                   "after the worker died: " + ("; ".join(problems) if problems else "every output is off (verified)"))
        if self.path and not self._finish_seen:
            self._tell(logging.WARNING, self._file_report(self.path))
        safety = _safety_failures(problems)
        if safety:
            error = "; ".join([*safety, error])
        self._died(error, list(problems), safety)

    @abc.abstractmethod
    def describe(self) -> str:
        """What the worker runs, for messages."""

    @abc.abstractmethod
    def _take_result(self, value: Any) -> None:
        """The result the worker handed back."""

    @abc.abstractmethod
    def _died(self, error: str, problems: list[str], safety: list[str]) -> None:
        """The worker ended without a result: conclude with ``error``."""

    def _finish_open_run(self, error: str) -> None:
        """A run the worker had started and not ended: its listeners hear it failed."""
        if self.path and not self._finish_seen:
            self._finish_seen = True
            for listener in self.listeners:
                try:
                    if hasattr(listener, "on_finish"):
                        listener.on_finish(FAILED, error, self.path)
                except Exception:  # noqa: BLE001
                    log.exception("worker listener %r failed on finish", listener)

    def _file_report(self, path: str) -> str:
        from memlab.storage import RunReader

        try:
            with RunReader(path) as reader:  # clears the dead writer's flags: any HDF5 reader opens it
                rows = {name: len(reader.stream(name)) for name in reader.stream_names}
                status = reader.status
        except Exception as exc:  # noqa: BLE001 - a RunFileError or anything else: said, whatever it is
            return f"the run file {path} could not be read after the worker died: {exc}"
        counts = ", ".join(f"{n} {name} rows" for name, n in rows.items()) or "no rows"
        return f"the run file {path} is kept as {status}, with {counts}"

    def _tell(self, level: int, message: str) -> None:
        for listener in self.listeners:
            try:
                if hasattr(listener, "on_log"):
                    listener.on_log(level, message)
            except Exception:  # noqa: BLE001
                log.exception("worker listener %r failed on log", listener)

    def _sync_bench(self, state: dict[str, Any] | None) -> list[str]:
        """Switch the parent's copy of the bench off (verified) and take the chip's state from the child."""
        bench = self.bench
        with bench.world.lock:
            try:
                report = bench.safe_shutdown()
                problems = report if isinstance(report, list) else list(report)
            except Exception as exc:  # noqa: BLE001
                problems = [f"the safe shutdown itself failed ({type(exc).__name__}: {exc})"]
            if state is not None:
                try:
                    bench.world.import_state(state)
                except Exception as exc:  # noqa: BLE001 - the chip keeps its earlier state, said so
                    self._tell(logging.ERROR, f"the simulated chip's state could not be taken back from the "
                                              f"worker ({type(exc).__name__}: {exc}); it keeps its state from "
                                              f"before the {self.what}")
        return problems

    # -- control ----------------------------------------------------------------------------------
    def abort(self) -> None:
        self.abort_event.set()

    def kill(self) -> bool:
        """End the worker at once (SIGKILL): for a worker that does not stop on abort. Returns
        whether there was a worker to kill."""
        if self.process.is_alive():
            self.killed = True
            self.process.kill()
            return True
        return False

    def wait_ended(self, timeout: float | None = None) -> bool:
        """Wait for the end (the result or the worker's death handled); returns whether it came."""
        return self._ended.wait(timeout)

    def _wait(self, timeout: float | None) -> None:
        self._ended.wait(timeout)
        if self.exception is not None:
            raise self.exception

    @property
    def done(self) -> bool:
        return self._ended.is_set()

    @property
    def alive(self) -> bool:
        """The worker process is still running."""
        return self.process.is_alive()


class ProcessRunHandle(_WorkerHandle):
    """A run in a worker process (see the module docstring): abort it, wait for it, read its result.

    :param bench: the parent's simulated bench (:func:`can_run_in_process`); it is not used
        during the run, and takes the chip's state back at its end.
    :param listeners: called in this process (in a reader thread) with what the run reports.
    :param worker_listeners: run in the child with the run (must pickle).
    :param on_end: called (in the reader thread) once the run is over, whatever happened.
    """

    what = "run"

    def __init__(self, procedure: Procedure, bench: Any, out_dir: str | Path, *,
                 listeners: Iterable[RunListener] = (), worker_listeners: Iterable[RunListener] = (),
                 on_end: Callable[[], None] | None = None, **kwargs: Any) -> None:
        if not can_run_in_process(bench):
            raise ValueError("only a simulated bench built from a bench file runs in a worker process")
        problem = worker_problem(procedure)
        if problem is not None:
            raise ValueError(f"{procedure.name} cannot run in a worker process: {problem}")
        self.procedure = procedure
        self.result: RunResult | None = None
        super().__init__(bench, "run", (procedure, str(out_dir), kwargs, list(worker_listeners)),
                         f"memlab run {procedure.name}", listeners=listeners, on_end=on_end)

    def describe(self) -> str:
        return self.procedure.name

    def _take_result(self, value: RunResult) -> None:
        self.result = value

    def _died(self, error: str, problems: list[str], safety: list[str]) -> None:
        if self.path:
            self.result = RunResult(Path(self.path), FAILED, error, problems, safety)
            self._finish_open_run(error)
        else:
            self.exception = WorkerDied(error)

    def join(self, timeout: float | None = None) -> RunResult | None:
        self._wait(timeout)
        return self.result


class ProcessCampaignHandle(_WorkerHandle):
    """A whole campaign in a worker process, as ``memlab campaign`` would run it: the dashboard's
    interpreter never runs the simulation, however long the night.

    The worker parses the plan again and runs (or resumes) it into ``out_dir``; the campaign's
    folder lock, manifest, signals and notify command are its own. ``listeners`` hear each run's
    events (the live plots) and, where they have them, ``on_task_started(key, index, total,
    estimate_s, clock_s)``, ``on_task_ended(key, record, clock_s)`` and ``on_clock(clock_s)``
    (after each bundle of events), ``clock_s`` being the worker's bench clock. :meth:`abort`
    stops it at its next event (the run aborted, outputs off, the task redone on resume); so does
    the dashboard's death. A worker killed mid-run leaves the manifest's attempt ``running``, which
    a resume counts as interrupted and redoes.

    ``result`` is ``(status, error)`` once it ended: the campaign's status (``completed``,
    ``completed_with_failures``, ``failed``, ``aborted``); ``exception`` if it could not start
    (a plan the worker's bench refuses, a folder another campaign holds).
    """

    what = "campaign"

    def __init__(self, plan_text: str, source: str, name: str, bench: Any, out_dir: str | Path, *,
                 resume: bool = False, operator: str | None = None, listeners: Iterable[Any] = (),
                 worker_listeners: Iterable[RunListener] = (), on_end: Callable[[], None] | None = None) -> None:
        if not can_run_in_process(bench):
            raise ValueError("only a simulated bench built from a bench file runs in a worker process")
        self.name = name
        self.result: tuple[str, str] | None = None
        self.clock_s = bench.clock.now()  # the worker's bench clock, as it last said
        listeners = list(listeners)
        listeners.append(_ClockFollower(self))
        super().__init__(bench, "campaign", (plan_text, source, str(out_dir), resume, operator, list(worker_listeners)),
                         f"memlab campaign {name}", listeners=listeners, on_end=on_end)

    def describe(self) -> str:
        return f"campaign {self.name}"

    def _take_result(self, value: tuple[str, str]) -> None:
        self.result = (str(value[0]), str(value[1]))

    def _died(self, error: str, problems: list[str], safety: list[str]) -> None:
        self._finish_open_run(error)
        self.result = ("failed", error)  # the safety failures are at its head

    def join(self, timeout: float | None = None) -> tuple[str, str] | None:
        self._wait(timeout)
        return self.result


class _ClockFollower:
    """Keeps a campaign handle's ``clock_s`` at the worker's bench clock."""

    def __init__(self, handle: ProcessCampaignHandle) -> None:
        self.handle = handle

    def on_task_started(self, key: str, index: int, total: int, estimate_s: float, clock_s: float) -> None:
        self.handle.clock_s = clock_s

    def on_task_ended(self, key: str, record: dict[str, Any], clock_s: float) -> None:
        self.handle.clock_s = clock_s

    def on_clock(self, clock_s: float) -> None:
        self.handle.clock_s = clock_s
