"""Campaign plans: YAML that says which devices get which steps, checked in full before a run.

A plan (see docs/campaigns.md)::

    name: overnight
    devices:                       # a list of [row, col], rectangles, or all_formed
    formed_from: ../runs           # where all_formed looks for forming runs (default: beside --out)
      - [0, 0]
      - {rows: [0, 3], cols: [2, 5]}
    repeat: 1                      # the step sequence, per device, this many times
    schedule: interleaved          # or sequential: see docs/campaigns.md
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

import math
import re
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
SCHEDULES = ("interleaved", "sequential")
"""interleaved (the default): other runs fill the declared waits of runs that mostly wait;
sequential: one run after another, device by device."""
_PLAN_KEYS = {"name", "devices", "repeat", "steps", "notify", "operator", "description", "formed_from",
              "schedule"}
_STEP_KEYS = {"procedure", "name", "params", "retries", "on_failure", "only_if"}
_CONDITION_KEYS = {"step", "status", "column", "above", "below"}

MAX_DEPTH = 32
"""Plans nest a few levels (plan > steps > step > params > value); deeper is not a plan."""
MAX_VALUES = 100_000
"""Values a plan may expand to once YAML aliases are followed (stops a "billion laughs")."""
MAX_PLAN_BYTES = 10 * 2 ** 20
MAX_RUNS = 100_000
"""Runs (devices x repeats x steps) one campaign may plan; more is a typo, not a campaign."""
MAX_EXACT_INT = 2 ** 53
MAX_INDEX = 1_000_000
"""The largest row or column index a plan may name (chips are far smaller)."""
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_COLLECTION_TAGS = ("tag:yaml.org,2002:seq", "tag:yaml.org,2002:map")
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}", re.ASCII)
"""Plan and step names become folder and file names: plain names, no path separators."""


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
    schedule: str = "interleaved"

    def tasks(self) -> Iterator[Task]:
        for device in self.devices:
            for rep in range(self.repeat):
                for step in self.steps:
                    yield Task(device, rep, step)


# -- YAML with line numbers and limits --------------------------------------------------------
class _Limit(Exception):
    """A plan beyond what the YAML reader accepts; ``line`` and ``path`` say where."""

    def __init__(self, line: int, path: tuple, message: str) -> None:
        super().__init__(message)
        self.line, self.path = line, path


class _Converter:
    """YAML nodes to plain Python with the line of every key. Aliases are followed, but a cycle
    (a recursive anchor), nesting deeper than :data:`MAX_DEPTH` or more than :data:`MAX_VALUES`
    values in all (an alias bomb) is refused; duplicate and non-scalar keys are refused."""

    def __init__(self, lines: dict[tuple, int]) -> None:
        self.lines = lines
        self.count = 0
        self.active: set[int] = set()
        self.scalars = yaml.constructor.SafeConstructor()

    def convert(self, node: yaml.Node, path: tuple) -> Any:
        line = node.start_mark.line + 1
        self.lines.setdefault(path, line)
        self.count += 1
        if self.count > MAX_VALUES:
            raise _Limit(line, path, f"the plan expands to more than {MAX_VALUES} values (YAML "
                                     "aliases repeating aliases?); write the plan out plainly")
        if len(path) > MAX_DEPTH:
            raise _Limit(line, path, f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, yaml.ScalarNode):
            try:
                return self.scalars.construct_object(node, deep=True)
            except (yaml.YAMLError, ValueError, OverflowError) as exc:
                why = getattr(exc, "problem", None) or " ".join(str(exc).split())
                raise _Limit(line, path, f"value {_short(node.value)} cannot be read ({why})") from None
        if node.tag not in _COLLECTION_TAGS:
            raise _Limit(line, path, f"YAML tag {node.tag!r} is not allowed in a plan")
        if id(node) in self.active:
            raise _Limit(line, path, "a recursive anchor (an alias inside its own anchor)")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: tuple) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Limit(line, path, "a key must be plain text, not a list or a mapping")
            key = key_node.value
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Limit(line, path, "merge keys (<<) are not supported in plans; write the keys out")
            if key in out:
                first = self.lines.get((*path, key), "?")
                raise _Limit(line, (*path, key), f"duplicate key (first given on line {first}); "
                                                 "give each key once")
            self.lines[(*path, key)] = line
            out[key] = self.convert(value_node, (*path, key))
        return out


def _check_depth(text: str, source: str) -> None:
    """Refuse deep nesting from the parser's event stream, which is not recursive, before the
    composer (which is) would hit Python's recursion limit."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise PlanError(f"{source}:{event.start_mark.line + 1}: nested more than "
                                f"{MAX_DEPTH} levels deep; a plan is a few levels of steps and params")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1


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
        if path.is_dir():
            raise PlanError(f"{path}: a folder; give the plan file (YAML)")
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            raise PlanError(f"{path}: {size} bytes; a plan is at most {MAX_PLAN_BYTES // 2 ** 20} MiB")
        raw = path.read_bytes()
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise PlanError(f"{path}:{line}: not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
                        f"{exc.start}); save the plan as UTF-8") from None
    return parse_plan(text, str(path))


