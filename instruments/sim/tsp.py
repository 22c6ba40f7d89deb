"""The TSP runtime shared by the simulated Keithley TSP instruments (2600B SMUs, 707B matrix).

A real TSP instrument runs what it receives in a Lua interpreter, with its object model
(``smua``, ``channel``, ...) as Lua globals. The twins do the same: each message line is a Lua
chunk run by a real interpreter (lupa, Lua 5.1, the closest lupa ships to the instruments'
Lua 5.0), so anything a driver may send (loops, local functions, string formatting) works.

What this module provides to the models:

- :class:`TspInstrument`: a :class:`~instruments.sim.base.VirtualInstrument` whose ``handle``
  runs Lua. It handles the IEEE-488.2 common commands (``*IDN?``, ``*RST``, ``*CLS``, ``*OPC?``,
  ``*WAI``, ...), ``loadscript``/``loadandrunscript`` ... ``endscript`` blocks, and the standard
  TSP globals: ``print``, ``printnumber``, ``printbuffer``, ``format``, ``errorqueue``,
  ``reset``, ``opc``, ``waitcomplete``, ``delay``, ``timer``, ``localnode``, ``beeper``,
  ``display``, ``script``.
- Lua errors go to the error queue as the instrument reports them: a syntax error is
  ``-285 TSP Syntax error at line N: ...`` (the chunk does not run), a run-time error is
  ``-286 TSP Runtime error at line N: ...`` (the chunk stops there).
- :class:`Attr` / :class:`TspObject`: attributes of the instrument's objects with the model's
  allowed values. A value out of range is refused: the error goes to the queue and the setting
  keeps its old value (on the instrument such errors do not stop a script); a wrong type is a
  run-time error.
- :class:`ReadingBuffer`: the instruments' reading buffers (``readings``, ``sourcevalues``,
  ``timestamps``), printed by ``printbuffer`` as ASCII or binary (``#0`` + REAL32/REAL64).

Scripts run sandboxed: no ``os.execute``, ``io``, ``require``, ``load*``/``dofile`` or
``debug``, no access to the Python side's private attributes. A runaway script becomes a
``-286`` run-time error instead of a hung simulation, and the twin keeps answering:

- each chunk has a budget of Lua instructions and a wall-clock limit, checked by a count hook
  that every coroutine carries; once stopped, ``pcall``/``xpcall``/``coroutine.resume`` cannot
  swallow the stop;
- the C functions that a hook cannot interrupt are guarded: ``string.rep`` beyond the Lua heap,
  and pattern searches whose worst-case backtracking is too long, are refused; the Lua heap is
  capped, so a script runs out of memory ("not enough memory") as on the instrument;
- Ctrl-C (KeyboardInterrupt) raised while a script runs propagates to the caller, never
  becomes an instrument error, whatever ``pcall`` the script wraps around it.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from lupa import lua51

from memlab.instruments.sim.base import VirtualInstrument
from memlab.instruments.sim.world import SimWorld

# Error codes of the Keithley TSP instruments (2600B / 707B reference manuals, error summary).
SYNTAX_ERROR = -285
RUNTIME_ERROR = -286
PARAMETER_TOO_BIG = 1101
PARAMETER_TOO_SMALL = 1102
PARAMETER_ERROR = 1115
SEVERITY_RECOVERABLE = 20

_CHUNK_PREFIX = "tsp:"
#: Lua instructions one chunk may execute before the simulator stops it (a runaway loop).
INSTRUCTION_BUDGET = 20_000_000
#: wall-clock seconds one chunk may run (Lua plus the Python it calls) before it is stopped.
WALL_CLOCK_LIMIT_S = 2.0
#: the hook counts instructions and checks the wall clock every this many instructions.
_HOOK_STEP = 10_000
#: Lua heap of one instrument (bytes): a script that builds huge strings or tables runs out of
#: memory, as on the instrument, instead of exhausting the computer's.
LUA_MEMORY_BYTES = 256 * 1024 * 1024
#: a pattern search whose worst-case backtracking exceeds this many steps is refused (Lua's
#: matcher runs in C, where neither the instruction budget nor the wall clock can stop it).
PATTERN_STEP_LIMIT = 5e8
#: processing one command on the instrument (Lua parse + execute), charged per chunk.
CHUNK_OVERHEAD_S = 150e-6
#: compiled chunks kept per instrument: drivers send the same strings again and again.
_CACHE_SIZE = 512
#: Lua heap growth (KiB) between two full garbage collections (see _RUNNER)
_GC_HEADROOM_KB = 4096

_RUNNER = """
local loadstring, xpcall, pcall, sethook, getinfo = loadstring, xpcall, pcall, debug.sethook, debug.getinfo
local sub, byte, error, select, type = string.sub, string.byte, error, select, type
local create, resume, status = coroutine.create, coroutine.resume, coroutine.status
local budget, step, wall_s, clock, fatal, memory_bytes, pattern_limit = ...
local used, started = 0, 0
-- Once a chunk is stopped (budget, wall clock, Ctrl-C) every hook call and every pcall or
-- coroutine.resume that would catch the error raises it again: the chunk cannot swallow it.
local stopped = nil
local prefix = "=%s"

