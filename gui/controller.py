"""The dashboard's model: the bench, the run in progress, the queue, and bench work off the GUI thread.

Widgets never talk to instruments or run procedures themselves; they ask the :class:`Controller`,
which

- runs each procedure on a simulated bench in a worker *process*
  (:class:`~procedures.process_run.ProcessRunHandle`: the simulation then never holds this
  process's interpreter lock, so the window stays responsive), and on a real bench in a worker
  thread (the runner's :class:`~procedures.runner.RunHandle`: VISA sessions stay in the process
  that opened them); either way it receives the run's batches through a
  :class:`~gui.bridge.QtRunListener` and re-emits them as signals in the GUI thread;
- lends the bench to a campaign (:meth:`Controller.begin_external`; the campaign panel runs it in
  a worker process or thread the same way) and takes it back at its end;
- runs manual instrument actions, connecting and disconnecting in one :class:`~gui.tasks.BenchWorker`
  thread, and refuses them while a run owns the bench;
- keeps the queue of runs, starting the next one when a run completes and holding it when a run
  is aborted or fails (a person should look before the next run touches the chip).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtWidgets

from memlab.gui.bridge import QtRunListener
from memlab.gui.forms import check_instrument_limits
from memlab.gui.tasks import BenchWorker
from memlab.procedures import Procedure, RunListener, get_procedure
from memlab.procedures.process_run import ProcessRunHandle, can_run_in_process, prepare_workers, worker_problem
from memlab.procedures.runner import RunHandle

log = logging.getLogger("memlab.gui")

OUTPUTS_OFF_GRACE_S = 5.0
"""After "all outputs off" aborts a run, how long the run gets to stop (its own safe shutdown runs
on the way out) before the bench is switched off directly, whatever the run is doing. A worker
process that has not stopped by then is killed (its simulated instruments end with it)."""

DRAIN_BUDGET_S = 0.008
"""How long one event-loop turn spends on a run's reported events before leaving the rest to the next."""

RUN_MODES = ("auto", "process", "thread")
"""Where runs execute: auto (a worker process for a simulated bench, a thread for a real one),
process (refused for a bench that cannot be copied into a worker), thread (always in this process)."""


@dataclass
class QueuedRun:
    """A run waiting in the queue: a procedure by name and its parameter values."""

    procedure: str
    values: dict[str, Any] = field(default_factory=dict)

    def make(self) -> Procedure:
        return get_procedure(self.procedure)(**self.values)

    def describe(self) -> str:
        cls = get_procedure(self.procedure)
        parts = []
        for param in cls.parameters:
            value = self.values.get(param.name, param.default)
            if value != param.default or param.name in ("row", "col", "devices"):
                unit = f" {param.unit}" if param.unit and value is not None else ""
                parts.append(f"{param.name}={value:g}{unit}" if isinstance(value, float) else f"{param.name}={value}{unit}")
        return f"{self.procedure}  " + ", ".join(parts)


class _SignalledRun(RunHandle):
    """A RunHandle that says when its thread is over, whatever happened in it."""

    def __init__(self, ended: Callable[[], None], *args: Any, **kwargs: Any) -> None:
        self._ended = ended
        super().__init__(*args, **kwargs)

    def _run(self, *args: Any, **kwargs: Any) -> None:
        try:
            super()._run(*args, **kwargs)
        finally:
            self._ended()


class _SignalledProcessRun(ProcessRunHandle):
    """A ProcessRunHandle that says when the run is over (from its reader thread)."""

    def __init__(self, ended: Callable[[], None], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, on_end=ended, **kwargs)


