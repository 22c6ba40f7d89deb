"""Campaigns: a plan run unattended over many devices, one run file each, resumable.

The manifest (``manifest.json`` in the output folder) records every attempt: its task, file,
status and error. It is rewritten atomically before and after each run, so after a crash or a
SIGKILL ``resume=True`` knows what completed (skipped), what was running (redone) and what is left.

One process at a time owns a campaign folder (an exclusive ``flock`` on ``.memlab-campaign.lock``);
a second is refused with :class:`CampaignBusyError`. Ctrl-C, SIGTERM and SIGHUP stop a campaign
with its outputs off and its manifest final (:mod:`memlab.procedures.signals`). A resumed campaign
first repairs the files of its interrupted runs, so every run file in the folder opens with any
HDF5 reader. A run whose outputs could not be verified off (a safety failure) stops the campaign.

By default (plan ``schedule: interleaved``) runs that declare their waits (``Procedure.segments``)
are interleaved: other runs fill their waits on the same instruments and bench clock, and every
wait ends within ``ON_TIME_S`` (docs/campaigns.md, "Scheduling").
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import socket
import subprocess
import time
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock; a campaign folder is then not locked
    fcntl = None  # type: ignore[assignment]

from memlab.instruments.safety import SAFETY_FAILURE
from memlab.procedures.parameters import ParameterError
from memlab.procedures.plan import Plan, PlanError, Task, resolve_devices
from memlab.procedures.recorder import RunListener
from memlab.procedures.base import Checkpoint, Pause, Wait
from memlab.procedures.runner import ActiveRun, RunResult, run_filename, run_procedure
from memlab.procedures.signals import StopSignals, stop_reason
from memlab.storage import RunFileError, RunReader, RunWriteError
from memlab.storage.recovery import writer_flags

log = logging.getLogger("memlab.campaign")

MANIFEST = "manifest.json"
LOG_FILE = "campaign.log"
LOCK_FILE = ".memlab-campaign.lock"
MAX_NAME_CHARS = 100
SKIPPED = "skipped"
DONE_STATUSES = ("completed", "failed", SKIPPED)  # final for a task: resume does not redo them


RUN_START_S = 0.05
"""Instrument time a run takes to start (the instrument snapshot for its file) and, at most, to
end (the safe shutdown with every output verified off): kept free before a due read."""
RUN_END_S = 0.05
ON_TIME_S = 0.1
"""Interleaved, every declared wait ends (a retention read is taken) at most this late: the
scheduler only fills a gap with work whose estimated instrument time ends before the next due
read, so a read waits only for reads due at the same moment and for estimates that ran over.
A later one is logged as a warning; the run file has each read's planned and actual time."""

_STOP = object()  # an earlier session's failure with on_failure: stop


@dataclass
class _Outcomes:
    """What the campaign knows of its tasks so far."""

    skipped_devices: set[tuple[int, int]] = field(default_factory=set)
    outcome: dict[tuple, dict[str, Any]] = field(default_factory=dict)  # (device, repeat, step) -> record
    failures: int = 0

    def status(self) -> str:
        return "completed" if self.failures == 0 else "completed_with_failures"


@dataclass
class _OpenRun:
    """A run the scheduler has started and not yet ended, with where it paused."""

    task: Task
    index: int
    attempt: int
    record: dict[str, Any]
    run: ActiveRun
    pause: Pause | None
    t_clock: float
    t_wall: float


class CampaignListener(RunListener):
    """Hears the campaign (task by task) and, through the RunListener methods, each run."""

    def on_task_start(self, task: Task, index: int, total: int, estimate_s: float) -> None:
        """A task is about to run (index counts from 0)."""

    def on_task_end(self, task: Task, record: dict[str, Any]) -> None:
        """A task ended, was skipped, or was already done in an earlier session."""


class CampaignAborted(KeyboardInterrupt):
    """Raised by a listener (the dashboard's) once abort was asked: the campaign's own Ctrl-C path
    records the run aborted, switches the bench off and leaves the task to be redone on resume."""


class ManifestWriteError(RunWriteError):
    """The manifest could not be written (a full disk, a file-size limit)."""


class CampaignBusyError(PlanError):
    """Another process is running a campaign in the same folder."""


def check_campaign_name(name: str, source: str = "plan") -> str:
    """A plan name is used as a folder name (``runs/<name>``): refuse anything that is not one
    plain folder name, such as ``../../X``, so a campaign never writes outside its folder."""
    allowed = (f"one folder name of 1 to {MAX_NAME_CHARS} characters, without '/', '\\' or control "
               "characters, not starting with '.'")
    if (not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS
            or name.startswith(".") or any(c in name for c in "/\\") or not name.isprintable()):
        raise PlanError(f"{source}: name: {name!r} is not allowed: {allowed}")
    return name


