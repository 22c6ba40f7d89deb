"""The runner: validate, open the run file, execute, and always shut the bench down safely."""

from __future__ import annotations

import functools
import getpass
import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memlab.instruments.safety import SAFETY_FAILURE
from memlab.procedures.base import Pause, Procedure
from memlab.procedures.recorder import Recorder, RunListener
from memlab.procedures.signals import Interrupted, StopSignals, signal_name, stop_reason
from memlab.storage import ABORTED, COMPLETED, FAILED, ParameterRecord, RunWriteError, RunWriter

if TYPE_CHECKING:  # pymeasure-backed: imported when a run starts, so declarations stay light
    from memlab.instruments.trace import CommandTrace

log = logging.getLogger("memlab.run")

_WALL_SLEEP_SLICE_S = 0.05
#: commands put into the run's log when it fails
_LAST_COMMANDS = 20


class AbortRequested(Exception):
    """Raised inside a procedure by :meth:`RunContext.check_abort` once abort was asked."""


@functools.lru_cache(maxsize=1)
def software_version() -> str:
    """The installed memlab's version. Looked up once per process: the lookup scans every installed
    distribution (about 15 ms), which was the largest fixed cost of starting a run."""
    try:
        return metadata.version("memlab")
    except metadata.PackageNotFoundError:
        return "unknown"


class RunContext:
    """What a procedure's ``execute`` gets: the bench, its clock, recording and abort checks."""

    def __init__(self, procedure: Procedure, bench: Any, recorder: Recorder,
                 abort_event: threading.Event, signals: StopSignals | None = None) -> None:
        self.procedure = procedure
        self.bench = bench
        self.clock = bench.clock
        self.recorder = recorder
        self._abort = abort_event
        self._signals = signals
        self.t0 = self.clock.now()
        #: the procedure's Devices (procedures.common), whose routes a paused run opens
        self.devices_in_use: list[Any] = []

    @property
    def elapsed_s(self) -> float:
        """Seconds on the bench clock since the run started."""
        return self.clock.now() - self.t0

    def append(self, stream: str, batch: Mapping[str, Any]) -> None:
        self.recorder.append(stream, batch)

    def append_row(self, stream: str, values: Sequence[Any]) -> None:
        self.recorder.append_row(stream, values)

    def log(self, message: str, level: int = logging.INFO) -> None:
        log.log(level, "%s: %s", self.procedure.name, message)
        self.recorder.log(message, level)

    def record_device_state(self, row: int, col: int, **facts: Any) -> None:
        """Record what the procedure learnt of a device's state (``formed_at_start``,
        ``formed_at_end``: True / False / None, ``evidence``) into the run file."""
        self.recorder.writer.record_device_state(row, col, **facts)

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()

    def check_abort(self) -> None:
        """Call between steps: raises AbortRequested once abort was asked, and RunWriteError
        once the run file can no longer be written (a full disk ends the run at once)."""
        if self._abort.is_set():
            raise AbortRequested()
        if self._signals is not None:
            self._signals.check()
        self.recorder.writer.check_writable()

    def sleep(self, seconds: float) -> None:
        """Wait on the bench clock; on the wall clock, in short slices so abort stays prompt."""
        self.check_abort()
        if getattr(self.clock, "virtual", False):
            self.clock.sleep(seconds)
            return
        end = self.clock.now() + seconds
        while (left := end - self.clock.now()) > 0:
            self.clock.sleep(min(left, _WALL_SLEEP_SLICE_S))
            self.check_abort()

    def progress(self, done: float, total: float) -> None:
        """Report progress; the time left is extrapolated from bench-clock time so far."""
        elapsed = self.elapsed_s
        eta = elapsed / done * (total - done) if done > 0 and total >= done else None
        self.recorder.progress(done, total, eta)


@dataclass
class RunResult:
    path: Path
    status: str
    error: str = ""
    shutdown_errors: list[str] = field(default_factory=list)
    #: outputs that could not be verified off after the run: each names the instrument
    safety_failures: list[str] = field(default_factory=list)
    #: the run file could not be written (a full disk): later runs would fail the same way
    write_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED and not self.safety_failures


def run_filename(procedure: Procedure) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
    devices = procedure.devices()
    where = f"_r{devices[0][0]}c{devices[0][1]}" if len(devices) == 1 else ""
    if len(devices) > 1:
        where = f"_{len(devices)}dev"
    return f"{stamp}_{re.sub(r'[^A-Za-z0-9-]', '-', procedure.name)}{where}.h5"


def _unique(path: Path) -> Path:
    candidate, n = path, 1
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def _start_trace(bench: Any) -> CommandTrace | None:
    """Record every instrument's command conversation for the run file, unless the bench file
    says ``trace = false`` (None then, and for a bench without drivers to trace)."""
    if not getattr(getattr(bench, "config", None), "trace", True) or not hasattr(bench, "instruments"):
        return None
    from memlab.instruments.trace import CommandTrace

    trace = CommandTrace(bench.clock.now)
    _attach_trace(trace, bench)
    return trace