def parse_plan(text: str, source: str = "<plan>") -> Plan:
    """Parse and check a plan's structure and every step's parameters (not yet the devices,
    which need the chip: see :func:`check_plan`)."""
    if "\x00" in text:
        raise PlanError(f"{source}:{text.count(chr(10), 0, text.index(chr(0))) + 1}: a NUL "
                        "character; a plan is text")
    try:
        _check_depth(text, source)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (a control code)
        line = text.count("\n", 0, exc.position) + 1
        raise PlanError(f"{source}:{line}: character {exc.character!r} is not allowed in YAML "
                        "(a control character); a plan is printable text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        why = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise PlanError(f"{source}:{line}: not valid YAML: {why}") from None
    except RecursionError:  # belt and braces: _check_depth refuses deep nesting first
        raise PlanError(f"{source}: nested too deeply; a plan is a few levels") from None
    lines: dict[tuple, int] = {}
    try:
        data = _Converter(lines).convert(root, ()) if root is not None else None
    except _Limit as exc:
        raise PlanError(f"{source}:{exc.line}: {'.'.join(map(str, exc.path)) or '(top level)'}: "
                        f"{exc}") from None
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
    if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= MAX_RUNS:
        raise where.error(("repeat",), f"{_short(repeat)} is not allowed: an integer in [1, {MAX_RUNS}]")
    schedule = data.get("schedule", "interleaved")
    if not isinstance(schedule, str) or schedule not in SCHEDULES:
        raise where.error(("schedule",), f"{_short(schedule)} is not allowed: one of {list(SCHEDULES)}")
    notify = data.get("notify")
    if notify is not None and not isinstance(notify, str):
        raise where.error(("notify",), "expected a shell command as text")
    for key in ("operator", "description"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise where.error((key,), f"{_short(data[key])}: expected text")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not _FILE_NAME.fullmatch(name):
        raise where.error(("name",), f"{_short(name)} is not allowed: it names the campaign's folder, "
                                     "so letters, digits and . _ + - only (no / or ..), at most 100")
    steps = _parse_steps(data["steps"], where)
    device_spec = data["devices"]
    if device_spec == "all_formed":
        device_spec = ["all_formed"]
    if not isinstance(device_spec, list) or not device_spec:
        raise where.error(("devices",), "expected a list of [row, col], {rows: [a, b], cols: [c, d]} "
                                        "or 'all_formed'")
    n_devices = 0
    for i, item in enumerate(device_spec):
        _check_device_item(item, ("devices", i), where)
        n_devices += _device_count(item)
    runs = n_devices * repeat * len(steps)
    if runs > MAX_RUNS:  # checked before anything is expanded
        raise where.error(("devices",), f"the plan asks for {runs} runs ({n_devices} devices x {repeat} "
                                        f"repeat(s) x {len(steps)} steps); at most {MAX_RUNS} per campaign")
    formed_from = data.get("formed_from")
    if formed_from is not None:
        if not isinstance(formed_from, str):
            raise where.error(("formed_from",), "expected a folder of earlier run files")
        if not Path(formed_from).is_absolute() and source not in ("<plan>",):
            formed_from = str(Path(source).parent / formed_from)  # relative to the plan file
    return Plan(name=name, steps=steps, device_spec=device_spec,
                repeat=repeat, notify=notify, operator=data.get("operator"), formed_from=formed_from,
                source=source, schedule=schedule)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "..."


def _device_count(item: Any) -> int:
    """Devices a checked device item names (all_formed: unknown until the run, counted as 0)."""
    if isinstance(item, dict):
        return (item["rows"][1] - item["rows"][0] + 1) * (item["cols"][1] - item["cols"][0] + 1)
    return 1 if isinstance(item, list) else 0


def _check_device_item(item: Any, path: tuple, where: _Where) -> None:
    if item == "all_formed":
        return
    if isinstance(item, list):
        if len(item) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_INDEX
                                     for v in item):
            raise where.error(path, f"{_short(item)}: a device is [row, col] with two integers in "
                                    f"[0, {MAX_INDEX}]")
        return
    if isinstance(item, dict):
        if set(item) != {"rows", "cols"}:
            raise where.error(path, f"a rectangle has exactly the keys rows and cols, got {sorted(item)}")
        for key in ("rows", "cols"):
            span = item[key]
            if (not isinstance(span, list) or len(span) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_INDEX
                               for v in span)
                    or span[0] > span[1]):
                raise where.error((*path, key), f"{_short(span)}: expected [first, last] integers in "
                                                f"[0, {MAX_INDEX}], first <= last")
        return
    raise where.error(path, f"{_short(item)}: expected [row, col], {{rows: [a, b], cols: [c, d]}} or all_formed")


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
        if not isinstance(name_of_proc, str) or name_of_proc not in procs:
            what = "missing procedure" if name_of_proc is None else (
                f"unknown procedure {_short(name_of_proc)}" if isinstance(name_of_proc, str)
                else f"{_short(name_of_proc)} is not a procedure name")
            raise where.error((*path, "procedure"), f"{what}; known: {list(procs)}")
        cls = procs[name_of_proc]
        params = item.get("params", {}) or {}
        if not isinstance(params, dict):
            raise where.error((*path, "params"), "expected a mapping of parameter: value")
        step_name = item.get("name", name_of_proc)
        if not isinstance(step_name, str) or not _FILE_NAME.fullmatch(step_name):
            raise where.error((*path, "name"), f"{_short(step_name)} is not allowed: letters, digits "
                                               "and . _ + - only, at most 100 (it names run files)")
        for key, value in params.items():
            why = _bad_number(value)
            if why:
                raise where.error((*path, "params", key), f"{_short(value)}: {why}")
        if any(s.name == step_name for s in steps):
            raise where.error((*path, "name"), f"two steps are named {step_name!r}; give each a unique name")
        retries = item.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 100:
            raise where.error((*path, "retries"), f"{retries!r} is not allowed: an integer in [0, 100]")
        on_failure = item.get("on_failure", "skip_device")
        if not isinstance(on_failure, str) or on_failure not in ON_FAILURE:
            raise where.error((*path, "on_failure"), f"{_short(on_failure)} is not allowed: one of {list(ON_FAILURE)}")
        condition = _parse_condition(item.get("only_if"), (*path, "only_if"), steps, where)
        step = Step(step_name, cls, params, retries, on_failure, condition)
        try:  # every parameter is checked now, with a placeholder device
            step.make((0, 0))
        except (ParameterError, OverflowError, TypeError) as exc:
            name = getattr(exc, "name", None)
            key = name if isinstance(name, str) and name in params else None
            if not isinstance(exc, ParameterError):
                exc = f"not allowed ({type(exc).__name__}: {exc})"
            raise where.error((*path, "params", key) if key else (*path, "params"), str(exc)) from None
        steps.append(step)
    return steps


