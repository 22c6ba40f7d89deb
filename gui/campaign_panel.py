"""The campaign tab: build or open a plan, check it as the command line does, run and resume it.

The plan is YAML (the format of ``memlab campaign``, see docs/campaigns.md). The builder edits
that text: steps come from the procedure forms, devices from the chip-map selection; the text can
also be edited by hand (conditions, notify). Checking uses the same code as the command line
(:func:`~memlab.procedures.plan.parse_plan` and :class:`~memlab.procedures.campaign.Campaign`,
whose dry run gives the estimate). On a simulated bench the campaign runs in a worker process
(:class:`~memlab.procedures.process_run.ProcessCampaignHandle`), as ``memlab campaign`` would run
it, so the window never waits for the simulation however long the night; on a real bench (whose
instrument sessions belong to this process) in a thread. Either way its runs show in the live
plots, and progress is a devices x steps grid.
The plan and its folder are kept in the settings, so after a restart the campaign is shown again
and an unfinished one can be resumed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from PySide6 import QtCore, QtGui, QtWidgets

from memlab.gui.controller import Controller
from memlab.gui.procedure_panel import format_duration
from memlab.gui.widgets import ElidedLabel
from memlab.procedures import get_procedure
from memlab.procedures.campaign import MANIFEST, Campaign, CampaignAborted, CampaignListener, Manifest
from memlab.procedures.plan import ON_FAILURE, Plan, PlanError, parse_plan
from memlab.procedures.process_run import ProcessCampaignHandle, class_problem
from memlab.procedures.signals import stop_reason

log = logging.getLogger("memlab.gui")

STATUS_COLOURS = {"completed": "#a5d6a7", "failed": "#ef9a9a", "aborted": "#ffcc80", "skipped": "#e0e0e0",
                  "interrupted": "#ffcc80", "running": "#90caf9"}
ON_FAILURE_TEXT = {"stop": "stop (hold)", "skip_device": "skip that device",
                   "continue": "go on"}
_DEVICE_PARAMS = ("row", "col", "devices")
SHORT_STATUS = {"completed": "ok", "failed": "FAILED", "aborted": "aborted", "skipped": "skip",
                "interrupted": "interrupted", "running": "running…"}
"""What a grid cell says (narrow columns); the full status and error are in its tooltip."""


class _Listener(CampaignListener):
    """Forwards a campaign's task starts and ends to the GUI thread, its runs to the live plots,
    and raises :class:`CampaignAborted` at the next event once abort was asked."""

    def __init__(self, runner: CampaignRunner, live: Any) -> None:
        self.runner, self.live = runner, live

    def _check(self) -> None:
        if self.runner.abort_event.is_set():
            raise CampaignAborted("aborted from the dashboard")

    def on_task_start(self, task: Any, index: int, total: int, estimate_s: float) -> None:
        self._check()
        self.runner.task_started.emit(task.key, index, total)

    def on_task_end(self, task: Any, record: dict[str, Any]) -> None:
        self.runner.task_ended.emit(task.key, dict(record))

    def on_start(self, info: Any) -> None:
        self.live.on_start(info)

    def on_batch(self, stream: str, batch: Any) -> None:
        self.live.on_batch(stream, batch)
        self._check()

    def on_log(self, level: int, message: str) -> None:
        self.live.on_log(level, message)

    def on_progress(self, done: float, total: float, eta_s: float | None) -> None:
        self.live.on_progress(done, total, eta_s)
        self._check()

    def on_finish(self, status: str, error: str, path: str) -> None:
        self.live.on_finish(status, error, path)


class CampaignRunner(QtCore.QObject):
    """One campaign run in a thread of the dashboard (a real bench); what it reports comes to the
    GUI thread as signals."""

    task_started = QtCore.Signal(str, int, int)   # task key, index, total
    task_ended = QtCore.Signal(str, dict)         # task key, manifest record
    finished = QtCore.Signal(str, str)            # campaign status, error

    def __init__(self, campaign: Campaign, live: Any, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.campaign = campaign
        self.abort_event = threading.Event()
        campaign.listeners.append(_Listener(self, live))
        self._thread = threading.Thread(target=self._run, name="memlab-campaign", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def abort(self) -> None:
        self.abort_event.set()

    def kill(self) -> bool:
        """A thread cannot be killed: returns False (the caller switches the outputs off beside it)."""
        return False

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)

    def clock_now(self) -> float:
        """The bench clock of the campaign's bench."""
        return self.campaign.bench.clock.now()

    def _run(self) -> None:
        try:
            result = self.campaign.run()
            self.finished.emit(result.status, "")
        except KeyboardInterrupt as exc:  # CampaignAborted, or a stop signal
            self.finished.emit("aborted", stop_reason(exc))
        except BaseException as exc:  # noqa: BLE001 - reported in the GUI; the thread ends either way
            self.finished.emit("failed", f"{type(exc).__name__}: {exc}")