local function hook()
  if stopped ~= nil then error(stopped, 0) end
  used = used + step
  if used > budget then
    stopped = "script exceeded the simulator's budget of " .. budget .. " Lua instructions"
    error(stopped, 0)
  end
  if clock() - started > wall_s then
    stopped = "script exceeded the simulator's limit of " .. wall_s .. " s of computer time"
    error(stopped, 0)
  end
end

-- A caught error is given back only when the chunk may go on; a stop or a Python
-- KeyboardInterrupt/SystemExit propagates.
local function guard(ok, ...)
  if not ok then
    local err = ...
    if stopped == nil and fatal(err) then stopped = err end
  end
  if stopped ~= nil then error(stopped, 0) end
  return ok, ...
end

local function safe_pcall(f, ...)
  return guard(pcall(f, ...))
end

local function safe_xpcall(f, handler)
  return guard(xpcall(f, handler))
end

-- Hooks are per coroutine in Lua 5.1: every coroutine a script makes carries the hook.
local function safe_create(f)
  local co = create(f)
  sethook(co, hook, "", step)
  return co
end

local function safe_resume(co, ...)
  return guard(resume(co, ...))
end

local function safe_wrap(f)
  local co = safe_create(f)
  local function finish(ok, ...)
    if not ok then error((...), 0) end
    return ...
  end
  return function(...)
    return finish(safe_resume(co, ...))
  end
end

local function handler(err)
  local line = 0
  for level = 2, 40 do
    local info = getinfo(level, "Sl")
    if not info then break end
    if sub(info.source, 1, #prefix) == prefix then line = info.currentline break end
  end
  return {err, line}
end

local function compile(code, name)
  local f, err = loadstring(code, prefix .. name)
  return f or false, err or ""
end

-- lupa keeps the Lua wrappers of Python objects in a weak table filled with luaL_ref. Lua 5.1's
-- incremental collector clears a wrapper's slot before running its finalizer (which frees the
-- slot again), so a wrapper made in between can get a slot that is then freed under it, and a
-- later lookup hands Lua another Python object ("'method' object has no attribute ..."). So the
-- collector runs only here, in full, between chunks, when no wrapper is being made.
local collect = collectgarbage
collect("stop")
local limit = collect("count") * 2 + %d

local function run(f)
  used, stopped, started = 0, nil, clock()
  sethook(hook, "", step)
  local ok, res = xpcall(f, handler)
  sethook()
  if collect("count") > limit then
    collect("collect")
    collect("stop")  -- a full collection re-arms the automatic collector
    limit = collect("count") * 2 + %d
  end
  stopped = nil
  if ok then return nil end
  if type(res) ~= "table" then return res, 0 end  -- out of memory: no handler ran
  return res[1], res[2]
end

-- Scripts may ask for a collection; they must not switch the automatic collector back on.
local function script_collectgarbage(option)
  if option == "count" then return collect("count") end
  if option == nil or option == "collect" then
    collect("collect")
    collect("stop")
  end
  return 0
end

-- The string functions that run long in C, where no hook fires.
local rep, find, match, gmatch, gsub = string.rep, string.find, string.match, string.gmatch, string.gsub

local function safe_rep(s, n)
  if type(s) == "string" and type(n) == "number" then
    if #s == 0 or n < 1 then return "" end
    if #s * n > memory_bytes then error("not enough memory", 2) end
  end
  return rep(s, n)
end

-- Worst-case steps of Lua's backtracking matcher: about C(n, k), n the subject length and k the
-- number of repeated items (*, +, -) plus one for an unanchored search.
local function check_pattern(s, p, init)
  if type(s) ~= "string" or type(p) ~= "string" then return end
  local n = #s
  local repeats, i, length = 0, 1, #p
  while i <= length do
    local c = byte(p, i)
    if c == 37 then          -- %%x: one item
      i = i + 2
    elseif c == 91 then      -- [set]
      i = i + 1
      if byte(p, i) == 94 then i = i + 1 end
      if byte(p, i) == 93 then i = i + 1 end
      while i <= length and byte(p, i) ~= 93 do
        if byte(p, i) == 37 then i = i + 1 end
        i = i + 1
      end
      i = i + 1
    else
      i = i + 1
    end
    local q = byte(p, i)
    if q == 42 or q == 43 or q == 45 then
      repeats = repeats + 1
      i = i + 1
    end
  end
  local k = repeats + ((byte(p, 1) == 94) and 0 or 1)
  local cost = 1
  for j = 1, k do
    cost = cost * (n - j + 1) / j
    if cost > pattern_limit then
      error("pattern too complex for a " .. n .. "-character string", 3)
    end
  end
