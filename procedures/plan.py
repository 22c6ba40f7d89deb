"""Campaign plans: YAML that says which devices get which steps, checked in full before a run.

A plan (see docs/campaigns.md)::

    name: overnight
    devices:                       # a list of [row, col], rectangles, or all_formed
    formed_from: ../runs           # where all_formed looks for forming runs (default: beside --out)
      - [0, 0]
      - {rows: [0, 3], cols: [2, 5]}
    repeat: 1                      # the step sequence, per device, this many times
    notify: "mail -s done me"      # optional shell command run when the campaign ends
    steps:
      - procedure: forming
        name: form                 # optional; default: the procedure name
        params: {compliance_a: 1e-4}
        retries: 1                 # extra attempts when a run fails
        on_failure: skip_device    # stop | skip_device | continue
      - procedure: readout
        only_if: {step: form, status: completed}
      - procedure: retention
        only_if: {step: readout, column: conductance, above: 1e-6}
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from memlab.errors import MemlabError
from memlab.procedures.base import Procedure
from memlab.procedures.parameters import ParameterError
from memlab.procedures.registry import all_procedures

ON_FAILURE = ("stop", "skip_device", "continue")
_PLAN_KEYS = {"name", "devices", "repeat", "steps", "notify", "operator", "description", "formed_from"}
_STEP_KEYS = {"procedure", "name", "params", "retries", "on_failure", "only_if"}
_CONDITION_KEYS = {"step", "status", "column", "above", "below"}


class PlanError(MemlabError, ValueError):
    """A mistake in a plan; the message names the file, the line and the key."""


@dataclass(frozen=True)
class Condition:
    """Run a step only if an earlier step of the same device ended with ``status``, or if the
    last value of ``column`` in that step's run file is above / below a threshold."""

    step: str
    status: str | None = None
    column: str | None = None
    above: float | None = None
    below: float | None = None


@dataclass(frozen=True)
class Step:
    name: str
    procedure: type[Procedure]
    params: dict[str, Any]
    retries: int = 0
    on_failure: str = "skip_device"
    only_if: Condition | None = None

    def make(self, device: tuple[int, int]) -> Procedure:
        """The procedure for one device: its row/col (or devices) parameters point at it."""
        names = {p.name for p in self.procedure.parameters}
        values = dict(self.params)
        if {"row", "col"} <= names:
            values.setdefault("row", device[0])
            values.setdefault("col", device[1])
        elif "devices" in names:
            values.setdefault("devices", f"{device[0]},{device[1]}")
        return self.procedure(**values)


@dataclass(frozen=True)
class Task:
    """One planned run: a step on a device in a repeat. ``key`` names it in the manifest."""

    device: tuple[int, int]
    repeat: int
    step: Step

    @property
    def key(self) -> str:
        return f"r{self.device[0]}c{self.device[1]}/rep{self.repeat}/{self.step.name}"


@dataclass
class Plan:
    name: str
    steps: list[Step]
    device_spec: list[Any]
    repeat: int = 1
    notify: str | None = None
    operator: str | None = None
    formed_from: str | None = None
    source: str = "<plan>"
    devices: list[tuple[int, int]] = field(default_factory=list)

    def tasks(self) -> Iterator[Task]:
        for device in self.devices:
            for rep in range(self.repeat):
                for step in self.steps:
                    yield Task(device, rep, step)