def _attach_trace(trace: CommandTrace | None, bench: Any) -> None:
    if trace is None:
        return
    for role, driver in bench.instruments().items():
        try:
            trace.attach(driver, role)
        except ValueError as exc:  # a driver without a pymeasure adapter: nothing to trace
            log.debug("not tracing %s: %s", role, exc)


def _log_last_commands(recorder: Recorder, trace: CommandTrace | None, lines: list[str]) -> None:
    if trace is None or not lines:
        return
    recorder.log(f"the last {len(lines)} instrument commands before the failure (the whole "
                 f"conversation is in the file's /trace):", logging.ERROR)
    for line in lines:
        recorder.log(f"  {line}", logging.ERROR)
    log.error("last instrument commands:\n  %s", "\n  ".join(lines))


def _open_writer(procedure: Procedure, bench: Any, path: Path, operator: str | None,
                 extra: Mapping[str, Any] | None, trace: CommandTrace | None = None) -> RunWriter:
    declared = {p.name: p for p in procedure.parameters}
    return RunWriter(
        path,
        procedure=procedure.name,
        procedure_version=procedure.version,
        streams=procedure.streams,
        parameters={name: ParameterRecord(value, declared[name].unit, declared[name].help)
                    for name, value in procedure.values.items()},
        chip=bench.chip_info() if hasattr(bench, "chip_info") else {},
        devices=procedure.devices(),
        instruments=bench.snapshot() if hasattr(bench, "snapshot") else {},
        operator=operator if operator is not None else getpass.getuser(),
        software_version=software_version(),
        extra={"title": procedure.title, **(extra or {})},
        trace=trace,
    )