def _bad_number(value: Any) -> str | None:
    """Why a number in a plan cannot be a parameter value (inf, nan, beyond exact integers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number; give a plain number"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_EXACT_INT:
        return "too large: at most 2^53 in magnitude"
    if isinstance(value, (list, dict)):
        return "expected one value (a number, text or true/false), not a list or a mapping"
    return None


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
    if not isinstance(step, str) or step not in names:
        raise where.error((*path, "step"), f"{step!r} is not an earlier step; earlier steps: {names}")
    status, column = raw.get("status"), raw.get("column")
    if column is not None and not isinstance(column, str):
        raise where.error((*path, "column"), f"{_short(column)}: expected a column name")
    if (status is None) == (column is None):
        raise where.error(path, "give either status or column (with above and/or below)")
    if status is not None and (not isinstance(status, str) or status not in ("completed", "failed", "aborted", "skipped")):
        raise where.error((*path, "status"), f"{status!r}: one of completed, failed, aborted, skipped")
    bounds = {}
    for key in ("above", "below"):
        if key in raw:
            value = raw[key]
            if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
                value = float(value)  # YAML 1.1 reads 1e-6 (no dot) as text
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise where.error((*path, key), f"{_short(raw[key])}: expected a finite number")
            bounds[key] = float(value)
    if column is not None and not bounds:
        raise where.error(path, "a column condition needs above and/or below")
    return Condition(step=step, status=status, column=column, **bounds)


def resolve_devices(plan: Plan, chip: dict[str, Any], formed: set[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """Expand the plan's device list against the chip; refuse devices off the chip."""
    rows, cols = chip.get("rows"), chip.get("cols")
    devices: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for i, item in enumerate(plan.device_spec):
        if item == "all_formed":
            if formed is None:
                raise PlanError(f"{plan.source}: devices.{i}: all_formed needs the devices formed "
                                "in earlier forming runs")
            new = sorted(formed)
        elif isinstance(item, list):
            new = [(item[0], item[1])]
        else:
            (r0, r1), (c0, c1) = item["rows"], item["cols"]
            if rows is not None and cols is not None and (r1 >= rows or c1 >= cols):
                raise PlanError(f"{plan.source}: devices.{i}: rows {r0}-{r1}, cols {c0}-{c1} reach off "
                                f"the chip ({rows} x {cols}: rows 0-{rows - 1}, cols 0-{cols - 1})")
            if (r1 - r0 + 1) * (c1 - c0 + 1) > MAX_RUNS:  # checked before the list is built
                raise PlanError(f"{plan.source}: devices.{i}: {(r1 - r0 + 1) * (c1 - c0 + 1)} devices; "
                                f"at most {MAX_RUNS}")
            new = [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]
        for r, c in new:
            if rows is not None and cols is not None and not (0 <= r < rows and 0 <= c < cols):
                raise PlanError(f"{plan.source}: devices.{i}: device ({r}, {c}) is off the chip "
                                f"({rows} x {cols}: rows 0-{rows - 1}, cols 0-{cols - 1})")
            if (r, c) not in seen:
                seen.add((r, c))
                devices.append((r, c))
    runs = len(devices) * plan.repeat * len(plan.steps)
    if runs > MAX_RUNS:
        raise PlanError(f"{plan.source}: the plan asks for {runs} runs ({len(devices)} devices x "
                        f"{plan.repeat} repeat(s) x {len(plan.steps)} steps); at most {MAX_RUNS}")
    return devices