# -- YAML with line numbers -------------------------------------------------------------------
def _to_python(node: yaml.Node, path: tuple, lines: dict[tuple, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


class _Where:
    def __init__(self, source: str, lines: dict[tuple, int]) -> None:
        self.source, self.lines = source, lines

    def error(self, path: tuple, message: str) -> PlanError:
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe, 1)
        key = ".".join(str(p) for p in path) or "(top level)"
        return PlanError(f"{self.source}:{line}: {key}: {message}")


def load_plan(path: str | Path) -> Plan:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan ({exc.strerror})") from exc
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str = "<plan>") -> Plan:
    """Parse and check a plan's structure and every step's parameters (not yet the devices,
    which need the chip: see :func:`check_plan`)."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise PlanError(f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    lines: dict[tuple, int] = {}
    data = _to_python(root, (), lines) if root is not None else None
    where = _Where(source, lines)
    if not isinstance(data, dict):
        raise where.error((), "a plan is a mapping with at least 'devices' and 'steps'")
    for key in data:
        if key not in _PLAN_KEYS:
            raise where.error((key,), f"unknown key; allowed: {sorted(_PLAN_KEYS)}")
    for key in ("devices", "steps"):
        if key not in data:
            raise where.error((), f"missing '{key}'")
    repeat = data.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise where.error(("repeat",), f"{repeat!r} is not allowed: an integer >= 1")
    notify = data.get("notify")
    if notify is not None and not isinstance(notify, str):
        raise where.error(("notify",), "expected a shell command as text")
    steps = _parse_steps(data["steps"], where)
    device_spec = data["devices"]
    if device_spec == "all_formed":
        device_spec = ["all_formed"]
    if not isinstance(device_spec, list) or not device_spec:
        raise where.error(("devices",), "expected a list of [row, col], {rows: [a, b], cols: [c, d]} "
                                        "or 'all_formed'")
    for i, item in enumerate(device_spec):
        _check_device_item(item, ("devices", i), where)
    formed_from = data.get("formed_from")
    if formed_from is not None:
        if not isinstance(formed_from, str):
            raise where.error(("formed_from",), "expected a folder of earlier run files")
        if not Path(formed_from).is_absolute() and source not in ("<plan>",):
            formed_from = str(Path(source).parent / formed_from)  # relative to the plan file
    return Plan(name=str(data.get("name", Path(source).stem)), steps=steps, device_spec=device_spec,
                repeat=repeat, notify=notify, operator=data.get("operator"), formed_from=formed_from,
                source=source)


def _check_device_item(item: Any, path: tuple, where: _Where) -> None:
    if item == "all_formed":
        return
    if isinstance(item, list):
        if len(item) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in item):
            raise where.error(path, f"{item!r}: a device is [row, col] with two integers")
        return
    if isinstance(item, dict):
        if set(item) != {"rows", "cols"}:
            raise where.error(path, f"a rectangle has exactly the keys rows and cols, got {sorted(item)}")
        for key in ("rows", "cols"):
            span = item[key]
            if (not isinstance(span, list) or len(span) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in span)
                    or span[0] > span[1]):
                raise where.error((*path, key), f"{span!r}: expected [first, last] integers, first <= last")
        return
    raise where.error(path, f"{item!r}: expected [row, col], {{rows: [a, b], cols: [c, d]}} or all_formed")


def _parse_steps(raw: Any, where: _Where) -> list[Step]:
    if not isinstance(raw, list) or not raw:
        raise where.error(("steps",), "expected a non-empty list of steps")
    procs = all_procedures()
    steps: list[Step] = []
    for i, item in enumerate(raw):
        path = ("steps", i)
        if not isinstance(item, dict):
            raise where.error(path, "a step is a mapping with at least 'procedure'")
        for key in item:
            if key not in _STEP_KEYS:
                raise where.error((*path, key), f"unknown key; allowed: {sorted(_STEP_KEYS)}")
        name_of_proc = item.get("procedure")
        if name_of_proc not in procs:
            raise where.error((*path, "procedure"), f"unknown procedure {name_of_proc!r}; known: {list(procs)}")
        cls = procs[name_of_proc]
        params = item.get("params", {}) or {}
        if not isinstance(params, dict):
            raise where.error((*path, "params"), "expected a mapping of parameter: value")
        step_name = str(item.get("name", name_of_proc))
        if any(s.name == step_name for s in steps):
            raise where.error((*path, "name"), f"two steps are named {step_name!r}; give each a unique name")
        retries = item.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 100:
            raise where.error((*path, "retries"), f"{retries!r} is not allowed: an integer in [0, 100]")
        on_failure = item.get("on_failure", "skip_device")
        if on_failure not in ON_FAILURE:
            raise where.error((*path, "on_failure"), f"{on_failure!r} is not allowed: one of {list(ON_FAILURE)}")
        condition = _parse_condition(item.get("only_if"), (*path, "only_if"), steps, where)
        step = Step(step_name, cls, params, retries, on_failure, condition)
        try:  # every parameter is checked now, with a placeholder device
            step.make((0, 0))
        except ParameterError as exc:
            key = exc.name if exc.name in params else None
            raise where.error((*path, "params", key) if key else (*path, "params"), str(exc)) from None
        steps.append(step)
    return steps


def _parse_condition(raw: Any, path: tuple, earlier: list[Step], where: _Where) -> Condition | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise where.error(path, "expected {step: NAME, status: completed} or {step: NAME, column: C, above: X}")
    for key in raw:
        if key not in _CONDITION_KEYS:
            raise where.error((*path, key), f"unknown key; allowed: {sorted(_CONDITION_KEYS)}")
    step = raw.get("step")
    names = [s.name for s in earlier]
    if step not in names:
        raise where.error((*path, "step"), f"{step!r} is not an earlier step; earlier steps: {names}")
    status, column = raw.get("status"), raw.get("column")
    if (status is None) == (column is None):
        raise where.error(path, "give either status or column (with above and/or below)")
    if status is not None and status not in ("completed", "failed", "aborted", "skipped"):
        raise where.error((*path, "status"), f"{status!r}: one of completed, failed, aborted, skipped")
    bounds = {}
    for key in ("above", "below"):
        if key in raw:
            if not isinstance(raw[key], (int, float)) or isinstance(raw[key], bool):
                raise where.error((*path, key), f"{raw[key]!r}: expected a number")
            bounds[key] = float(raw[key])
    if column is not None and not bounds:
        raise where.error(path, "a column condition needs above and/or below")
    return Condition(step=step, status=status, column=column, **bounds)


def resolve_devices(plan: Plan, chip: dict[str, Any], formed: set[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """Expand the plan's device list against the chip; refuse devices off the chip."""
    rows, cols = chip.get("rows"), chip.get("cols")
    devices: list[tuple[int, int]] = []
    for i, item in enumerate(plan.device_spec):
        if item == "all_formed":
            if formed is None:
                raise PlanError(f"{plan.source}: devices.{i}: all_formed needs the devices formed "
                                "in earlier forming runs")
            new = sorted(formed)
        elif isinstance(item, list):
            new = [(item[0], item[1])]
        else:
            new = [(r, c) for r in range(item["rows"][0], item["rows"][1] + 1)
                   for c in range(item["cols"][0], item["cols"][1] + 1)]
        for r, c in new:
            if rows is not None and cols is not None and not (0 <= r < rows and 0 <= c < cols):
                raise PlanError(f"{plan.source}: devices.{i}: device ({r}, {c}) is off the chip "
                                f"({rows} x {cols}: rows 0-{rows - 1}, cols 0-{cols - 1})")
            if (r, c) not in devices:
                devices.append((r, c))
    return devices