end

local function safe_find(s, p, init, plain)
  if not plain then check_pattern(s, p) end
  return find(s, p, init, plain)
end
local function safe_match(s, p, init) check_pattern(s, p) return match(s, p, init) end
local function safe_gmatch(s, p) check_pattern(s, p) return gmatch(s, p) end
local function safe_gsub(s, p, r, n) check_pattern(s, p) return gsub(s, p, r, n) end

return compile, run, script_collectgarbage, {
  pcall = safe_pcall, xpcall = safe_xpcall, create = safe_create, resume = safe_resume,
  wrap = safe_wrap, rep = safe_rep, find = safe_find, match = safe_match, gmatch = safe_gmatch,
  gsub = safe_gsub,
}
""" % (_CHUNK_PREFIX, _GC_HEADROOM_KB, _GC_HEADROOM_KB)

# Scripts see Lua's standard library without what reaches the computer (os, io, files, modules,
# the debug library, code loading) and with the guarded functions of _RUNNER.
_SANDBOX = """
local safe = ...
local time, date, clock = os.time, os.date, os.clock
os = {time = time, date = date, clock = clock}
io, debug, require, package, dofile, loadfile, module, python = nil, nil, nil, nil, nil, nil, nil, nil
load, loadstring, getfenv, setfenv, newproxy, gcinfo = nil, nil, nil, nil, nil, nil
string.dump = nil
pcall, xpcall = safe.pcall, safe.xpcall
coroutine = {create = safe.create, resume = safe.resume, wrap = safe.wrap,
             status = coroutine.status, yield = coroutine.yield, running = coroutine.running}
string.rep, string.find, string.match = safe.rep, safe.find, safe.match
string.gmatch, string.gsub = safe.gmatch, safe.gsub
"""


def _is_fatal(error: Any) -> bool:
    """Whether an error caught inside Lua must end the chunk whatever the script does: Ctrl-C
    (KeyboardInterrupt) and interpreter exit are the user's, never the instrument's."""
    return isinstance(error, BaseException) and not isinstance(error, Exception)


class TspRuntimeError(Exception):
    """A Lua run-time error raised from the Python side (``-286``; the chunk stops)."""


class TspError(Exception):
    """An instrument error with its own code: queued as is, and the chunk stops."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TspObject:
    """An object of an instrument's TSP object model, visible from Lua.

    Public attributes can only be those the class declares (:class:`Attr`, methods,
    constants): setting an unknown one from Lua is a run-time error, as a misspelt attribute is
    a bug in the script. ``_path`` is the object's Lua name, used in messages.
    """

    def __init__(self, instrument: TspInstrument, path: str) -> None:
        self._instrument = instrument
        self._path = path
        self._values: dict[str, Any] = {}

    def __setattr__(self, name: str, value: Any) -> None:
        if name[0] != "_" and not isinstance(getattr(type(self), name, None), Attr):
            raise TspRuntimeError(f"{self._path}.{name} is not a settable attribute")
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: name the Lua path, not the Python class.
        if name.startswith("_"):
            raise AttributeError(name)
        raise TspRuntimeError(f"{self._path}.{name} does not exist")

    def _reset_values(self) -> None:
        self._values.clear()

    def __repr__(self) -> str:
        return self._path


Validator = Callable[[TspObject, float], float]


class Attr:
    """A settable TSP attribute with the model's allowed values.

    :param default: value after reset, or a callable ``default(obj)``.
    :param minimum, maximum: allowed numeric range (``PARAMETER_TOO_SMALL`` / ``_TOO_BIG``).
    :param choices: allowed values (``PARAMETER_ERROR`` otherwise).
    :param check: extra validation ``check(obj, value) -> value``; raises :class:`TspError`.
    :param kind: ``float``, ``int`` or ``str``.
    :param readonly: setting it is a run-time error.
    """

    def __init__(
        self,
        default: Any,
        *,
        minimum: float | Callable[[Any], float] | None = None,
        maximum: float | Callable[[Any], float] | None = None,
        choices: Iterable[Any] | None = None,
        check: Validator | None = None,
        kind: type = float,
        readonly: bool = False,
    ) -> None:
        self.default = default
        self.minimum = minimum
        self.maximum = maximum
        self.choices = frozenset(choices) if choices is not None else None
        self.check = check
        self.kind = kind
        self.readonly = readonly
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: TspObject | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        try:
            return obj._values[self.name]
        except KeyError:
            default = self.default
            return default(obj) if callable(default) else default

    def _bound(self, obj: TspObject, bound: float | Callable[[Any], float] | None) -> float | None:
        return bound(obj) if callable(bound) else bound

    def __set__(self, obj: TspObject, value: Any) -> None:
        where = f"{obj._path}.{self.name}"
        if self.readonly:
            raise TspRuntimeError(f"{where} is read-only")
        try:
            value = _coerce(where, value, self.kind)
            if self.choices is not None and value not in self.choices:
                allowed = ", ".join(_fmt_choice(c) for c in sorted(self.choices, key=str))
                raise TspError(PARAMETER_ERROR, f"Parameter error {where}={value!r}: allowed {allowed}")
            lo = self._bound(obj, self.minimum)
            hi = self._bound(obj, self.maximum)
            if lo is not None and value < lo:
                raise TspError(PARAMETER_TOO_SMALL, f"Parameter too small {where}={value:g}, minimum {lo:g}")
            if hi is not None and value > hi:
                raise TspError(PARAMETER_TOO_BIG, f"Parameter too big {where}={value:g}, maximum {hi:g}")
            if self.check is not None:
                value = self.check(obj, value)
        except TspError as exc:
            # Setting errors do not stop a script on the instrument: queue it, keep the old value.
            obj._instrument.push_error(exc.code, exc.message)
            return
        obj._values[self.name] = value