def run_procedure(
    procedure: Procedure,
    bench: Any,
    out_dir: str | Path,
    *,
    operator: str | None = None,
    listeners: Iterable[RunListener] = (),
    abort_event: threading.Event | None = None,
    filename: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> RunResult:
    """Run ``procedure`` on ``bench`` and write one file into ``out_dir``.

    Bad parameters raise ParameterError before any file exists or any instrument is touched;
    a run file that cannot be created raises RunWriteError, also before anything is touched.
    Otherwise the run ends completed, aborted or failed; whichever, the bench's safe shutdown
    runs, every output is verified off (one that cannot be is a safety failure: the run fails
    and ``RunResult.safety_failures`` names it) and the file records the status. A write
    failure (a full disk) ends the run at once as failed. Ctrl-C, SIGTERM and SIGHUP (main
    thread) are recorded as aborted and then raised again as ``KeyboardInterrupt``
    (:class:`~memlab.procedures.signals.Interrupted`), so the caller stops too.
    """
    run = ActiveRun(procedure, bench, out_dir, operator=operator, listeners=listeners,
                    abort_event=abort_event, filename=filename, extra=extra)
    run.run_to_end()
    assert run.result is not None
    return run.result


class ActiveRun:
    """One open run, driven in segments: :meth:`run_to_end` runs it whole (what
    :func:`run_procedure` does); a campaign's scheduler instead calls :meth:`advance`, which runs
    the procedure's :meth:`~Procedure.segments` to its next pause, and :meth:`suspend` before
    another run takes the instruments (this run's routes opened, its command trace detached).
    However the run ends (its segments end, an error, an abort, :meth:`abort`), it ends as
    ``run_procedure`` ends it: safe shutdown with outputs verified off, final status in the file,
    then :attr:`result`. Creating one checks the procedure and creates the file (see
    run_procedure for the errors).
    """

    def __init__(self, procedure: Procedure, bench: Any, out_dir: str | Path, *,
                 operator: str | None = None, listeners: Iterable[RunListener] = (),
                 abort_event: threading.Event | None = None, filename: str | None = None,
                 extra: Mapping[str, Any] | None = None) -> None:
        procedure.check(bench)
        self.procedure, self.bench = procedure, bench
        self.abort_event = abort_event or threading.Event()
        self.path = path = _unique(Path(out_dir) / (filename or run_filename(procedure)))
        self.trace = trace = _start_trace(bench)  # before the file: the snapshot's queries are in it too
        try:
            self.writer = _open_writer(procedure, bench, path, operator, extra, trace)
        except BaseException as exc:
            if trace is not None:
                trace.detach()
            if isinstance(exc, OSError) and not isinstance(exc, RunWriteError):
                # a full disk, a read-only folder: nothing ran, no output changed
                raise RunWriteError(f"{path}: cannot create the run file ({type(exc).__name__}: {exc})") from exc
            raise
        self.recorder = Recorder(self.writer, listeners)
        self.signals = StopSignals()
        self.ctx = RunContext(procedure, bench, self.recorder, self.abort_event, self.signals)
        self.result: RunResult | None = None
        self.busy_s = 0.0  # bench-clock time the run held the instruments
        self._segments: Any = None
        self._suspended = False

    @property
    def ended(self) -> bool:
        return self.result is not None

    def _start(self) -> None:
        self.recorder.start({"procedure": self.procedure.name, "parameters": dict(self.procedure.values),
                             "devices": self.procedure.devices(), "path": str(self.path),
                             "streams": self.procedure.streams, "plots": self.procedure.plots})
        self.ctx.log(f"started {self.procedure.name} {self.procedure.version} with {self.procedure.values}")
        _record_simulated_formed(self.bench, self.writer, self.procedure.devices(), "formed_at_start")

    def run_to_end(self) -> None:
        """Run the procedure's ``execute`` whole (waits slept through), then end the run."""
        def whole() -> None:
            self._start()
            self.procedure.execute(self.ctx)
        self._segment(whole)

    def advance(self) -> Pause | None:
        """Run to the procedure's next pause and return it; None once the run has ended."""
        if self.ended:
            return None

        def piece() -> Pause | None:
            if self._segments is None:
                self._start()
                self._segments = self.procedure.segments(self.ctx)
            elif self._suspended:
                _attach_trace(self.trace, self.bench)
                self._suspended = False
            try:
                return next(self._segments)
            except StopIteration:
                return None
        return self._segment(piece)

    def suspend(self) -> None:
        """Before another run takes the instruments: open this run's routes, detach its trace.
        A relay that cannot be opened ends this run as failed (with the safe shutdown)."""
        if self.ended or self._suspended:
            return

        def release() -> bool:
            from memlab.procedures.common import release_routes  # instruments-side: imported when used
            release_routes(self.ctx)
            if self.trace is not None:
                self.trace.detach()
            self._suspended = True
            return True
        self._segment(release)

    def abort(self, reason: str) -> None:
        """End a paused run as aborted (its campaign stopped): close its segments, then the same
        safe shutdown and final status as any other end."""
        if self.ended:
            return
        if self._segments is not None:
            try:
                self._segments.close()  # the procedure's own clean-up (rows gathered so far) runs
            except Exception as exc:  # noqa: BLE001 - the run still ends with its outputs off
                log.warning("%s: closing its segments: %s", self.procedure.name, exc)
        self._end(ABORTED, reason)

    def _segment(self, work: Any) -> Any:
        """Run ``work`` as run_procedure runs ``execute``: an error, an abort or a stop signal ends
        the run (and a signal is raised again afterwards); otherwise returns what ``work`` returns
        (None ends the run as completed)."""
        status, error, interrupted, result = FAILED, "the run was stopped", None, None
        t_clock = self.bench.clock.now()
        with self.signals:
            try:
                result = work()
                self.signals.check()  # a Ctrl-C swallowed below (e.g. by a twin) still aborts
                status, error = (COMPLETED, "") if result is None else ("", "")
            except AbortRequested:
                status, error = ABORTED, "aborted on request"
            except KeyboardInterrupt as exc:
                # a stop signal, or a listener's abort with its reason (raised again as it is)
                error = stop_reason(exc)
                interrupted = exc if isinstance(exc, Interrupted) or error == str(exc) else Interrupted()
                status = ABORTED
            except Exception as exc:
                if self.signals.received is not None:  # the interrupt surfaced as another error
                    interrupted = Interrupted(self.signals.received)
                    status, error = ABORTED, (f"aborted by {signal_name(self.signals.received)} "
                                              f"({type(exc).__name__}: {exc})")
                else:
                    status, error = FAILED, f"{type(exc).__name__}: {exc}"
                    log.error("%s failed: %s", self.procedure.name, error)
                self.recorder.log(traceback.format_exc(), logging.ERROR)
            finally:
                self.busy_s += self.bench.clock.now() - t_clock
                if status:  # the run ends: however often Ctrl-C is pressed, outputs off, status in the file
                    with self.signals.deferred():
                        self._end(status, error)
        if interrupted is not None:
            raise interrupted
        return None if status else result

    def _end(self, status: str, error: str) -> None:
        try:
            status, error, shutdown_errors, safety_failures = _finish(
                self.bench, self.writer, self.recorder, self.path, status, error, self.trace, self.ctx)
        finally:
            if self.trace is not None:
                self.trace.detach()  # the bench's own adapters again: manual control is not traced
        self.result = RunResult(self.path, status, error, list(shutdown_errors), safety_failures,
                                write_failed=self.writer.write_error is not None)


def _record_simulated_formed(bench: Any, writer: RunWriter, devices: Sequence[tuple[int, int]], key: str) -> None:
    """On a wholly simulated bench the chip knows whether each device is formed: record it for
    the run's devices (a real bench does not know; its procedures record what they learn)."""
    world = getattr(bench, "world", None)
    chip = getattr(world, "chip", None)
    if chip is None or not devices or getattr(bench, "clock", None) is not getattr(world, "clock", None):
        return
    for r, c in devices:
        if 0 <= r < chip.rows and 0 <= c < chip.cols:
            writer.record_device_state(r, c, **{key: chip.is_formed(r, c), "evidence": "simulated chip"})


def _finish(bench: Any, writer: RunWriter, recorder: Recorder, path: Path, status: str,
            error: str, trace: CommandTrace | None = None,
            ctx: RunContext | None = None) -> tuple[str, str, list[str], list[str]]:
    """Safe shutdown with outputs verified off, then the final status into the file; a failed
    run's log gets its last instrument commands (before the shutdown when the run itself failed)."""
    failed_before = status == FAILED
    last_commands = trace.last(_LAST_COMMANDS) if trace is not None and failed_before else []
    writer.mark_safe_shutdown()
    shutdown_errors = _safe_shutdown(bench)
    if ctx is not None and ctx.devices_in_use:
        from memlab.procedures.common import forget_pulse_shape, forget_routes
        forget_routes(ctx)  # the shutdown opened every relay
        forget_pulse_shape(getattr(bench, "pulser", None))  # and switched the generator off
    safety_failures = _safety_failures(shutdown_errors)
    for message in shutdown_errors:
        recorder.log(f"safe shutdown: {message}", logging.ERROR)
    if safety_failures:
        status, error = FAILED, "; ".join([*safety_failures, error] if error else safety_failures)
        for message in safety_failures:
            log.critical("%s: %s", path.name, message)
    elif shutdown_errors and status == COMPLETED:
        status, error = FAILED, "safe shutdown failed: " + "; ".join(shutdown_errors)
    if writer.write_error is not None and writer.write_error_message not in error:
        status, error = FAILED, "; ".join(e for e in (writer.write_error_message, error) if e)
    if ctx is not None:
        _record_simulated_formed(bench, writer, ctx.procedure.devices(), "formed_at_end")
    if status == FAILED and trace is not None:
        _log_last_commands(recorder, trace, last_commands if failed_before else trace.last(_LAST_COMMANDS))
    recorder.log(f"finished: {status}{': ' + error if error else ''}",
                 logging.INFO if status == COMPLETED else logging.WARNING)
    try:
        writer.close(status, error, "; ".join(safety_failures))
    except RunWriteError as exc:  # the file keeps its rows; the status is reported here instead
        log.error("%s", exc)
        status, error = FAILED, "; ".join(e for e in (error, str(exc)) if e)
        writer.write_error = writer.write_error or exc
    recorder.finish(status, error, str(path))
    return status, error, shutdown_errors, safety_failures


def _safety_failures(shutdown_errors: list[str]) -> list[str]:
    """The safety failures among a shutdown's problems (a bench may return a plain list)."""
    found = getattr(shutdown_errors, "safety_failures", None)
    if found is not None:
        return list(found)
    return [m for m in shutdown_errors if m.startswith(SAFETY_FAILURE)]


def _safe_shutdown(bench: Any) -> list[str]:
    try:
        report = bench.safe_shutdown()
        return report if isinstance(report, list) else list(report)
    except Exception as exc:  # the bench should collect errors itself; never lose the file
        return [f"{SAFETY_FAILURE}: the safe shutdown itself failed, no output is verified off "
                f"({type(exc).__name__}: {exc})"]


class RunHandle:
    """A run in a worker thread (for the dashboard): abort it, wait for it, read its result."""

    def __init__(self, procedure: Procedure, bench: Any, out_dir: str | Path, **kwargs: Any) -> None:
        self.abort_event = threading.Event()
        self.result: RunResult | None = None
        self.exception: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"run {procedure.name}", daemon=True,
                                        args=(procedure, bench, out_dir), kwargs=kwargs)
        self._thread.start()

    def _run(self, procedure: Procedure, bench: Any, out_dir: str | Path, **kwargs: Any) -> None:
        try:
            self.result = run_procedure(procedure, bench, out_dir, abort_event=self.abort_event, **kwargs)
        except BaseException as exc:  # e.g. ParameterError from check(); reported to the caller
            self.exception = exc

    def abort(self) -> None:
        self.abort_event.set()

    def join(self, timeout: float | None = None) -> RunResult | None:
        self._thread.join(timeout)
        if self.exception is not None:
            raise self.exception
        return self.result

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()


def start_run(procedure: Procedure, bench: Any, out_dir: str | Path, **kwargs: Any) -> RunHandle:
    """Run in a worker thread; returns at once."""
    return RunHandle(procedure, bench, out_dir, **kwargs)