def _file_safe(text: str) -> str:
    """A task key as part of a file name: only letters, digits, '.', '_' and '-'."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", text.replace("/", "_"))


def _hms(seconds: float) -> str:
    """Seconds as h:mm:ss.s (a schedule spans hours)."""
    hours, rest = divmod(seconds, 3600.0)
    minutes, secs = divmod(rest, 60.0)
    return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Manifest:
    """What ran, what is left and why anything failed; JSON, written atomically."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path, self.data = path, data

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise PlanError(f"{path}: cannot read the campaign manifest ({type(exc).__name__}: {exc})") from None
        problem = cls.problem(data)
        if problem:
            raise PlanError(f"{path}: corrupt campaign manifest: {problem}; restore it or start "
                            "the campaign in a new --out folder")
        return cls(path, data)

    @staticmethod
    def problem(data: Any) -> str:
        """What is wrong with a loaded manifest ("" when it has the expected shape)."""
        if not isinstance(data, dict):
            return f"expected a JSON object at the top, found {type(data).__name__}"
        if not isinstance(data.get("plan_digest"), str):
            return "'plan_digest' is missing or not a string"
        if not isinstance(data.get("resumed", 0), int):
            return "'resumed' must be a whole number"
        attempts = data.get("attempts")
        if not isinstance(attempts, list):
            return f"'attempts' must be a list of records, found {type(attempts).__name__}"
        for i, record in enumerate(attempts):
            if not isinstance(record, dict):
                return f"attempts[{i}] must be an object, found {type(record).__name__}"
            for key in ("task", "status"):
                if not isinstance(record.get(key), str):
                    return f"attempts[{i}] has no string {key!r}"
            if not isinstance(record.get("file"), (str, type(None))):
                return f"attempts[{i}].file must be a file name or null"
            if isinstance(record.get("file"), str) and Path(record["file"]).name != record["file"]:
                return f"attempts[{i}].file {record['file']!r} is not a plain file name"
        return ""

    def save(self) -> None:
        self.data["updated"] = _now()
        tmp = self.path.with_suffix(".json.tmp")
        try:
            tmp.write_text(json.dumps(self.data, indent=1, default=str))
            os.replace(tmp, self.path)
        except OSError as exc:  # the previous manifest stays whole: the write is atomic
            tmp.unlink(missing_ok=True)
            raise ManifestWriteError(f"{self.path}: cannot write the campaign manifest "
                                     f"({type(exc).__name__}: {exc})") from exc

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return self.data["attempts"]

    def last(self, key: str) -> dict[str, Any] | None:
        for record in reversed(self.attempts):
            if record["task"] == key:
                return record
        return None


@dataclass
class CampaignResult:
    status: str
    out_dir: Path
    manifest: dict[str, Any]
    summary: str
    #: runs whose outputs could not be verified off; the campaign stopped at the first
    safety_failures: list[str] = field(default_factory=list)
    #: bench-clock time this session took (instrument time; virtual in simulation)
    instrument_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "completed"