class Controller(QtCore.QObject):
    """See the module docstring. All signals are delivered in the GUI thread."""

    bench_changed = QtCore.Signal(object)          # the Bench, or None when disconnected
    bench_busy = QtCore.Signal(bool)               # bench worker running something
    run_started = QtCore.Signal(dict)              # runner's start info
    run_batch = QtCore.Signal(str, dict)           # stream, new rows
    run_progress = QtCore.Signal(float, float, object, float)  # done, total, eta (bench s), wall s so far
    run_finished = QtCore.Signal(str, str, str)    # status, error, path
    running_changed = QtCore.Signal(bool)
    queue_changed = QtCore.Signal()
    current_changed = QtCore.Signal(str)           # what runs now ("" when nothing)
    message = QtCore.Signal(int, str, str)         # level, source, text: for the log panel
    _run_thread_ended = QtCore.Signal()

    def __init__(self, bench: Any = None, *, bench_path: str | None = None,
                 out_dir: str | Path = "runs", operator: str | None = None,
                 bench_loader: Callable[[str | None], Any] | None = None, run_mode: str = "auto",
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.bench = bench
        self.bench_path = bench_path
        self.out_dir = Path(out_dir)
        self.operator = operator
        self.bench_loader = bench_loader  # how Connect opens the bench (default: load_bench)
        self.family: str | None = None  # chip family for the next Connect (None: as the bench file says)
        self.worker = BenchWorker(self)
        self.worker.busy_changed.connect(self.bench_busy)
        self.queue: list[QueuedRun] = []
        self.queue_held = False
        self.hold_on_failure = True  # a failed/aborted queued run holds the queue (else: go on with the next)
        self.current_item = ""  # the run in progress, described for the queue panel
        self._external: Any = None  # a campaign owning the bench: has abort(); see begin_external
        self._external_killed = False  # its worker process was killed (ALL OUTPUTS OFF without a stop)
        # listeners of the run itself, e.g. tests that pace a run: in a worker process they run
        # there (and must pickle), in a thread beside the dashboard's own
        self.extra_listeners: list[RunListener] = []
        if run_mode not in RUN_MODES:
            raise ValueError(f"run_mode={run_mode!r}: one of {', '.join(RUN_MODES)}")
        self.run_mode = run_mode  # see RUN_MODES
        self.handle: _SignalledRun | _SignalledProcessRun | None = None
        self.listener: QtRunListener | None = None
        self.run_info: dict[str, Any] = {}
        self.last_result: tuple[str, str, str] | None = None
        self._finish_seen = False
        self._wall_start = 0.0
        self._shutdown_after_run = False
        self._closed = False
        self._starting = False
        self._cancel_start = False
        self._run_thread_ended.connect(self._on_run_thread_ended)
        self._drain_later = QtCore.QTimer(self)  # the rest of a run's events, next turn
        self._drain_later.setSingleShot(True)
        self._drain_later.setInterval(0)
        self._drain_later.timeout.connect(self._drain_some)
        self._grace = QtCore.QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.timeout.connect(self._outputs_off_now)
        self.bench_changed.connect(self._prepare_workers)
        if bench is not None:
            self._prepare_workers(bench)

    # -- the bench -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """A run is starting or in progress (it owns the bench)."""
        return self.handle is not None or self._starting or self._external is not None

    def in_process(self, bench: Any = None) -> bool:
        """Whether a run on ``bench`` (default: the connected one) executes in a worker process."""
        bench = self.bench if bench is None else bench
        if self.run_mode not in RUN_MODES:
            raise ValueError(f"run_mode={self.run_mode!r}: one of {', '.join(RUN_MODES)}")
        if self.run_mode == "thread" or bench is None:
            return False
        if self.run_mode == "process" and not can_run_in_process(bench):
            raise RuntimeError("this bench cannot run in a worker process (only a simulated bench from a "
                               "bench file can): use run_mode 'auto' or 'thread'")
        return can_run_in_process(bench)

    def _prepare_workers(self, bench: Any) -> None:
        # start the worker processes' server now, in the bench thread, not at the first Start
        if bench is not None and self.run_mode != "thread" and can_run_in_process(bench):
            self.worker.submit(lambda: prepare_workers(bench),
                               lambda _result, error: error is not None and self.message.emit(
                                   logging.WARNING, "bench", f"worker processes cannot be prepared: {error}"))

    # -- runs started elsewhere (campaigns) --------------------------------------------------------
    def begin_external(self, owner: Any, what: str) -> QtRunListener:
        """A campaign takes the bench: manual controls and Start are refused until :meth:`end_external`.
        Returns the listener whose runs show in the live plots like the dashboard's own."""
        if self.bench is None:
            raise RuntimeError("no bench is connected: connect it first")
        if self.running:
            raise RuntimeError("a run is in progress: wait for it or abort it first")
        self._external = owner
        self._external_killed = False
        self.listener = QtRunListener(self)
        self.listener.ready.connect(self._drain_some)
        self._wall_start = time.monotonic()
        self._set_current(what)
        self.running_changed.emit(True)
        return self.listener

    def end_external(self, owner: Any) -> None:
        if self._external is not owner:
            return
        self._drain()
        self._external, self.listener = None, None
        self._set_current("")
        self.running_changed.emit(False)
        if self._shutdown_after_run:
            self._shutdown_after_run = False
            self._grace.stop()
            self._outputs_off_now()

    def _set_current(self, what: str) -> None:
        self.current_item = what
        self.current_changed.emit(what)

    def connect_bench(self) -> None:
        """Open the bench (file or built-in simulation) in the worker thread."""
        if self.bench is not None or self._closed:
            return
        path = self.bench_path
        what = (path or "the built-in simulated bench") + (f" with a {self.family} chip" if self.family else "")
        self.message.emit(logging.INFO, "bench", f"connecting to {what} ...")

        def done(bench: Any, error: BaseException | None) -> None:
            if error is not None:
                self.message.emit(logging.ERROR, "bench", f"cannot connect to {what}: {error}")
                self.bench_changed.emit(None)
                return
            self.bench = bench
            self.message.emit(logging.INFO, "bench", f"connected: {bench!r}")
            self.bench_changed.emit(bench)

        self.worker.submit(lambda: self._load(path), done)

    def _load(self, path: str | None) -> Any:
        if self.bench_loader is not None:
            return self.bench_loader(path)
        from memlab.instruments.bench import load_bench
        return load_bench(path, family=self.family)

    def disconnect_bench(self) -> None:
        """Switch every output off and close the bench (refused while a run uses it)."""
        if self.bench is None:
            return
        if self.running:
            raise RuntimeError("a run is using the bench: abort it before disconnecting")
        bench, self.bench = self.bench, None
        self.bench_changed.emit(None)

        def off_and_close() -> list[str]:
            problems = list(bench.safe_shutdown())
            bench.close()
            return problems

        self.worker.submit(off_and_close, lambda problems, error: self._report_shutdown(problems, error, "disconnected"))

    def choose_bench(self, path: str | None, family: str | None) -> None:
        """Use another bench file (None: the built-in simulated bench) and/or chip family; a connected
        bench is switched off, closed and opened again with the new choice."""
        if self.running:
            raise RuntimeError("a run is using the bench: wait for it or abort it first")
        self.bench_path, self.family = path, family
        if self.bench is not None:
            self.disconnect_bench()
            self.connect_bench()

    def manual(self, what: str, action: Callable[[Any], Any],
               on_done: Callable[[Any, BaseException | None], None], *, quiet: bool = False) -> None:
        """Run ``action(bench)`` in the bench worker (a manual control). Refused during a run.
        Errors always go to the log; results too unless ``quiet``."""
        if self.bench is None:
            raise RuntimeError("no bench is connected: connect it first")
        if self.running:
            raise RuntimeError("a run is using the bench: manual controls wait until it ends")
        bench = self.bench

        def done(result: Any, error: BaseException | None) -> None:
            if error is not None:
                self.message.emit(logging.ERROR, "manual", f"{what}: {error}")
            elif not quiet:
                self.message.emit(logging.INFO, "manual", f"{what}: {result}" if result is not None else what)
            on_done(result, error)

        self.worker.submit(lambda: action(bench), done)

    def all_outputs_off(self) -> None:
        """The emergency stop: hold the queue, abort the run, switch every source and the laser off."""
        self.queue_held = True
        self.queue_changed.emit()
        if self.bench is None:
            return
        if self._starting:
            self._cancel_start = True
        if self.handle is not None or self._external is not None:
            self.message.emit(logging.WARNING, "bench", "ALL OUTPUTS OFF: aborting the run; it switches "
                                                         "everything off on its way out")
            self._shutdown_after_run = True
            if self.handle is not None:
                self.handle.abort()
            else:
                self._external.abort()
            self._grace.start(int(OUTPUTS_OFF_GRACE_S * 1000))
            return
        self._outputs_off_now()

    def _kill_worker(self, handle: Any, why: str) -> None:
        """A worker process that does not stop: said loudly, then killed (SIGKILL)."""
        self.message.emit(logging.ERROR, "run", f"{why}: killing its worker process (pid {handle.pid}); "
                                                "the run ends failed, its file keeps the rows written so far")
        handle.kill()

    def _outputs_off_now(self) -> None:
        if self.bench is None:
            return
        handle = self.handle
        if isinstance(handle, ProcessRunHandle) and not handle.done and not handle.killed:
            # the run's own safe shutdown did not come: end its process. The run's end (in its
            # reader thread) then switches this bench off and verifies it, and calls this again;
            # should even that not come, the grace runs out once more and the bench is switched off below
            self._kill_worker(handle, f"the run did not stop within {OUTPUTS_OFF_GRACE_S:g} s")
            self._shutdown_after_run = True
            self._grace.start(int(OUTPUTS_OFF_GRACE_S * 1000))
            return
        external = self._external
        if external is not None and not self._external_killed and getattr(external, "kill", lambda: False)():
            # a campaign's worker process: as a run's, its end switches this bench off and verifies it
            self._external_killed = True
            self.message.emit(logging.ERROR, "run", f"the campaign did not stop within {OUTPUTS_OFF_GRACE_S:g} s: "
                                                    "its worker process was killed")
            self._shutdown_after_run = True
            self._grace.start(int(OUTPUTS_OFF_GRACE_S * 1000))
            return
        if self.handle is not None or self._external is not None:
            # the run has not stopped in time: talking to the instruments beside it is the lesser evil
            self.message.emit(logging.ERROR, "bench", f"the run did not stop within {OUTPUTS_OFF_GRACE_S:g} s: "
                                                       "switching outputs off directly")
        bench = self.bench
        self.worker.submit(lambda: list(bench.safe_shutdown()),
                           lambda problems, error: self._report_shutdown(problems, error, "all outputs off"))

    def _report_shutdown(self, problems: Sequence[str] | None, error: BaseException | None, what: str) -> None:
        if error is not None:
            self.message.emit(logging.ERROR, "bench", f"{what}: safe shutdown failed: {error}")
        elif problems:
            self.message.emit(logging.ERROR, "bench", f"{what}: " + "; ".join(problems))
        else:
            self.message.emit(logging.INFO, "bench", f"{what}: every output is off")

    # -- runs ------------------------------------------------------------------------------------
    def start(self, procedure: Procedure) -> None:
        """Start ``procedure`` now. Raises ParameterError (from the bench check) or RuntimeError."""
        if self.bench is None:
            raise RuntimeError("no bench is connected: connect it first")
        if self.running:
            raise RuntimeError("a run is in progress: add this one to the queue")
        procedure.check(self.bench)  # a refused value is reported before any file or instrument
        check_instrument_limits(procedure, self.bench)  # and what the instruments themselves cannot do
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._starting = True
        self.running_changed.emit(True)
        # manual actions already queued in the bench worker finish first: the run must not talk
        # to the instruments at the same time as them
        self.worker.submit(lambda: None, lambda _result, _error: self._launch(procedure))

    def _launch(self, procedure: Procedure) -> None:
        self._starting = False
        if self._closed or self.bench is None or self._cancel_start:
            self._cancel_start = False
            self.message.emit(logging.WARNING, "run", f"{procedure.name} was cancelled before it started")
            self.running_changed.emit(False)
            return
        self.listener = QtRunListener(self)
        self.listener.ready.connect(self._drain_some)
        self._finish_seen = False
        self.run_info = {"procedure": procedure.name, "devices": procedure.devices()}
        self._wall_start = time.monotonic()
        if not self.current_item:
            self._set_current(procedure.name)
        try:
            in_process = self.in_process()
            problem = worker_problem(procedure) if in_process else None
            if problem is not None and self.run_mode == "auto":
                in_process = False  # run_mode "process" lets the handle refuse it, said as it is
                self.message.emit(logging.WARNING, "run", f"{procedure.name} runs in a thread of the dashboard, "
                                                          f"not in a worker process: {problem}")
            if in_process:
                self.handle = _SignalledProcessRun(self._run_thread_ended.emit, procedure, self.bench, self.out_dir,
                                                   operator=self.operator, listeners=[self.listener],
                                                   worker_listeners=self.extra_listeners)
                log.debug("%s runs in worker process %s", procedure.name, self.handle.pid)
            else:
                self.handle = _SignalledRun(self._run_thread_ended.emit, procedure, self.bench, self.out_dir,
                                            operator=self.operator, listeners=[self.listener, *self.extra_listeners])
        except Exception as exc:  # noqa: BLE001 - e.g. the worker could not be started: said, nothing ran
            self.listener = None
            self._set_current("")
            error = f"{type(exc).__name__}: {exc}"
            self.message.emit(logging.ERROR, "run", f"run could not start: {error}")
            self.last_result = ("failed", error, "")
            self.run_finished.emit("failed", error, "")
            self.running_changed.emit(False)
            if self.queue and not self.queue_held:  # a person should look before the next run
                self.queue_held = True
                self.queue_changed.emit()

    def abort(self) -> None:
        if self._starting:
            self._cancel_start = True
        if self.handle is not None:
            self.message.emit(logging.WARNING, "run", "abort requested")
            self.handle.abort()
        elif self._external is not None:
            self.message.emit(logging.WARNING, "run", "abort requested: the campaign stops")
            self._external.abort()

    def _drain_some(self) -> None:
        """The listener's signal: handle what the run reported for at most DRAIN_BUDGET_S of this
        event-loop turn (and nothing after its start: that builds the plots), the rest in later
        turns, so that a backlog or a run's start never stalls the window in one piece."""
        self._drain(budget_s=DRAIN_BUDGET_S)

    def _drain(self, budget_s: float | None = None) -> None:
        listener = self.listener
        if listener is None:
            return
        events = listener.drain()
        until = time.perf_counter() + budget_s if budget_s is not None else None
        for index, event in enumerate(events):
            if until is not None and index and (time.perf_counter() > until or events[index - 1].kind == "start"):
                listener.put_back(events[index:])
                self._drain_later.start()
                return
            kind, args = event.kind, event.args
            if kind == "batch":
                self.run_batch.emit(args[0], args[1])
            elif kind == "progress":
                self.run_progress.emit(float(args[0]), float(args[1]), args[2],
                                       time.monotonic() - self._wall_start)
            elif kind == "log":
                self.message.emit(args[0], "run", args[1])
            elif kind == "start":
                self.run_info = args[0]
                self.run_started.emit(args[0])
            elif kind == "finish":
                self._finish_seen = True
                self.last_result = (args[0], args[1], args[2])
                self.run_finished.emit(*args)

    def _on_run_thread_ended(self) -> None:
        self._drain()
        handle = self.handle
        self.handle, self.listener = None, None
        self._set_current("")
        if handle is not None and not self._finish_seen:
            error = f"{type(handle.exception).__name__}: {handle.exception}" if handle.exception else "the run ended without a result"
            self.message.emit(logging.ERROR, "run", f"run could not start: {error}")
            self.last_result = ("failed", error, "")
            self.run_finished.emit("failed", error, "")
        self.running_changed.emit(False)
        if self._shutdown_after_run:
            self._shutdown_after_run = False
            self._grace.stop()
            self._outputs_off_now()
        status = self.last_result[0] if self.last_result else "failed"
        if status != "completed" and self.queue and not self.queue_held and not self.hold_on_failure:
            self.message.emit(logging.WARNING, "queue", f"the run ended {status}: going on with the next run "
                                                        "(the queue is set to go on after a failure)")
        elif status != "completed" and self.queue and not self.queue_held:
            self.queue_held = True
            self.message.emit(logging.WARNING, "queue", f"the run ended {status}: the queue is held; "
                                                        "press Run queue to go on")
            self.queue_changed.emit()
        if not self.queue_held and not self._closed:
            QtCore.QTimer.singleShot(0, self.run_next)

    # -- the queue -------------------------------------------------------------------------------
    def enqueue(self, item: QueuedRun) -> None:
        item.make()  # refuse bad values now, not when the run's turn comes
        self.queue.append(item)
        self.queue_changed.emit()

    def remove(self, index: int) -> None:
        del self.queue[index]
        self.queue_changed.emit()

    def move(self, index: int, offset: int) -> None:
        target = index + offset
        if 0 <= index < len(self.queue) and 0 <= target < len(self.queue):
            self.queue.insert(target, self.queue.pop(index))
            self.queue_changed.emit()

    def replace(self, index: int, item: QueuedRun) -> None:
        item.make()
        self.queue[index] = item
        self.queue_changed.emit()

    def clear_queue(self) -> None:
        self.queue.clear()
        self.queue_changed.emit()

    def run_queue(self) -> None:
        """Release the queue and start its first run if nothing runs."""
        self.queue_held = False
        self.queue_changed.emit()
        self.run_next()

    def run_next(self) -> None:
        if self.running or self.queue_held or not self.queue or self.bench is None or self._closed:
            return
        item = self.queue.pop(0)
        self.queue_changed.emit()
        try:
            self._set_current(item.describe())
            self.start(item.make())
        except Exception as exc:  # noqa: BLE001 - a bad queued run holds the queue, reported
            self._set_current("")
            self.queue_held = True
            self.message.emit(logging.ERROR, "queue", f"{item.procedure} could not start: {exc}; queue held")
            self.queue_changed.emit()

    # -- closing ---------------------------------------------------------------------------------
    def _wait_external(self, external: Any, wait_s: float) -> None:
        """Wait up to ``wait_s`` for the campaign to end, the event loop turning."""
        deadline = time.monotonic() + wait_s
        while self._external is external and time.monotonic() < deadline:
            QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
            external.join(0.05)

    def shutdown(self, timeout_s: float = 30.0) -> list[str]:
        """Abort any run, wait for it, switch every output off and close the bench.

        Keeps the GUI event loop turning while it waits, so the window repaints. Returns the
        problems the safe shutdown reported (empty: everything is off)."""
        self._closed = True
        self.queue_held = True
        problems: list[str] = []
        external = self._external
        if external is not None:
            external.abort()
            # a campaign in a worker process that does not stop is killed after the grace, as a run's;
            # a thread can only be waited for
            grace_s = min(timeout_s, OUTPUTS_OFF_GRACE_S)
            self._wait_external(external, grace_s)
            if self._external is external:
                if external.kill():
                    problems.append(f"the campaign did not stop within {grace_s:g} s: its worker process was killed")
                    self._wait_external(external, 10.0)
                else:
                    self._wait_external(external, timeout_s - grace_s)
            if self._external is external:
                problems.append("the campaign did not stop")
        handle = self.handle
        if handle is not None:
            handle.abort()
            worker = isinstance(handle, ProcessRunHandle)
            # a worker process that does not stop on abort is killed after the grace (a simulated
            # bench: no instrument is left mid-command); a thread can only be waited for
            waits = [min(timeout_s, OUTPUTS_OFF_GRACE_S), 10.0] if worker else [timeout_s]
            for i, wait_s in enumerate(waits):
                deadline = time.monotonic() + wait_s
                while not handle.done and time.monotonic() < deadline:
                    QtWidgets.QApplication.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 50)
                    try:
                        handle.join(0.05)
                    except BaseException:  # noqa: BLE001 - the run's own error; it is reported on its end
                        break
                if handle.done or i == len(waits) - 1:
                    break
                self._kill_worker(handle, f"closing: the run did not stop within {wait_s:g} s")
                problems.append(f"the run did not stop within {wait_s:g} s: its worker process was killed")
            if not handle.done:
                problems.append(f"the run did not stop within {sum(waits):g} s")
            QtWidgets.QApplication.processEvents()
            if self.handle is handle:  # its end signal was not delivered yet
                self._on_run_thread_ended()
        bench, self.bench = self.bench, None
        if bench is not None:
            def off_and_close() -> list[str]:
                found = list(bench.safe_shutdown())
                bench.close()
                return found
            try:
                problems += self.worker.call(off_and_close, timeout_s)
            except Exception as exc:  # noqa: BLE001 - report, never hang the close
                problems.append(f"safe shutdown: {type(exc).__name__}: {exc}")
        self.worker.shutdown()
        return problems


def queue_to_json(queue: Sequence[QueuedRun]) -> str:
    """The queue as text for QSettings, so it survives a restart."""
    return json.dumps([{"procedure": q.procedure, "values": values_for_settings(q.values)} for q in queue])


def queue_from_json(text: str) -> tuple[list[QueuedRun], list[str]]:
    """Queued runs back from :func:`queue_to_json`; entries no longer valid are left out, with why."""
    items, problems = [], []
    try:
        data = json.loads(text) if text else []
    except ValueError as exc:
        return [], [f"the saved queue is unreadable: {exc}"]
    for entry in data if isinstance(data, list) else []:
        try:
            item = QueuedRun(str(entry["procedure"]), dict(entry.get("values", {})))
            item.make()
            items.append(item)
        except Exception as exc:  # noqa: BLE001 - one stale entry must not lose the rest
            problems.append(f"{entry!r}: {exc}")
    return items, problems


def values_for_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """Parameter values as JSON-able data for QSettings."""
    return {k: v for k, v in values.items() if v is None or isinstance(v, (bool, int, float, str))}