class ProcessCampaignRunner(QtCore.QObject):
    """One campaign run in a worker process (a simulated bench), with :class:`CampaignRunner`'s
    signals and methods. ``worker_listeners`` run in the worker (they must pickle)."""

    task_started = QtCore.Signal(str, int, int)
    task_ended = QtCore.Signal(str, dict)
    finished = QtCore.Signal(str, str)

    def __init__(self, campaign: Campaign, plan_text: str, live: Any, *, operator: str | None,
                 worker_listeners: Sequence[Any] = (), parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.campaign = campaign
        self._args = (plan_text, campaign.plan.source, campaign.plan.name, campaign.bench, campaign.out_dir)
        self._kwargs = {"resume": campaign.resume, "operator": operator, "worker_listeners": list(worker_listeners),
                        "listeners": [live, self], "on_end": self._handle_ended}
        self.handle: ProcessCampaignHandle | None = None
        self._starting = threading.Lock()  # a worker that ends at once waits for self.handle

    def start(self) -> None:
        """Start the worker (raises if it cannot start; nothing ran then)."""
        with self._starting:
            self.handle = ProcessCampaignHandle(*self._args, **self._kwargs)

    # the worker's task events, in the handle's reader thread: signals queue them to the GUI thread
    def on_task_started(self, key: str, index: int, total: int, estimate_s: float, clock_s: float) -> None:
        self.task_started.emit(key, index, total)

    def on_task_ended(self, key: str, record: dict[str, Any], clock_s: float) -> None:
        self.task_ended.emit(key, dict(record))

    def _handle_ended(self) -> None:
        with self._starting:
            handle = self.handle
        if handle.exception is not None:
            exc = handle.exception
            self.finished.emit("failed", f"{type(exc).__name__}: {exc}")
        else:
            status, error = handle.result or ("failed", "the worker ended without a result")
            self.finished.emit(status, error)

    def abort(self) -> None:
        if self.handle is not None:
            self.handle.abort()

    def kill(self) -> bool:
        """End the worker at once (SIGKILL); returns whether there was one to kill."""
        return self.handle is not None and self.handle.kill()

    def join(self, timeout_s: float) -> None:
        if self.handle is not None:
            self.handle.wait_ended(timeout_s)

    def clock_now(self) -> float:
        """The worker's bench clock, as it last said."""
        return self.handle.clock_s if self.handle is not None else self.campaign.bench.clock.now()

    @property
    def pid(self) -> int | None:
        return self.handle.pid if self.handle is not None else None


def plan_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def changed_values(procedure: str, values: dict[str, Any]) -> dict[str, Any]:
    """The values that differ from the procedure's defaults, without the device parameters (the
    campaign points each run at its device): a plan that reads like what was chosen."""
    cls = get_procedure(procedure)
    out = {}
    for param in cls.parameters:
        if param.name in _DEVICE_PARAMS or param.name not in values:
            continue
        if values[param.name] != param.default:
            out[param.name] = values[param.name]
    return out


class CampaignPanel(QtWidgets.QWidget):
    """See the module docstring."""

    campaign_ended = QtCore.Signal(str, str)  # status, folder
    device_state = QtCore.Signal(tuple, str)  # (row, col), "ok" or "failed": a forming step's outcome

    def __init__(self, controller: Controller, settings: QtCore.QSettings,
                 current_form: Callable[[], tuple[str, dict[str, Any]]],
                 selected_devices: Callable[[], list[tuple[int, int]]],
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller, self.settings = controller, settings
        self.current_form, self.selected_devices = current_form, selected_devices
        self.campaign: Campaign | None = None
        self.runner: CampaignRunner | None = None
        self.plan_path: Path | None = None
        self.task_index: dict[str, int] = {}
        self._records: dict[str, dict[str, Any]] = {}
        self._started_wall = 0.0
        self._started_clock = 0.0
        self._ended_here = 0
        self._planned_ends: dict[str, float] | None = None  # an interleaved campaign's planned task ends

        # -- the plan -----------------------------------------------------------------------------
        self.open_button = QtWidgets.QPushButton("Open plan…")
        self.open_button.clicked.connect(self._open_dialog)
        self.save_button = QtWidgets.QPushButton("Save plan as…")
        self.save_button.clicked.connect(self._save_dialog)
        self.new_button = QtWidgets.QPushButton("New")
        self.new_button.setToolTip("Start an empty plan")
        self.new_button.clicked.connect(self.new_plan)
        self.name_edit = QtWidgets.QLineEdit("campaign")
        self.name_edit.setObjectName("campaign_name")
        self.name_edit.setToolTip("The campaign's name (also the default folder name)")
        self.name_edit.editingFinished.connect(lambda: self._edit(lambda d: d.__setitem__("name", self.name_edit.text().strip() or "campaign")))
        self.add_step_button = QtWidgets.QPushButton("Add the form as a step")
        self.add_step_button.setObjectName("add_step_button")
        self.add_step_button.setToolTip("The procedure and values now in the Procedure panel become the plan's next step")
        self.add_step_button.clicked.connect(self.add_current_step)
        self.on_failure = QtWidgets.QComboBox()
        self.on_failure.setObjectName("campaign_on_failure")
        for key in ON_FAILURE:
            self.on_failure.addItem(f"On failure: {ON_FAILURE_TEXT[key]}", key)
        self.on_failure.setCurrentIndex(list(ON_FAILURE).index("skip_device"))
        self.on_failure.setToolTip("What the campaign does when a run of a step fails (for the steps added from now on; "
                                   "each step's on_failure can be edited in the text)")
        self.retries = QtWidgets.QSpinBox()
        self.retries.setRange(0, 100)
        self.retries.setPrefix("retries: ")
        self.retries.setToolTip("Extra attempts of a failed run, for the steps added from now on")
        self.devices_button = QtWidgets.QPushButton("Devices from chip map")
        self.devices_button.setObjectName("devices_button")
        self.devices_button.setToolTip("The devices selected on the chip map become the plan's devices")
        self.devices_button.clicked.connect(self.use_selected_devices)
        self.repeat = QtWidgets.QSpinBox()
        self.repeat.setObjectName("campaign_repeat")
        self.repeat.setRange(1, 100_000)
        self.repeat.setPrefix("repeat: ")
        self.repeat.setToolTip("How many times each device gets the whole sequence of steps")
        self.repeat.valueChanged.connect(lambda n: self._edit(lambda d: d.__setitem__("repeat", int(n))))
        self.text = QtWidgets.QPlainTextEdit()
        self.text.setObjectName("plan_text")
        self.text.setPlaceholderText("The plan, in YAML: build it with the buttons above, open a file, or type it.")
        self.text.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.textChanged.connect(self._plan_edited)
        self.out_edit = QtWidgets.QLineEdit()
        self.out_edit.setObjectName("campaign_out")
        self.out_edit.setToolTip("Folder of the campaign's run files and manifest")
        self.out_edit.setPlaceholderText("folder (default: the run folder / the campaign's name)")
        self.check_button = QtWidgets.QPushButton("Check && estimate")
        self.check_button.setObjectName("check_button")
        self.check_button.setToolTip("The command line's checks (memlab campaign --dry-run) against the connected bench")
        self.check_button.clicked.connect(self.check)
        self.run_button = QtWidgets.QPushButton("▶ Run")
        self.run_button.setObjectName("campaign_run")
        self.run_button.clicked.connect(lambda: self.run(resume=False))
        self.resume_button = QtWidgets.QPushButton("Resume")
        self.resume_button.setObjectName("campaign_resume")
        self.resume_button.setToolTip("Go on with an interrupted campaign in this folder: finished runs are not redone")
        self.resume_button.clicked.connect(lambda: self.run(resume=True))
        self.abort_button = QtWidgets.QPushButton("Abort")
        self.abort_button.clicked.connect(self.abort)
        self.message = QtWidgets.QPlainTextEdit()
        self.message.setObjectName("campaign_message")
        self.message.setReadOnly(True)
        self.message.setMaximumBlockCount(2000)
        self.message.setLineWrapMode(QtWidgets.QPlainTextEdit.LineWrapMode.NoWrap)

        # -- progress -------------------------------------------------------------------------------
        self.state = ElidedLabel("No campaign yet.")
        self.state.setObjectName("campaign_state")
        self.state.setStyleSheet("font-weight: bold;")
        self.time_left = ElidedLabel("")
        self.time_left.setObjectName("campaign_time_left")
        self.progress = QtWidgets.QProgressBar()
        self.progress.setObjectName("campaign_progress")
        self.grid = QtWidgets.QTableWidget(0, 0)
        self.grid.setObjectName("campaign_grid")
        self.grid.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.grid.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.grid.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.grid.horizontalHeader().setMinimumSectionSize(60)
        self.grid.verticalHeader().setDefaultSectionSize(22)

        plan_buttons = QtWidgets.QGridLayout()
        for column, widget in enumerate((self.new_button, self.open_button, self.save_button)):
            plan_buttons.addWidget(widget, 0, column)
        plan_buttons.addWidget(QtWidgets.QLabel("Name"), 1, 0)
        plan_buttons.addWidget(self.name_edit, 1, 1, 1, 2)
        build = QtWidgets.QGridLayout()
        build.addWidget(self.add_step_button, 0, 0, 1, 2)
        build.addWidget(self.on_failure, 1, 0)
        build.addWidget(self.retries, 1, 1)
        build.addWidget(self.devices_button, 2, 0)
        build.addWidget(self.repeat, 2, 1)
        build.setColumnStretch(0, 1)
        run_row = QtWidgets.QHBoxLayout()
        run_row.addWidget(QtWidgets.QLabel("Folder"))
        run_row.addWidget(self.out_edit, 1)
        actions = QtWidgets.QHBoxLayout()
        for widget in (self.check_button, self.run_button, self.resume_button, self.abort_button):
            actions.addWidget(widget)
        actions.addStretch(1)
        left = QtWidgets.QWidget()
        left_layout = QtWidgets.QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(plan_buttons)
        left_layout.addLayout(build)
        left_layout.addWidget(self.text, 3)
        left_layout.addLayout(run_row)
        left_layout.addLayout(actions)
        left_layout.addWidget(self.message, 2)
        right = QtWidgets.QWidget()
        right_layout = QtWidgets.QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.state)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(self.time_left)
        right_layout.addWidget(self.grid, 1)
        splitter = QtWidgets.QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([1000, 1000])  # half each, whatever the two sides would like
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self.tray: QtWidgets.QSystemTrayIcon | None = None
        controller.running_changed.connect(lambda _: self._update_buttons())
        controller.bench_changed.connect(lambda _: self._update_buttons())
        self._restore()
        self._update_buttons()

    # -- the plan as data ----------------------------------------------------------------------
    def plan_data(self) -> dict[str, Any]:
        """The plan text as a mapping (an empty plan if the text is empty); raises PlanError."""
        text = self.text.toPlainText()
        if not text.strip():
            return {"name": self.name_edit.text().strip() or "campaign", "devices": [], "steps": []}
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PlanError(f"the plan text is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise PlanError("the plan text must be a mapping with devices and steps")
        return data

    def _edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        try:
            data = self.plan_data()
        except PlanError as exc:
            self._say(str(exc), error=True)
            return
        change(data)
        self.set_plan_text(plan_yaml(data))

    def set_plan_text(self, text: str) -> None:
        self.text.blockSignals(True)
        self.text.setPlainText(text)
        self.text.blockSignals(False)
        self._plan_edited()

    def _plan_edited(self) -> None:
        self.campaign = None  # a changed plan must be checked again before it runs
        try:
            data = self.plan_data()
        except PlanError:
            data = {}
        for widget, value in ((self.name_edit, data.get("name")), (self.repeat, data.get("repeat", 1))):
            widget.blockSignals(True)
            if isinstance(widget, QtWidgets.QLineEdit) and isinstance(value, str):
                widget.setText(value)
            elif isinstance(widget, QtWidgets.QSpinBox) and isinstance(value, int):
                widget.setValue(value)
            widget.blockSignals(False)
        self.settings.setValue("campaign/plan", self.text.toPlainText())
        self._update_buttons()

    def new_plan(self) -> None:
        self.plan_path = None
        self.set_plan_text("")
        self.grid.setRowCount(0)
        self.grid.setColumnCount(0)

    def add_current_step(self) -> None:
        procedure, values = self.current_form()
        params = changed_values(procedure, values)

        def add(data: dict[str, Any]) -> None:
            steps = data.setdefault("steps", []) or []
            data["steps"] = steps
            names = {s.get("name", s.get("procedure")) for s in steps if isinstance(s, dict)}
            name, n = procedure, 2
            while name in names:  # step names are unique in a plan
                name, n = f"{procedure}-{n}", n + 1
            step: dict[str, Any] = {"procedure": procedure}
            if name != procedure:
                step["name"] = name
            if params:
                step["params"] = params
            if self.retries.value():
                step["retries"] = self.retries.value()
            step["on_failure"] = self.on_failure.currentData()
            steps.append(step)

        self._edit(add)

    def use_selected_devices(self) -> None:
        devices = self.selected_devices()
        if not devices:
            self._say("Select devices on the chip map first (click, or drag over several).", error=True)
            return
        self._edit(lambda d: d.__setitem__("devices", [[int(r), int(c)] for r, c in devices]))

    # -- files -----------------------------------------------------------------------------------
    def open_plan(self, path: str | Path) -> None:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            self._say(f"cannot read {path}: {exc.strerror}", error=True)
            return
        self.plan_path = path
        self.settings.setValue("campaign/plan_path", str(path))
        self.set_plan_text(text)
        self._say(f"opened {path}")

    def save_plan(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.text.toPlainText())
        self.plan_path = path
        self.settings.setValue("campaign/plan_path", str(path))
        self._say(f"saved {path}")
        return path

    def _open_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a campaign plan", "", "Plans (*.yaml *.yml)")
        if path:
            self.open_plan(path)

    def _save_dialog(self) -> None:
        start = str(self.plan_path or f"{self.name_edit.text() or 'campaign'}.yaml")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save the campaign plan", start, "Plans (*.yaml)")
        if path:
            self.save_plan(path)

    # -- checking and running ------------------------------------------------------------------
    def out_dir(self) -> Path:
        text = self.out_edit.text().strip()
        if text:
            return Path(text)
        try:
            name = str(self.plan_data().get("name") or "campaign")
        except PlanError:
            name = "campaign"
        return self.controller.out_dir / name

    def _source(self) -> str:
        return str(self.plan_path) if self.plan_path else "<plan>"

    def make_campaign(self, resume: bool = False) -> Campaign:
        """The command line's checks: parse the plan, then fit it to the bench (every run's
        parameters against the bench's limits and chip). Raises PlanError."""
        bench = self.controller.bench
        if bench is None:
            raise PlanError("connect the bench first: the plan is checked against its limits and chip")
        plan: Plan = parse_plan(self.text.toPlainText(), self._source())
        return Campaign(plan, bench, self.out_dir(), resume=resume, operator=self.controller.operator)

    def check(self) -> Campaign | None:
        try:
            campaign = self.make_campaign()
        except (PlanError, ValueError) as exc:
            self.campaign = None
            self._say(f"The plan cannot run: {exc}", error=True)
            return None
        self.campaign = campaign
        dry_run = campaign.dry_run()
        self._say(dry_run)
        self._setup_grid(campaign)
        self._load_manifest()
        summary = dry_run.splitlines()
        self.state.setText(f"Plan {campaign.plan.name}: {summary[0].split(': ', 1)[-1]}")
        self.time_left.setText(summary[-1][:1].upper() + summary[-1][1:])  # the dry run's estimate
        return campaign

    def run(self, resume: bool = False) -> None:
        if self.runner is not None:
            return
        try:
            campaign = self.make_campaign(resume=resume)
            if not resume and (campaign.out_dir / MANIFEST).exists():
                raise PlanError(f"{campaign.out_dir} already holds a campaign: Resume it, or choose another folder")
            if resume and not (campaign.out_dir / MANIFEST).exists():
                raise PlanError(f"{campaign.out_dir} holds no campaign to resume: press Run")
            listener = self.controller.begin_external(self, f"campaign {campaign.plan.name}")
        except (PlanError, ValueError, RuntimeError) as exc:
            self._say(f"The campaign cannot start: {exc}", error=True)
            return
        self.campaign = campaign
        self.settings.setValue("campaign/out_dir", str(campaign.out_dir))
        self.settings.setValue("campaign/plan", self.text.toPlainText())
        self._setup_grid(campaign)
        self._load_manifest()
        self._started_wall = time.monotonic()
        self._ended_here = 0  # runs ended since this start (a virtual clock's time left counts them)
        self._started_clock = campaign.bench.clock.now()
        self._planned_ends = ({task.key: end for task, _, end in campaign.planned_schedule()}
                              if campaign.scheduled else None)
        try:
            runner = self._make_runner(campaign, listener)
            runner.task_started.connect(self._task_started)
            runner.task_ended.connect(self._task_ended)
            runner.finished.connect(self._finished)
            runner.start()
        except Exception as exc:  # noqa: BLE001 - e.g. the worker could not start: said, nothing ran
            self.controller.end_external(self)
            self._say(f"The campaign cannot start: {type(exc).__name__}: {exc}", error=True)
            self._update_buttons()
            return
        self.runner = runner
        in_worker = isinstance(runner, ProcessCampaignRunner)
        where = f"worker process {runner.pid}" if in_worker else "a thread of the dashboard"
        self._say(f"campaign {campaign.plan.name} {'resumed' if resume else 'started'} in {where}: "
                  f"{len(campaign.tasks)} runs into {campaign.out_dir}")
        self.state.setText(f"Campaign {campaign.plan.name}: running")
        self._update_buttons()

    def _make_runner(self, campaign: Campaign, live: Any) -> CampaignRunner | ProcessCampaignRunner:
        """A worker process where the dashboard runs its runs in one (a simulated bench), else a thread."""
        controller = self.controller
        in_process = controller.in_process(campaign.bench)
        problems = {p for p in (class_problem(step.procedure) for step in campaign.plan.steps) if p}
        if in_process and problems and controller.run_mode == "auto":
            in_process = False
            self._say("the campaign runs in a thread of the dashboard, not in a worker process: "
                      + "; ".join(sorted(problems)), error=True)
        if in_process:
            return ProcessCampaignRunner(campaign, self.text.toPlainText(), live, operator=controller.operator,
                                         worker_listeners=controller.extra_listeners, parent=self)
        campaign.listeners.extend(controller.extra_listeners)  # e.g. tests that pace a run
        return CampaignRunner(campaign, live, self)

    def abort(self) -> None:
        if self.runner is not None:
            self.runner.abort()
            self._say("abort asked: the campaign stops at its next step (the run is recorded aborted)")

    def kill(self) -> bool:
        """End a campaign's worker process at once (it did not stop on abort); False in a thread."""
        if self.runner is not None and self.runner.kill():
            self._say("the campaign's worker process did not stop: killed; its run is redone on resume", error=True)
            return True
        return False

    # the Controller's view of a campaign that owns the bench
    def join(self, timeout_s: float) -> None:
        if self.runner is not None:
            self.runner.join(timeout_s)
            QtWidgets.QApplication.processEvents()

    # -- progress --------------------------------------------------------------------------------
    def _setup_grid(self, campaign: Campaign) -> None:
        plan = campaign.plan
        self.task_index = {task.key: i for i, task in enumerate(campaign.tasks)}
        self._records = {}
        self.grid.clear()
        self.grid.setRowCount(len(plan.devices))
        self.grid.setColumnCount(len(plan.steps))
        self.grid.setHorizontalHeaderLabels([s.name for s in plan.steps])
        self.grid.setVerticalHeaderLabels([f"({r},{c})" for r, c in plan.devices])
        for row in range(len(plan.devices)):
            for column in range(len(plan.steps)):
                item = QtWidgets.QTableWidgetItem("-")
                item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
                self.grid.setItem(row, column, item)
        self.progress.setRange(0, max(1, len(campaign.tasks)))
        self.progress.setValue(0)

    def _load_manifest(self) -> None:
        """Show what an earlier (or interrupted) run of this campaign already did."""
        if self.campaign is None:
            return
        path = self.campaign.out_dir / MANIFEST
        if not path.exists():
            return
        try:
            manifest = Manifest.load(path)
        except (OSError, ValueError) as exc:
            self._say(f"cannot read {path}: {exc}", error=True)
            return
        for record in manifest.attempts:
            status = record.get("status")
            if status == "running":  # the process died during it; resume redoes it
                record = {**record, "status": "interrupted"}
            self._show_record(record.get("task", ""), record)
        self._update_time_left()

    def _cell(self, key: str) -> tuple[int, int] | None:
        if self.campaign is None or key not in self.task_index:
            return None
        task = self.campaign.tasks[self.task_index[key]]
        plan = self.campaign.plan
        return plan.devices.index(task.device), [s.name for s in plan.steps].index(task.step.name)

    def _show_record(self, key: str, record: dict[str, Any]) -> None:
        cell = self._cell(key)
        if cell is None:
            return
        self._records[key] = record
        status = str(record.get("status") or "")
        task = self.campaign.tasks[self.task_index[key]]
        # with repeats, the cell shows each repeat's latest status
        repeats = [self._records.get(f"r{task.device[0]}c{task.device[1]}/rep{rep}/{task.step.name}")
                   for rep in range(self.campaign.plan.repeat)]
        text = "/".join(SHORT_STATUS.get(str(r.get("status")), str(r.get("status"))) if r else "-" for r in repeats)
        item = self.grid.item(*cell)
        item.setText(text)
        item.setData(QtCore.Qt.ItemDataRole.UserRole, status)
        item.setBackground(QtGui.QColor(STATUS_COLOURS.get(status, "#ffffff")))
        tip = f"{key}: {status}" + (f"\n{record.get('error')}" if record.get("error") else "")
        if record.get("file"):
            tip += f"\n{record['file']}"
        item.setToolTip(tip)
        done = sum(1 for r in self._records.values() if r.get("status") in ("completed", "failed", "skipped"))
        self.progress.setValue(done)

    def _task_started(self, key: str, index: int, total: int) -> None:
        self._show_record(key, {"status": "running"})
        self.state.setText(f"Running {index + 1} of {total}: {key}")
        self.controller._set_current(f"campaign {self.campaign.plan.name}: {key}")
        self._update_time_left()

    def _task_ended(self, key: str, record: dict[str, Any]) -> None:
        self._ended_here += 1
        self._show_record(key, record)
        # the chip map shows which devices formed: a forming step that failed marks its device
        if record.get("procedure") == "forming" and record.get("status") in ("completed", "failed"):
            device = tuple(int(v) for v in record.get("device", ()))
            if len(device) == 2:
                self.device_state.emit(device, "ok" if record["status"] == "completed" else "failed")
        self._update_time_left()

    def _left_tasks(self) -> list:
        return [t for t in self.campaign.tasks
                if self._records.get(t.key, {}).get("status") not in ("completed", "failed", "skipped")]

    def instrument_time_left_s(self) -> float:
        """Instrument time the campaign still needs: the estimates of the runs still to do, or,
        interleaved, the planned end of the last of them less the instrument time gone since
        the start (the runs overlap, so their estimates do not add up)."""
        campaign, left = self.campaign, self._left_tasks()
        if self._planned_ends and self.runner is not None:
            clock_spent = self.runner.clock_now() - self._started_clock
            return max(max(self._planned_ends.get(t.key, 0.0) for t in left) - clock_spent, 0.0) if left else 0.0
        return sum(campaign.estimate_s(t) for t in left)

    def _update_time_left(self) -> None:
        """Time left: the instrument time still needed, scaled by how long the bench has taken
        for its instrument time so far (on a virtual clock: see :meth:`_virtual_time_left`)."""
        campaign = self.campaign
        if campaign is None:
            return
        left_tasks = self._left_tasks()
        if not left_tasks:
            self.time_left.setText("Time left: none")
            return
        left_s = self.instrument_time_left_s()
        if getattr(campaign.bench.clock, "virtual", False):
            self._virtual_time_left(left_s, len(left_tasks))
            return
        if self._planned_ends and self.runner is not None:
            clock_spent = self.runner.clock_now() - self._started_clock
            wall_spent = time.monotonic() - self._started_wall
            ratio = wall_spent / clock_spent if clock_spent > 0 and wall_spent > 0 else 1.0
        else:
            finished = [k for k, r in self._records.items() if r.get("status") in ("completed", "failed")]
            spent_estimate = sum(campaign.estimate_s(campaign.tasks[self.task_index[k]]) for k in finished)
            spent_wall = sum(float(self._records[k].get("wall_s") or 0.0) for k in finished)
            ratio = spent_wall / spent_estimate if spent_estimate > 0 and spent_wall > 0 else 1.0
        seconds = left_s * ratio
        finish = datetime.now() + timedelta(seconds=seconds)
        self.time_left.setText(f"Time left: about {format_duration(seconds)}, {len(left_tasks)} runs "
                               f"(finishes about {finish.strftime('%a %H:%M')}; "
                               f"{format_duration(left_s)} of instrument time)")

    def _virtual_time_left(self, left_s: float, runs_left: int) -> None:
        """On a virtual clock (the simulated bench) waits take no time, so instrument time says
        little about the wall time: that is counted from the wall time per run so far instead."""
        instrument = f"{format_duration(left_s)} of virtual instrument time"
        if self.runner is None or not self._ended_here:
            self.time_left.setText(f"Time left: {runs_left} runs, {instrument} (the simulation runs faster)")
            return
        seconds = (time.monotonic() - self._started_wall) / self._ended_here * runs_left
        finish = datetime.now() + timedelta(seconds=seconds)
        self.time_left.setText(f"Time left: about {format_duration(seconds)}, {runs_left} runs "
                               f"(finishes about {finish.strftime('%a %H:%M')}; {instrument})")

    def _finished(self, status: str, error: str) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            runner.join(5.0)
        self.controller.end_external(self)
        name = self.campaign.plan.name if self.campaign else "campaign"
        self.state.setText(f"Campaign {name}: {status}" + (f" ({error})" if error else ""))
        self._say(f"campaign {name} {status}" + (f": {error}" if error else ""), error=status not in ("completed",))
        if self.campaign is not None:
            self._load_manifest()  # the final statuses, e.g. of a run stopped by the abort (no task end for it)
            try:
                self._say(self.campaign.summary())
            except (OSError, ValueError, KeyError):
                pass
        self._update_time_left()
        self._update_buttons()
        self.notify(f"Campaign {name} {status}", error or f"Runs and manifest in {self.out_dir()}")
        self.campaign_ended.emit(status, str(self.out_dir()))

    def notify(self, title: str, text: str) -> bool:
        """A desktop notification, where the desktop offers one (returns whether it was shown)."""
        if not QtWidgets.QSystemTrayIcon.isSystemTrayAvailable():
            return False
        if self.tray is None:
            self.tray = QtWidgets.QSystemTrayIcon(self.window().windowIcon() if self.window() else QtGui.QIcon(), self)
            self.tray.show()
        self.tray.showMessage(title, text, QtWidgets.QSystemTrayIcon.MessageIcon.Information, 15_000)
        return True

    # -- state -----------------------------------------------------------------------------------
    def _say(self, text: str, error: bool = False) -> None:
        self.message.appendPlainText(("⚠ " if error else "") + text)
        (log.warning if error else log.info)("campaign: %s", text.splitlines()[0] if text else "")

    def _update_buttons(self) -> None:
        running = self.runner is not None
        has_bench = self.controller.bench is not None
        busy = self.controller.running and not running
        has_text = bool(self.text.toPlainText().strip())
        self.run_button.setEnabled(has_bench and has_text and not running and not busy)
        self.resume_button.setEnabled(has_bench and has_text and not running and not busy
                                      and (self.out_dir() / MANIFEST).exists())
        self.check_button.setEnabled(has_bench and has_text and not running)
        self.abort_button.setEnabled(running)
        for widget in (self.text, self.add_step_button, self.devices_button, self.open_button, self.new_button,
                       self.repeat, self.out_edit, self.name_edit):
            widget.setEnabled(not running)

    def _restore(self) -> None:
        """The campaign of the last session: its plan, folder and, if it did not finish, Resume."""
        out = self.settings.value("campaign/out_dir", "", type=str)
        if out:
            self.out_edit.setText(out)
        path = self.settings.value("campaign/plan_path", "", type=str)
        self.plan_path = Path(path) if path else None
        text = self.settings.value("campaign/plan", "", type=str)
        if text:
            self.set_plan_text(text)
        if out and (Path(out) / MANIFEST).exists():
            try:
                status = Manifest.load(Path(out) / MANIFEST).data.get("status", "")
            except (OSError, ValueError):
                status = ""
            unfinished = status not in ("completed", "completed_with_failures")
            self.state.setText(f"Last campaign in {out}: {status or 'unknown'}"
                               + (" - press Resume to go on" if unfinished else ""))

    def show_saved_progress(self) -> None:
        """Once a bench is connected: the grid of the last campaign, from its manifest."""
        if self.controller.bench is None or not self.text.toPlainText().strip() or self.runner is not None:
            return
        try:
            campaign = self.make_campaign(resume=True)
        except (PlanError, ValueError) as exc:
            self._say(f"the saved plan does not fit this bench: {exc}", error=True)
            return
        self.campaign = campaign
        self._setup_grid(campaign)
        self._load_manifest()
        self._update_buttons()


def device_list(devices: Sequence[tuple[int, int]]) -> list[list[int]]:
    return [[int(r), int(c)] for r, c in devices]