def _plan_digest(plan: Plan) -> str:
    payload = json.dumps([(t.key, t.step.procedure.name, t.step.params) for t in plan.tasks()],
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


_CHIP_IDENTITY = ("family", "rows", "cols", "seed")


def formed_devices(folder: Path, chip: dict[str, Any]) -> set[tuple[int, int]]:
    """Devices of ``chip`` whose latest completed forming run under ``folder`` reports formed."""
    latest: dict[tuple[int, int], tuple[str, bool]] = {}
    for path in sorted(folder.rglob("*.h5")):
        try:
            with RunReader(path) as r:
                if r.procedure != "forming" or r.status != "completed" or "result" not in r.stream_names:
                    continue
                if any(r.chip.get(k) != chip.get(k) for k in _CHIP_IDENTITY if k in chip):
                    continue  # another chip's forming says nothing about this one
                result = r.stream("result")
                if not len(result):
                    continue
                for a, b in r.devices:
                    device = (int(a), int(b))
                    if device not in latest or latest[device][0] < r.start_time:
                        latest[device] = (r.start_time, bool(result["formed"][-1]))
        except (RunFileError, KeyError, OSError) as exc:
            log.warning("all_formed: skipping %s (%s)", path, exc)
    return {device for device, (_, formed) in latest.items() if formed}


class Campaign:
    """Run ``plan`` on ``bench`` into ``out_dir``. From Python::

        campaign = Campaign(load_plan("night.yaml"), load_bench("bench.toml"), "runs/night")
        print(campaign.dry_run())
        result = campaign.run()
    """

    def __init__(self, plan: Plan, bench: Any, out_dir: str | Path, *, resume: bool = False,
                 listeners: Iterable[CampaignListener] = (), operator: str | None = None) -> None:
        check_campaign_name(plan.name, plan.source)
        self.plan, self.bench, self.out_dir = plan, bench, Path(out_dir)
        self.safety_failures: list[str] = []
        self.manifest_error = ""
        self.max_wait_delay_s = 0.0  # interleaved: the largest delay with which a due wait was served
        self._signals = StopSignals()
        self.resume = resume
        self.listeners = list(listeners)
        self.operator = operator or plan.operator
        formed = None
        if any(item == "all_formed" for item in plan.device_spec):
            # forming runs of earlier campaigns: by default the folders beside this one
            folder = Path(plan.formed_from) if plan.formed_from else self.out_dir.resolve().parent
            formed = formed_devices(folder, bench.chip_info()) if folder.is_dir() else set()
            if not formed:
                raise PlanError(f"{plan.source}: devices: all_formed found no device formed on this chip "
                                f"in forming runs under {folder}; run a forming campaign first or "
                                "set formed_from")
        plan.devices = resolve_devices(plan, bench.chip_info(), formed)
        self.tasks = list(plan.tasks())
        self._estimates = self._check()

    def _check(self) -> dict[str, float | None]:
        """Make every run's procedure and check it against the bench, before anything runs."""
        problems, estimates = [], {}
        self._busy: dict[str, float | None] = {}
        for task in self.tasks:
            try:
                proc = task.step.make(task.device)
                proc.check(self.bench)
                estimates[task.key] = proc.estimate_s(self.bench)
                self._busy[task.key] = proc.busy_estimate_s(self.bench)
            except ParameterError as exc:
                problems.append(f"{task.key}: {exc}")
        if problems:
            more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
            raise PlanError(f"{self.plan.source}: the plan does not fit this bench:\n  "
                            + "\n  ".join(problems[:10]) + more)
        return estimates

    def estimate_s(self, task: Task) -> float:
        estimate = self._estimates.get(task.key)
        return 1.0 if estimate is None else float(estimate)

    def _busy_s(self, task: Task) -> float:
        busy = self._busy.get(task.key)
        return self.estimate_s(task) if busy is None else float(busy)

    def planned_schedule(self) -> list[tuple[Task, float, float]]:
        """Each task with its estimated start and end (seconds of instrument time from the
        campaign's start), as the campaign will order them. Interleaved: one instrument set
        serves the runs' busy time, a waiting run's device stays busy until its last read,
        and each device takes the earliest start its lane allows."""
        if not self.scheduled:
            t, planned = 0.0, []
            for task in self.tasks:
                planned.append((task, t, t + self.estimate_s(task)))
                t += self.estimate_s(task)
            return planned
        lanes: dict[tuple[int, int], deque[Task]] = {d: deque() for d in self.plan.devices}
        for task in self.tasks:
            lanes[task.device].append(task)
        instruments_free, device_free = 0.0, dict.fromkeys(self.plan.devices, 0.0)
        planned = []
        while any(lanes.values()):
            device = min((d for d in lanes if lanes[d]), key=lambda d: max(device_free[d], instruments_free))
            task = lanes[device].popleft()
            start = max(device_free[device], instruments_free)
            span, busy = self.estimate_s(task), self._busy_s(task)
            instruments_free = start + busy
            device_free[device] = start + max(span, busy)
            planned.append((task, start, start + max(span, busy)))
        return planned

    def planned_total_s(self) -> float:
        """Estimated instrument time of the whole campaign, as it will be scheduled."""
        return max((end for _, _, end in self.planned_schedule()), default=0.0)

    def dry_run(self) -> str:
        mode = "interleaved" if self.scheduled else "sequential"
        lines = [f"campaign {self.plan.name}: {len(self.plan.devices)} devices x {self.plan.repeat} "
                 f"repeat(s) x {len(self.plan.steps)} steps = {len(self.tasks)} runs, schedule {mode}",
                 f"  {'task':<40} {'procedure':<24} {'estimate':>12} {'starts':>12} {'ends':>12}"]
        total = 0.0
        order = {task.key: i for i, task in enumerate(self.tasks)}
        for task, start, end in sorted(self.planned_schedule(), key=lambda item: (item[1], order[item[0].key])):
            est = self._estimates.get(task.key)
            total += est or 0.0
            when = "" if task.step.only_if is None else f"  only if {task.step.only_if}"
            lines.append(f"  {task.key:<40} {task.step.procedure.name:<24} "
                         f"{'?' if est is None else f'{est:.4g} s':>12} {_hms(start):>12} {_hms(end):>12}{when}")
        unknown = sum(1 for t in self.tasks if self._estimates.get(t.key) is None)
        planned = self.planned_total_s()
        lines.append(f"estimated instrument time: {planned:.4g} s ({planned / 3600:.3g} h) {mode}; "
                     f"one run after another: {total:.4g} s ({total / 3600:.3g} h)"
                     + (f", plus {unknown} runs that cannot be estimated in advance (counted as 1 s)"
                        if unknown else ""))
        return "\n".join(lines)

    # -- running ---------------------------------------------------------------------------
    def _open_manifest(self) -> Manifest:
        path = self.out_dir / MANIFEST
        digest = _plan_digest(self.plan)
        if path.exists():
            if not self.resume:
                raise PlanError(f"{self.out_dir} already holds a campaign; use --resume to continue "
                                "it or choose another --out folder")
            manifest = Manifest.load(path)
            if manifest.data.get("plan_digest") != digest:
                raise PlanError(f"{path}: it was made by a different plan; resume needs the same plan")
            for record in manifest.attempts:
                if record["status"] == "running":  # its process died mid-run
                    record["status"] = "interrupted"
                    record["error"] = "the campaign process died during this run; redone on resume"
            manifest.data["resumed"] = manifest.data.get("resumed", 0) + 1
            return manifest
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return Manifest(path, {
            "campaign": self.plan.name, "plan_source": self.plan.source, "plan_digest": digest,
            "started": _now(), "status": "running", "devices": self.plan.devices,
            "steps": [s.name for s in self.plan.steps], "tasks": [t.key for t in self.tasks],
            "attempts": [],
        })

    def _notify(self, method: str, *args: Any) -> None:
        for listener in self.listeners:
            getattr(listener, method, lambda *a: None)(*args)

    def run(self) -> CampaignResult:
        """Run (or resume) the campaign. Ctrl-C, SIGTERM and SIGHUP stop it with outputs off
        and the manifest final, then raise ``KeyboardInterrupt``."""
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            lock = self._lock()
        except OSError as exc:  # a file in the way, a read-only folder, a name too long
            raise PlanError(f"{self.out_dir}: cannot be used as the campaign folder "
                            f"({type(exc).__name__}: {exc.strerror or exc})") from None
        try:
            with self._signals:
                return self._run_locked()
        finally:
            lock.close()  # releases the lock

    def _lock(self) -> IO[str]:
        """Own the folder for this process: an exclusive flock, which goes with the process
        even on SIGKILL. Returns the open lock file; closing it releases the lock."""
        handle = open(self.out_dir / LOCK_FILE, "a+", encoding="utf-8")
        if fcntl is None:
            log.warning("%s: this system has no flock; nothing stops a second campaign in this folder",
                        self.out_dir)
            return handle
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise CampaignBusyError(f"{self.out_dir}: a campaign is already running in this folder "
                                    f"({holder}); wait for it to end or choose another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
        handle.flush()
        return handle

    def _run_locked(self) -> CampaignResult:
        manifest = self._open_manifest()
        if self.resume:
            self._repair_interrupted_files(manifest)
        handler = logging.FileHandler(self.out_dir / LOG_FILE)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger().addHandler(handler)
        status = "aborted"  # whatever stops it before a status is known (a second Ctrl-C too)
        t_clock = self.bench.clock.now()
        try:
            log.info("campaign %s: %d runs into %s%s", self.plan.name, len(self.tasks), self.out_dir,
                     " (resumed)" if self.resume else "")
            manifest.data["status"] = "running"
            manifest.save()
            status = self._run_tasks(manifest)
        except KeyboardInterrupt as exc:
            status = "aborted"
            manifest.data["error"] = stop_reason(exc)
            raise
        except Exception as exc:
            status = "failed"
            manifest.data["error"] = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, RunWriteError):  # a full disk: said in one line, not a bug
                log.error("campaign %s stopped: %s", self.plan.name, exc)
            else:
                log.exception("campaign %s stopped", self.plan.name)
            raise
        finally:
            with self._signals.deferred():  # the manifest ends final however often Ctrl-C comes
                for record in manifest.attempts:
                    if record.get("status") == "running":  # stopped between its run and its record
                        record["status"], record["error"] = "aborted", "stopped by a signal"
                manifest.data["status"] = status
                manifest.data["ended"] = _now()
                manifest.data["schedule"] = "interleaved" if self.scheduled else "sequential"
                if self.scheduled:
                    manifest.data["max_wait_delay_s"] = max(self.max_wait_delay_s,
                                                            float(manifest.data.get("max_wait_delay_s") or 0.0))
                session_s = self.bench.clock.now() - t_clock
                manifest.data["instrument_s"] = float(manifest.data.get("instrument_s") or 0.0) + session_s
                if self.safety_failures:
                    manifest.data["safety_failures"] = list(self.safety_failures)
                    manifest.data["error"] = "; ".join(self.safety_failures)
                try:
                    manifest.save()
                except ManifestWriteError as exc:  # said on the log and by the caller's status
                    log.error("%s", exc)
                    status = "failed"
                    self.manifest_error = str(exc)
                summary = self.summary(manifest)
                log.info("campaign %s %s\n%s", self.plan.name, status, summary)
                self._run_notify(status)
                logging.getLogger().removeHandler(handler)
                handler.close()
        return CampaignResult(status, self.out_dir, manifest.data, summary, list(self.safety_failures),
                              session_s)

    def _repair_interrupted_files(self, manifest: Manifest) -> None:
        """Make every run file of this folder openable by any HDF5 reader again: the file of a
        killed run still carries its dead writer's flags, and a run killed while its file was
        being created leaves a half-made temporary file."""
        for stale in self.out_dir.glob(".*.h5.creating"):
            log.warning("%s: removing the unfinished file of a run killed while it started", stale.name)
            stale.unlink(missing_ok=True)
        for path in sorted(self.out_dir.glob("*.h5")):
            try:
                if not writer_flags(path):
                    continue
                with RunReader(path) as reader:  # repairs it if its writer is gone
                    status = reader.status
                if writer_flags(path):
                    log.warning("%s: still flagged as open for writing (status %s); left as it is",
                                path.name, status)
            except (RunFileError, OSError, ValueError) as exc:
                log.warning("%s: cannot be repaired: %s", path.name, exc)

    def _run_tasks(self, manifest: Manifest) -> str:
        if self.scheduled:
            return self._run_scheduled(manifest)
        state = _Outcomes()
        for index, task in enumerate(self.tasks):
            settled = self._settle(manifest, task, state)
            if settled is _STOP:
                return "failed"
            if settled is not None:
                continue
            record = self._attempt(manifest, task, index)
            stop = self._account(task, record, state, manifest)
            if stop:
                return stop
        return state.status()

    def _settle(self, manifest: Manifest, task: Task, state: _Outcomes) -> dict[str, Any] | object | None:
        """A task that needs no run: done in an earlier session, or skipped. Returns its record
        (``_STOP`` when an earlier session's failure stops the campaign), None when it must run."""
        key = (task.device, task.repeat, task.step.name)
        previous = manifest.last(task.key)
        if previous is not None and previous["status"] in DONE_STATUSES:
            state.outcome[key] = previous
            self._notify("on_task_end", task, previous)
            state.failures += previous["status"] == "failed"
            if previous["status"] == "failed" and task.step.on_failure == "skip_device":
                state.skipped_devices.add(task.device)
            if previous["status"] == "failed" and task.step.on_failure == "stop":
                return _STOP
            return previous
        reason = self._skip_reason(task, state.skipped_devices, state.outcome)
        if reason:
            record = self._record(manifest, task, status=SKIPPED, error=reason)
            state.outcome[key] = record
            self._notify("on_task_end", task, record)
            return record
        return None

    def _account(self, task: Task, record: dict[str, Any], state: _Outcomes, manifest: Manifest) -> str | None:
        """A task's final record: the campaign's status if it must stop now, else None."""
        state.outcome[(task.device, task.repeat, task.step.name)] = record
        if record.get("write_failed"):
            manifest.data["error"] = f"{task.key}: the run file could not be written: {record['error']}"
            log.error("%s; the campaign stops (is the disk full?)", manifest.data["error"])
            return "failed"
        if record.get("safety_failure") and not self._outputs_verified_off_again():
            log.critical("%s: %s; the campaign stops: check the instruments before going on",
                         task.key, record["safety_failure"])
            return "failed"
        if record["status"] == "failed":
            state.failures += 1
            if task.step.on_failure == "stop":
                log.error("%s failed and on_failure is stop: the campaign stops", task.key)
                return "failed"
            if task.step.on_failure == "skip_device":
                log.warning("%s failed: skipping the rest of device %s", task.key, task.device)
                state.skipped_devices.add(task.device)
        return None

    # -- the scheduler ----------------------------------------------------------------------
    @property
    def scheduled(self) -> bool:
        """Whether runs are interleaved: the plan does not say sequential and some step waits."""
        return self.plan.schedule == "interleaved" and any(t.step.procedure.cooperative() for t in self.tasks)

    def _start_s(self, task: Task) -> float:
        """Instrument time a task holds the instruments from its start to its first pause."""
        if task.step.procedure.cooperative():
            return RUN_START_S  # it pauses right after starting, or soon with a Checkpoint
        estimate = self._estimates.get(task.key)
        return math.inf if estimate is None else estimate + RUN_START_S

    def _run_scheduled(self, manifest: Manifest) -> str:
        """Interleave the runs on the bench clock: always serve the earliest due Wait first; in
        the gap before it, resume a paused run (Checkpoint) or start a device's next task only
        when its instrument time ends before that read. Each device's tasks stay in plan order,
        one open run per device; only the run that holds the instruments has routes closed."""
        state = _Outcomes()
        lanes: dict[tuple[int, int], deque[tuple[int, Task, int]]] = {d: deque() for d in self.plan.devices}
        for index, task in enumerate(self.tasks):
            lanes[task.device].append((index, task, 1))
        open_runs: dict[tuple[int, int], _OpenRun] = {}
        holder: _OpenRun | None = None  # the run that used the instruments last
        clock = self.bench.clock
        stopped_by = "the campaign stopped"
        try:
            while True:
                for device, lane in lanes.items():  # tasks that need no run, at the head of free lanes
                    while lane and device not in open_runs:
                        index, task, attempt = lane[0]
                        if attempt > 1:
                            break
                        settled = self._settle(manifest, task, state)
                        if settled is _STOP:
                            return "failed"
                        if settled is None:
                            break
                        lane.popleft()
                now = clock.now()
                waits = [o for o in open_runs.values() if isinstance(o.pause, Wait)]
                next_due = min((o.pause.until_s for o in waits), default=math.inf)
                choice: _OpenRun | None = None
                if next_due <= now:
                    choice = min(waits, key=lambda o: (o.pause.until_s, o.index))
                    late_s = now - choice.pause.until_s
                    self.max_wait_delay_s = max(self.max_wait_delay_s, late_s)
                    if late_s > ON_TIME_S:
                        log.warning("%s: resumed %.3g s after its wait ended (tolerance %g s)",
                                    choice.task.key, late_s, ON_TIME_S)
                else:
                    gap = next_due - now
                    fillers = [o for o in open_runs.values()
                               if isinstance(o.pause, Checkpoint) and o.pause.busy_s + RUN_END_S <= gap]
                    if fillers:
                        choice = min(fillers, key=lambda o: o.index)
                    else:
                        for device, lane in lanes.items():
                            if device in open_runs or not lane or self._start_s(lane[0][1]) > gap:
                                continue
                            index, task, attempt = lane.popleft()
                            if holder is not None:  # before the new run's snapshot: its trace only
                                stop = self._suspend(holder, open_runs, lanes, state, manifest)
                                holder = None
                                if stop:
                                    return stop
                            opened = self._open_run(manifest, task, index, attempt)
                            if isinstance(opened, _OpenRun):
                                open_runs[device] = choice = opened
                            else:
                                stop = self._run_ended(opened, task, index, attempt, lanes, state, manifest)
                                if stop:
                                    return stop
                            break
                        else:
                            if waits:
                                if holder is not None:  # nothing stays routed through the wait
                                    stop = self._suspend(holder, open_runs, lanes, state, manifest)
                                    holder = None
                                    if stop:
                                        return stop
                                clock.sleep(next_due - now)
                                continue
                            if not any(lanes.values()) and not open_runs:
                                break
                            if not open_runs:
                                continue  # only settled tasks left
                        if choice is None:
                            continue
                if holder is not None and holder is not choice:
                    stop = self._suspend(holder, open_runs, lanes, state, manifest)
                    if stop:
                        return stop
                holder = choice
                try:
                    choice.pause = choice.run.advance()
                except KeyboardInterrupt as exc:
                    stopped_by = stop_reason(exc)
                    self._close_record(choice, manifest)
                    del open_runs[choice.task.device]
                    raise
                if choice.run.ended:
                    holder = None
                    del open_runs[choice.task.device]
                    record = self._close_record(choice, manifest)
                    stop = self._run_ended(record, choice.task, choice.index, choice.attempt, lanes, state, manifest)
                    if stop:
                        return stop
            return state.status()
        except KeyboardInterrupt as exc:
            stopped_by = stop_reason(exc)
            raise
        finally:
            with self._signals.deferred():  # paused runs end too: outputs off, status in their files
                for opened in list(open_runs.values()):
                    opened.run.abort(stopped_by)
                    self._close_record(opened, manifest)

    def _suspend(self, opened: _OpenRun, open_runs: dict, lanes: dict, state: _Outcomes,
                 manifest: Manifest) -> str | None:
        """Before another run takes the instruments: the last one opens its routes."""
        if opened.run.ended:
            return None
        opened.run.suspend()
        if not opened.run.ended:
            return None
        del open_runs[opened.task.device]  # releasing its relays failed: the run has ended
        record = self._close_record(opened, manifest)
        return self._run_ended(record, opened.task, opened.index, opened.attempt, lanes, state, manifest)

    def _open_run(self, manifest: Manifest, task: Task, index: int, attempt: int) -> _OpenRun | dict[str, Any]:
        """Start a task's run: its record says running; a run that cannot start returns its record."""
        procedure = task.step.make(task.device)
        filename = f"{_file_safe(task.key)}_a{attempt}_{run_filename(procedure)}"
        record = self._record(manifest, task, attempt=attempt, file=filename, status="running")
        self._notify("on_task_start", task, index, len(self.tasks), self.estimate_s(task))
        t_clock, t_wall = self.bench.clock.now(), time.monotonic()
        try:
            run = ActiveRun(procedure, self.bench, self.out_dir, filename=filename, operator=self.operator,
                            listeners=self.listeners,
                            extra={"campaign": self.plan.name, "campaign_task": task.key})
        except KeyboardInterrupt as exc:
            record["status"] = "aborted"
            record["error"] = stop_reason(exc)
            with self._signals.deferred():
                manifest.save()
            raise
        except Exception as exc:  # e.g. the bench lost an instrument before the run started
            record["status"], record["error"] = "failed", f"{type(exc).__name__}: {exc}"
            record["write_failed"] = isinstance(exc, RunWriteError)
            log.error("%s: %s", task.key, record["error"])
            with self._signals.deferred():
                record["ended"] = _now()
                manifest.save()
            self._notify("on_task_end", task, record)
            return record
        return _OpenRun(task, index, attempt, record, run, None, t_clock, t_wall)

    def _record_result(self, record: dict[str, Any], task: Task, result: RunResult) -> None:
        """A finished run's outcome in its manifest record; safety failures also stop the campaign."""
        record["status"], record["error"] = result.status, result.error
        record["file"] = result.path.name
        if result.write_failed:
            record["write_failed"] = True
        if result.safety_failures:
            record["safety_failure"] = "; ".join(result.safety_failures)
            self.safety_failures.extend(f"{task.key}: {m}" for m in result.safety_failures)

    def _close_record(self, opened: _OpenRun, manifest: Manifest) -> dict[str, Any]:
        """Write an ended run's outcome into its manifest record."""
        record, result = opened.record, opened.run.result
        with self._signals.deferred():
            if result is not None:
                self._record_result(record, opened.task, result)
            record["ended"] = _now()
            record["instrument_s"] = self.bench.clock.now() - opened.t_clock
            record["busy_s"] = opened.run.busy_s
            record["wall_s"] = time.monotonic() - opened.t_wall
            manifest.save()
        if record["status"] != "aborted":
            self._notify("on_task_end", opened.task, record)
        return record

    def _run_ended(self, record: dict[str, Any], task: Task, index: int, attempt: int, lanes: dict,
                   state: _Outcomes, manifest: Manifest) -> str | None:
        """A run ended: retry it first in its device's lane, or account for its task."""
        final = (record["status"] == "completed" or record.get("safety_failure") or record.get("write_failed")
                 or attempt > task.step.retries)
        if not final:
            log.warning("%s attempt %d %s (%s); retrying", task.key, attempt, record["status"], record["error"])
            lanes[task.device].appendleft((index, task, attempt + 1))
            return None
        return self._account(task, record, state, manifest)

    def _outputs_verified_off_again(self) -> bool:
        """After a safety failure: go on only if every output now reads back off."""
        report = self.bench.safe_shutdown()
        still = list(getattr(report, "safety_failures", None) or
                     [m for m in report if m.startswith(SAFETY_FAILURE)])
        if still:
            self.safety_failures.extend(f"after the run: {m}" for m in still)
            return False
        log.warning("every output reads back off again; the campaign goes on")
        return True

    def _skip_reason(self, task: Task, skipped: set, outcome: dict) -> str:
        if task.device in skipped:
            return "an earlier step of this device failed (on_failure: skip_device)"
        cond = task.step.only_if
        if cond is None:
            return ""
        earlier = outcome.get((task.device, task.repeat, cond.step))
        if earlier is None:
            return f"condition: step {cond.step} has not run"
        if cond.status is not None:
            return "" if earlier["status"] == cond.status else \
                f"condition: {cond.step} is {earlier['status']}, not {cond.status}"
        value = self._last_value(earlier.get("file"), cond.column)
        if value is None:
            return f"condition: no {cond.column} recorded by {cond.step}"
        if cond.above is not None and not value > cond.above:
            return f"condition: last {cond.column} {value:.4g} is not above {cond.above:g}"
        if cond.below is not None and not value < cond.below:
            return f"condition: last {cond.column} {value:.4g} is not below {cond.below:g}"
        return ""

    def _last_value(self, filename: str | None, column: str) -> float | None:
        if not filename:
            return None
        try:
            with RunReader(self.out_dir / filename) as reader:
                for stream in reader.streams():
                    if column in stream.columns and len(stream):
                        return float(stream.column(column, len(stream) - 1)[0])
        except (RunFileError, OSError):
            return None
        return None

    def _record(self, manifest: Manifest, task: Task, **fields: Any) -> dict[str, Any]:
        record = {"task": task.key, "device": list(task.device), "repeat": task.repeat,
                  "step": task.step.name, "procedure": task.step.procedure.name, "attempt": 0,
                  "file": None, "status": None, "error": "", "started": _now(), "ended": _now(),
                  "instrument_s": 0.0, "wall_s": 0.0}
        record.update(fields)
        manifest.attempts.append(record)
        manifest.save()
        return record

    def _attempt(self, manifest: Manifest, task: Task, index: int) -> dict[str, Any]:
        record: dict[str, Any] = {}
        for attempt in range(1, task.step.retries + 2):
            procedure = task.step.make(task.device)
            filename = f"{_file_safe(task.key)}_a{attempt}_{run_filename(procedure)}"
            record = self._record(manifest, task, attempt=attempt, file=filename, status="running")
            self._notify("on_task_start", task, index, len(self.tasks), self.estimate_s(task))
            t_clock, t_wall = self.bench.clock.now(), time.monotonic()
            try:
                result = run_procedure(procedure, self.bench, self.out_dir, filename=filename,
                                       operator=self.operator, listeners=self.listeners,
                                       extra={"campaign": self.plan.name, "campaign_task": task.key})
                self._record_result(record, task, result)
            except KeyboardInterrupt as exc:
                record["status"] = "aborted"
                record["error"] = stop_reason(exc)
                raise
            except Exception as exc:  # e.g. the bench lost an instrument before the run started
                record["status"], record["error"] = "failed", f"{type(exc).__name__}: {exc}"
                record["write_failed"] = isinstance(exc, RunWriteError)
                log.error("%s: %s", task.key, record["error"])
            finally:
                with self._signals.deferred():
                    record["ended"] = _now()
                    record["instrument_s"] = self.bench.clock.now() - t_clock
                    record["wall_s"] = time.monotonic() - t_wall
                    manifest.save()
                if record["status"] != "aborted":
                    self._notify("on_task_end", task, record)
            if record["status"] == "completed" or record.get("safety_failure") or record.get("write_failed"):
                break
            if attempt <= task.step.retries:
                log.warning("%s attempt %d %s (%s); retrying", task.key, attempt, record["status"],
                            record["error"])
        return record

    def _run_notify(self, status: str) -> None:
        if not self.plan.notify:
            return
        env = dict(os.environ, MEMLAB_CAMPAIGN=self.plan.name, MEMLAB_CAMPAIGN_STATUS=status,
                   MEMLAB_CAMPAIGN_DIR=str(self.out_dir.resolve()),
                   MEMLAB_CAMPAIGN_SAFETY_FAILURE="; ".join(self.safety_failures))
        try:
            done = subprocess.run(self.plan.notify, shell=True, env=env, timeout=60,
                                  capture_output=True, text=True)
            if done.returncode:
                log.warning("notify command exited %d: %s", done.returncode, done.stderr.strip())
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("notify command failed: %s", exc)

    def summary(self, manifest: Manifest | None = None) -> str:
        """A table of devices x steps with each run's status (the last of each repeat)."""
        manifest = manifest or Manifest.load(self.out_dir / MANIFEST)
        steps = [s.name for s in self.plan.steps]
        short = {"completed": "ok", "failed": "FAILED", "aborted": "aborted", SKIPPED: "skip",
                 "interrupted": "interrupted", "running": "running"}
        width = max(10, *(len(s) + 2 for s in steps))
        lines = [f"{'device':<10}" + "".join(f"{s:>{width}}" for s in steps)]
        for device in self.plan.devices:
            cells = []
            for step in steps:
                states = [manifest.last(f"r{device[0]}c{device[1]}/rep{rep}/{step}")
                          for rep in range(self.plan.repeat)]
                text = "/".join(short.get(r["status"], r["status"]) if r else "-" for r in states)
                cells.append(f"{text:>{width}}")
            lines.append(f"({device[0]},{device[1]})".ljust(10) + "".join(cells))
        counts: dict[str, int] = {}
        for task in self.tasks:
            last = manifest.last(task.key)
            state = last["status"] if last else "not run"
            counts[state] = counts.get(state, 0) + 1
        lines.append("runs: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        return "\n".join(lines)