def _fmt_choice(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _coerce(where: str, value: Any, kind: type) -> Any:
    if kind is str:
        if not isinstance(value, str):
            raise TspRuntimeError(f"{where}: string expected, got {_lua_type(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TspRuntimeError(f"{where}: number expected, got {_lua_type(value)}")
    if not math.isfinite(value):
        # 0/0 or 1/0 in a script: refused before any setting changes.
        raise TspError(PARAMETER_ERROR, f"Parameter error {where}={value!r}: a finite number expected")
    if kind is int:
        if value != int(value):
            raise TspError(PARAMETER_ERROR, f"Parameter error {where}={value!r}: an integer expected")
        return int(value)
    return float(value)


def _lua_type(value: Any) -> str:
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return lua51.lua_type(value) or "userdata"


def number_arg(where: str, value: Any, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """A numeric function argument; a wrong type is a run-time error, a bad value a TspError."""
    number = _coerce(where, value, float)
    if minimum is not None and number < minimum:
        raise TspError(PARAMETER_TOO_SMALL, f"Parameter too small {where}={number:g}, minimum {minimum:g}")
    if maximum is not None and number > maximum:
        raise TspError(PARAMETER_TOO_BIG, f"Parameter too big {where}={number:g}, maximum {maximum:g}")
    return number


def int_arg(where: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """An integer function argument (TSP counts and indices)."""
    number = number_arg(where, value, minimum=minimum, maximum=maximum)
    if number != int(number):
        raise TspError(PARAMETER_ERROR, f"Parameter error {where}={number!r}: an integer expected")
    return int(number)


def string_arg(where: str, value: Any) -> str:
    return _coerce(where, value, str)


def lua_numbers(where: str, table: Any) -> np.ndarray:
    """A Lua table of numbers (an array part) as float64."""
    if lua51.lua_type(table) != "table":
        raise TspRuntimeError(f"{where}: table expected, got {_lua_type(table)}")
    values = list(table.values())
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise TspRuntimeError(f"{where}: a table of numbers expected") from None
    if numbers.ndim != 1 or not np.all(np.isfinite(numbers)):
        raise TspError(PARAMETER_ERROR, f"Parameter error {where}: finite numbers expected")
    return numbers


# -- reading buffers ----------------------------------------------------------------------------


class BufferColumn:
    """One column of a reading buffer as Lua sees it: ``buf.readings[i]`` (1-based)."""

    def __init__(self, buffer: ReadingBuffer, column: str) -> None:
        self._buffer = buffer
        self._column = column

    def __getitem__(self, index: Any) -> float:
        buffer = self._buffer
        data = buffer.column(self._column)
        i = int_arg(f"{buffer._path}.{self._column}[]", index)
        if not 1 <= i <= len(data):
            return None  # type: ignore[return-value]  # Lua: nil past the end
        return float(data[i - 1])

    def __len__(self) -> int:
        return self._buffer.n

    def values(self) -> np.ndarray:
        return self._buffer.column(self._column)


class ReadingBuffer(TspObject):
    """A TSP reading buffer (``smua.nvbuffer1``, ``smua.makebuffer(n)``).

    ``appendmode`` 0 (default): each store operation (a measurement call, a sweep) starts the
    buffer over; 1: it appends. ``collectsourcevalues`` / ``collecttimestamps`` say which
    columns are kept, as on the instrument. Storage is numpy, filled in blocks by sweeps.
    """

    COLUMNS = ("readings", "sourcevalues", "timestamps")

    appendmode = Attr(0, choices=(0, 1), kind=int)
    collectsourcevalues = Attr(0, choices=(0, 1), kind=int)
    collecttimestamps = Attr(1, choices=(0, 1), kind=int)
    basetimestamp = Attr(0.0, readonly=True)

    def __init__(self, instrument: TspInstrument, path: str, capacity: int) -> None:
        super().__init__(instrument, path)
        self._capacity = int(capacity)
        self._n = 0
        self._data = {c: np.zeros(0, dtype=np.float64) for c in self.COLUMNS}
        for column in self.COLUMNS:
            object.__setattr__(self, column, BufferColumn(self, column))

    @property
    def n(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        return self._capacity

    def clear(self) -> None:
        self._n = 0

    def reset(self) -> None:
        self._reset_values()
        self.clear()

    def column(self, column: str) -> np.ndarray:
        """A view of one column's stored values."""
        if column == "sourcevalues" and not self.collectsourcevalues:
            raise TspRuntimeError(f"{self._path}.sourcevalues: source values were not collected "
                                  f"(set {self._path}.collectsourcevalues = 1 first)")
        if column == "timestamps" and not self.collecttimestamps:
            raise TspRuntimeError(f"{self._path}.timestamps: timestamps were not collected")
        return self._data[column][: self._n]

    def begin(self) -> None:
        """A store operation starts: without append mode the buffer starts over."""
        if not self.appendmode:
            self._n = 0

    def store(self, readings: np.ndarray, sources: np.ndarray, times_s: np.ndarray) -> int:
        """Append readings (with their source values and absolute times); returns how many fit.

        A full buffer keeps what it has (the instrument's fill-once mode)."""
        count = min(len(readings), self._capacity - self._n)
        if count <= 0:
            return 0
        start, end = self._n, self._n + count
        if start == 0:
            self._values["basetimestamp"] = float(times_s[0])
        base = self._values.get("basetimestamp", 0.0)
        for column, values in (("readings", readings), ("sourcevalues", sources),
                               ("timestamps", np.asarray(times_s) - base)):
            data = self._data[column]
            if len(data) < end:
                grown = np.zeros(max(end, 2 * len(data), 64), dtype=np.float64)
                grown[:start] = data[:start]
                self._data[column] = data = grown
            data[start:end] = values[:count]
        self._n = end
        return count


# -- standard TSP objects -------------------------------------------------------------------------


class FormatObject(TspObject):
    """``format``: how ``printnumber``/``printbuffer`` send numbers."""

    ASCII = 1
    SREAL = REAL32 = 2
    REAL = REAL64 = DREAL = 3
    NORMAL = BIGENDIAN = NETWORK = 0
    SWAPPED = LITTLEENDIAN = 1

    data = Attr(1, choices=(1, 2, 3), kind=int)
    byteorder = Attr(1, choices=(0, 1), kind=int)
    # The reset precision is the model's: 6 on the 2600B, 10 on the 707B (their manuals).
    asciiprecision = Attr(lambda o: o._instrument.ascii_digits, minimum=0, maximum=16, kind=int)

    def number(self, value: float) -> str:
        digits = self.asciiprecision or self._instrument.ascii_digits
        return _format_number(value, digits)


def _format_number(value: Any, digits: int = 6) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits - 1}e}"


class ErrorQueueObject(TspObject):
    """``errorqueue``: the instrument's error queue seen from Lua."""

    @property
    def count(self) -> int:
        return self._instrument.error_count

    def next(self) -> tuple[int, str, int, int]:
        if not self._instrument.error_count:
            return 0, "Queue Is Empty", 0, 0
        code, message = self._instrument.pop_error()
        return code, message, SEVERITY_RECOVERABLE, 1

    def clear(self) -> None:
        self._instrument.clear_errors()


class TimerMeasure(TspObject):
    def t(self) -> float:
        return self._instrument.clock.now() - self._instrument._timer_origin


class TimerObject(TspObject):
    """``timer``: ``timer.reset()``, ``timer.measure.t()`` on the bench clock."""

    def __init__(self, instrument: TspInstrument, path: str) -> None:
        super().__init__(instrument, path)
        object.__setattr__(self, "measure", TimerMeasure(instrument, f"{path}.measure"))

    def reset(self) -> None:
        self._instrument._timer_origin = self._instrument.clock.now()


class LocalNode(TspObject):
    """``localnode``: identity, line frequency, prompts and error display."""

    linefreq = Attr(60.0, choices=(50.0, 60.0))
    autolinefreq = Attr(0, choices=(0, 1), kind=int)
    prompts = Attr(0, choices=(0, 1), kind=int)
    prompts4882 = Attr(1, choices=(0, 1), kind=int)
    showerrors = Attr(0, choices=(0, 1), kind=int)

    @property
    def model(self) -> str:
        return self._instrument.model_number

    @property
    def serialno(self) -> str:
        return self._instrument.serial

    @property
    def revision(self) -> str:
        return self._instrument.firmware

    @property
    def description(self) -> str:
        return f"Keithley Instruments {self._instrument.model_number} - {self._instrument.serial}"

    def reset(self) -> None:
        # Line frequency and prompts survive reset() on the instrument (system settings).
        keep = {k: v for k, v in self._values.items() if k in ("linefreq", "autolinefreq", "prompts")}
        self._values = keep


class BeeperObject(TspObject):
    enable = Attr(1, choices=(0, 1), kind=int)

    def beep(self, duration: Any, frequency: Any = 1000) -> None:
        seconds = number_arg("beeper.beep duration", duration, minimum=0.0, maximum=100.0)
        number_arg("beeper.beep frequency", frequency, minimum=0.0)
        self._instrument.charge(seconds)


class DisplayObject(TspObject):
    """``display``: accepted so drivers that write to the front panel run; nothing is shown."""

    SMUA = 0
    SMUB = 1
    SMUA_SMUB = 2
    USER = 3
    screen = Attr(0, choices=(0, 1, 2, 3), kind=int)

    def __init__(self, instrument: TspInstrument, path: str) -> None:
        super().__init__(instrument, path)
        self._text = ""

    def clear(self) -> None:
        self._text = ""

    def settext(self, text: Any) -> None:
        self._text = string_arg("display.settext", text)

    def setcursor(self, row: Any, column: Any, style: Any = 0) -> None:
        int_arg("display.setcursor row", row, minimum=1, maximum=2)
        int_arg("display.setcursor column", column, minimum=1, maximum=32)


class ScriptObject(TspObject):
    """A named script: ``name()`` or ``name.run()`` runs it; ``source`` is its text."""

    def __init__(self, instrument: TspInstrument, name: str, source: str) -> None:
        super().__init__(instrument, name)
        self._source = source

    @property
    def name(self) -> str:
        return self._path

    @property
    def source(self) -> str:
        return self._source

    def run(self) -> None:
        function = self._instrument._compile_or_raise(self._source, self._path)
        function()

    def __call__(self) -> None:
        self.run()

    def save(self, *args: Any) -> None:
        """Saving to non-volatile memory: the simulated instrument keeps it for its lifetime."""


class ScriptNamespace(TspObject):
    """``script``: ``script.new(code, name)``, ``script.delete(name)``, ``script.user.scripts``."""

    def new(self, code: Any, name: Any = "") -> ScriptObject:
        text = string_arg("script.new code", code)
        script_name = string_arg("script.new name", name) if name else ""
        return self._instrument._define_script(script_name, text)

    def delete(self, name: Any) -> None:
        self._instrument._scripts.pop(string_arg("script.delete name", name), None)

    @property
    def user(self) -> Any:
        scripts = self._instrument.lua.table_from(dict(self._instrument._scripts))
        return self._instrument.lua.table_from({"scripts": scripts})


# -- the instrument -------------------------------------------------------------------------------


def _attribute_filter(obj: Any, name: Any, is_setting: bool) -> Any:
    # Lua may reach only the object model: no dunder or private Python attributes.
    if not isinstance(name, str) or name.startswith("_"):
        raise AttributeError(f"{name!r} is not accessible")
    return name


class TspInstrument(VirtualInstrument):
    """A virtual instrument programmed in TSP (Lua); subclasses add their object model.

    Subclasses set ``model_number`` and implement :meth:`install` (add globals to ``self.lua``)
    and :meth:`reset_model` (their objects' reset); :meth:`reset` is the global ``reset()``.
    """

    manufacturer = "Keithley Instruments Inc."
    model_number = "2600B"
    interrupt_unread_queries = False
    error_queue_size = 100
    #: significant digits of printed numbers after reset (format.asciiprecision)
    ascii_digits = 6

    def __init__(self, world: SimWorld, name: str = "", *, serial: str | None = None) -> None:
        super().__init__(world, name, serial=serial)
        self._timer_origin = self.clock.now()
        self.bus_triggered = False
        self._scripts: dict[str, ScriptObject] = {}
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._script_name: str | None = None
        self._script_lines: list[str] = []
        self._script_run = False
        self.lua = lua51.LuaRuntime(
            # Byte-transparent strings: the bus carries bytes (latin-1 in the twins), any of
            # which a script may hold; UTF-8 would fail on some.
            encoding="latin-1",
            source_encoding="latin-1",
            unpack_returned_tuples=True,
            register_eval=False,
            register_builtins=False,
            attribute_filter=_attribute_filter,
            max_memory=LUA_MEMORY_BYTES,
        )
        self._compile, self._run, collect, safe = self.lua.execute(
            _RUNNER, INSTRUCTION_BUDGET, _HOOK_STEP, WALL_CLOCK_LIMIT_S, time.monotonic, _is_fatal,
            LUA_MEMORY_BYTES, PATTERN_STEP_LIMIT)
        self.lua.execute(_SANDBOX, safe)
        self.lua.globals().collectgarbage = collect
        self.format = FormatObject(self, "format")
        self.errorqueue = ErrorQueueObject(self, "errorqueue")
        self.localnode = LocalNode(self, "localnode")
        self.timer = TimerObject(self, "timer")
        self.beeper = BeeperObject(self, "beeper")
        self.display = DisplayObject(self, "display")
        g = self.lua.globals()
        g.format = self.format
        g.errorqueue = self.errorqueue
        g.localnode = self.localnode
        g.timer = self.timer
        g.beeper = self.beeper
        g.display = self.display
        g.script = ScriptNamespace(self, "script")
        g.print = self._print
        g.printnumber = self._printnumber
        g.printbuffer = self._printbuffer
        g.reset = self.reset
        g.opc = self._opc
        g.waitcomplete = self._waitcomplete
        g.delay = self._delay
        self.install(g)
        self.reset()

    @property
    def model(self) -> str:  # type: ignore[override]
        return f"Model {self.model_number}"

    def identity(self) -> str:
        return f"{self.manufacturer}, Model {self.model_number}, {self.serial}, {self.firmware}"

    def install(self, g: Any) -> None:
        """Add the model's objects to the Lua globals ``g``."""

    def reset_model(self) -> None:
        """Return the model's objects to their reset settings."""

    def reset(self) -> None:
        """The global ``reset()`` (and ``*RST``): every object to its reset settings."""
        self.format._reset_values()
        self.localnode.reset()
        self.beeper._reset_values()
        self.display._reset_values()
        self.reset_model()

    def clear_errors(self) -> None:
        self._errors.clear()

    # -- messages -------------------------------------------------------------------------------

    def handle(self, message: str) -> None:
        for line in message.split("\n"):
            try:
                self._handle_line(line.rstrip("\r"))
            except Exception as error:  # noqa: BLE001 - an instrument never raises into its client
                self.push_error(RUNTIME_ERROR, f"TSP Runtime error at line 0: {type(error).__name__}: {error}"[:200])

    def _handle_line(self, line: str) -> None:
        stripped = line.strip()
        if self._script_name is not None:
            if stripped == "endscript":
                self._end_script()
            else:
                self._script_lines.append(line)
            return
        if not stripped:
            return
        word = stripped.split(None, 1)
        if word[0] in ("loadscript", "loadandrunscript"):
            self._script_name = word[1].strip() if len(word) > 1 else ""
            self._script_lines = []
            self._script_run = word[0] == "loadandrunscript"
            return
        if stripped[0] == "*" and self._common(stripped):
            return
        self.charge(CHUNK_OVERHEAD_S)
        self.execute(line)
        if self.localnode.prompts:
            self.reply("TSP?" if self.error_count else "TSP>")

    def _common(self, command: str) -> bool:
        """IEEE-488.2 common commands; False for anything else (it goes to Lua)."""
        head, _, arg = command.partition(" ")
        head = head.upper()
        if head == "*IDN?":
            self.reply(self.identity())
        elif head == "*RST":
            self.reset()
        elif head == "*CLS":
            self.clear_status()
        elif head == "*OPC?":
            self.reply("1")
        elif head == "*OPC":
            self.esr |= 1
        elif head == "*WAI":
            pass  # operations complete before the next message is taken
        elif head == "*TRG":
            self.bus_triggered = True  # a bus trigger event, for trigger.wait()
        elif head == "*ESR?":
            self.reply(str(self.esr))
            self.esr = 0
        elif head == "*STB?":
            self.reply(str(self.status_byte()))
        elif head in ("*ESE", "*SRE") and arg.strip():
            try:
                value = int(float(arg))
            except ValueError:
                return False
            setattr(self, head[1:].lower(), value & 0xFF)
        elif head in ("*ESE?", "*SRE?"):
            self.reply(str(getattr(self, head[1:4].lower())))
        elif head == "*TST?":
            self.reply("0")
        else:
            return False
        return True

    def _end_script(self) -> None:
        name, source, run = self._script_name or "", "\n".join(self._script_lines), self._script_run
        self._script_name = None
        self._script_lines = []
        self.charge(CHUNK_OVERHEAD_S)
        function, error = self._compile(source, name or "anonymous")
        if function is False:
            self._syntax_error(error)
            return
        script = ScriptObject(self, name or "anonymous", source)
        self._scripts[script.name] = script
        if name:
            self.lua.globals()[name] = script
        if run:
            self._call(function)

    def _define_script(self, name: str, source: str) -> ScriptObject:
        function, error = self._compile(source, name or "anonymous")
        if function is False:
            raise TspRuntimeError(f"script.new: {self._strip_location(error)[1]}")
        script = ScriptObject(self, name or "anonymous", source)
        if name:
            self._scripts[name] = script
            self.lua.globals()[name] = script
        return script

    def _compile_or_raise(self, source: str, name: str) -> Any:
        function, error = self._compile(source, name)
        if function is False:
            raise TspRuntimeError(self._strip_location(error)[1])
        return function

    def execute(self, code: str) -> None:
        """Run one Lua chunk as the instrument would; errors go to the error queue."""
        function = self._cache.get(code)
        if function is None:
            function, error = self._compile(code, "1")
            if function is False:
                self._syntax_error(error)
                return
            self._cache[code] = function
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        self._call(function)

    def _call(self, function: Any) -> None:
        result = self._run(function)
        if result is None:
            return
        error, line = result
        if _is_fatal(error):
            raise error  # Ctrl-C while a script runs: the user's, not a script error
        if isinstance(error, TspError):
            self.push_error(error.code, error.message)
        elif isinstance(error, (TspRuntimeError, AttributeError, TypeError)):
            self.push_error(RUNTIME_ERROR, f"TSP Runtime error at line {line}: {error}")
        elif isinstance(error, lua51.LuaError):
            # An error inside a script run from Python (script.run()): keep its own line.
            inner, text = self._strip_location(str(error).split("\nstack traceback", 1)[0])
            self.push_error(RUNTIME_ERROR, f"TSP Runtime error at line {inner or line}: {text}")
        elif isinstance(error, BaseException):
            # A bug on the simulator's side: still reported the instrument's way, with its type.
            self.push_error(
                RUNTIME_ERROR, f"TSP Runtime error at line {line}: {type(error).__name__}: {error}"
            )
        else:
            _, text = self._strip_location(str(error))
            self.push_error(RUNTIME_ERROR, f"TSP Runtime error at line {line}: {text}")

    @staticmethod
    def _strip_location(message: str) -> tuple[int, str]:
        """``tsp:1:3: msg`` -> (3, "msg"): Lua prefixes messages with chunk name and line."""
        if message.startswith(_CHUNK_PREFIX):
            parts = message.split(":", 3)
            if len(parts) == 4 and parts[2].isdigit():
                return int(parts[2]), parts[3].strip()
        return 0, message

    def _syntax_error(self, error: str) -> None:
        line, text = self._strip_location(str(error))
        self.push_error(SYNTAX_ERROR, f"TSP Syntax error at line {line}: {text}")

    # -- output ---------------------------------------------------------------------------------

    def _text(self, value: Any) -> str:
        if value is None:
            return "nil"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return self.format.number(value)
        if isinstance(value, str):
            return value
        kind = lua51.lua_type(value)
        if kind is not None:
            return f"{kind}: 0x{id(value):08x}"
        return repr(value)

    def _print(self, *values: Any) -> None:
        self.reply("\t".join(self._text(v) for v in values))

    def _binary(self, values: np.ndarray) -> bytes:
        fmt = self.format
        dtype = "f4" if fmt.data == FormatObject.REAL32 else "f8"
        order = "<" if fmt.byteorder == FormatObject.LITTLEENDIAN else ">"
        return b"#0" + np.asarray(values, dtype=order + dtype).tobytes() + self.termination

    def _printnumber(self, *values: Any) -> None:
        numbers = [number_arg("printnumber", v) for v in values]
        if self.format.data == FormatObject.ASCII:
            self.reply(", ".join(self.format.number(v) for v in numbers))
        else:
            self.reply_bytes(self._binary(np.asarray(numbers)))

    def _printbuffer(self, start: Any, end: Any, *buffers: Any) -> None:
        if not buffers:
            raise TspRuntimeError("printbuffer: a reading buffer expected")
        columns = [self._buffer_column(b) for b in buffers]
        first = int_arg("printbuffer startIndex", start)
        last = int_arg("printbuffer endIndex", end)
        size = min(len(c) for c in columns)
        if first < 1 or last > size or first > last:
            raise TspError(PARAMETER_ERROR,
                           f"Parameter error printbuffer indices {first}..{last}: buffer holds {size}")
        block = np.column_stack([c[first - 1:last] for c in columns]).ravel()
        if self.format.data == FormatObject.ASCII:
            digits = self.format.asciiprecision or self.ascii_digits
            self.reply(", ".join(_format_number(v, digits) for v in block.tolist()))
        else:
            self.reply_bytes(self._binary(block))

    def _buffer_column(self, value: Any) -> np.ndarray:
        if isinstance(value, ReadingBuffer):
            return value.column("readings")
        if isinstance(value, BufferColumn):
            return value.values()
        raise TspRuntimeError(f"printbuffer: a reading buffer expected, got {_lua_type(value)}")

    # -- timing ---------------------------------------------------------------------------------

    def _opc(self) -> None:
        self.esr |= 1

    def _waitcomplete(self, *group: Any) -> None:
        """Overlapped operations finish when they are started in the simulation."""

    def _delay(self, seconds: Any) -> None:
        self.charge(number_arg("delay", seconds, minimum=0.0))

