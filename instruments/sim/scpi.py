"""The SCPI parser core shared by the SCPI twins.

Command patterns are written as the manuals write them::

    [SOURce[1|2]:]FUNCtion:PULSe:WIDTh      optional leading node, numeric suffix 1 or 2
    :SOURce[1]:VOLTage[:LEVel][:IMMediate][:AMPLitude]
    SENSe[1]:CURRent[:DC]:NPLCycles
    SYSTem:ERRor[:NEXT]

- Upper-case letters are the short form, the whole word the long form; either is accepted in
  any case, nothing in between (``SOUR`` and ``source`` match ``SOURce``, ``SOURC`` does not).
- ``[:NODE]`` is an optional node; ``[1|2]`` after a keyword allows those numeric suffixes,
  ``[n]`` (or ``[c]``) any; an absent suffix is 1. A suffix the pattern does not allow is
  ``-114 Header suffix out of range``.
- A program message may join commands with ``;``. As SCPI says, a command without a leading
  colon continues from the previous command's path (``:SOUR:VOLT:ILIM 1e-3;LEV 1`` sets
  ``:SOUR:VOLT:LEV``); a leading colon starts from the root; common commands (``*RST``) may
  stand anywhere and leave the path alone.
- Parameters are separated by commas; quoted strings ('..' or "..") and channel lists
  ``(@1,2)`` are kept whole; numbers accept ``MIN``/``MAX``/``DEF`` and unit suffixes with SI
  multipliers (``100mV``, ``25C``, ``1 kHz``).

Errors follow the SCPI codes: ``-113 Undefined header``, ``-109 Missing parameter``,
``-108 Parameter not allowed``, ``-104 Data type error``, ``-224 Illegal parameter value``,
``-222 Data out of range``. A command in error is skipped; the rest of the message still runs
(its queries answer), so a driver reading the reply never waits for nothing.

A twin subclasses :class:`ScpiInstrument` and registers its commands in ``commands(parser)``;
:meth:`ScpiParser.setting` binds a pattern to a key of ``instrument.state`` with a typed
parameter (:class:`Number`, :class:`Boolean`, :class:`Choice`, :class:`Text`) so that plain
settings need no hand-written handler.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from memlab.instruments.sim.base import ESR_OPC, VirtualInstrument
from memlab.instruments.sim.world import SimWorld

Reply = str | bytes | None
#: channels one channel list may name (a range beyond any instrument's is refused, not expanded)
MAX_CHANNELS = 10_000
Handler = Callable[[Any, "Command"], Reply]


class ScpiError(Exception):
    """Raised by handlers; the core puts ``code,"message[;detail]"`` in the error queue."""

    def __init__(self, code: int, message: str, detail: str = "") -> None:
        super().__init__(f"{code},{message}" + (f";{detail}" if detail else ""))
        self.code = code
        self.message = f"{message};{detail}" if detail else message


class ClippedValue(ScpiError):
    """A value beyond a limit that the model clips rather than refuses (Keysight generators):
    the setting takes ``value`` and the error still goes to the queue."""

    def __init__(self, value: float, upper: bool) -> None:
        super().__init__(-222, "Data out of range", f"value clipped to {'upper' if upper else 'lower'} limit")
        self.value = value


def undefined_header(header: str) -> ScpiError:
    return ScpiError(-113, "Undefined header", header)


# -- parameters -----------------------------------------------------------------------------------

_NUMBER = re.compile(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z%]*)\s*$")
_MULTIPLIERS = {"": 1.0, "P": 1e-12, "N": 1e-9, "U": 1e-6, "M": 1e-3, "K": 1e3, "MA": 1e6,
                "G": 1e9}
_SPECIAL = {"MIN": "MIN", "MINIMUM": "MIN", "MAX": "MAX", "MAXIMUM": "MAX", "DEF": "DEF",
            "DEFAULT": "DEF"}


def parse_number(token: str, unit: str = "") -> float:
    """A SCPI decimal number, optionally with ``unit`` and an SI multiplier; -104 otherwise.
    NaN is no setting of any instrument: -224."""
    try:
        value = float(token)
    except ValueError:
        pass
    else:
        if value != value:
            raise ScpiError(-224, "Illegal parameter value", f"{token.strip()!r} is not a number")
        return value
    match = _NUMBER.match(token)
    if match is None:
        upper = token.strip().upper()
        if upper in ("INF", "+INF", "9.9E37"):
            return float("inf")
        if upper == "-INF":
            return float("-inf")
        raise ScpiError(-104, "Data type error", f"expected a number, got {token.strip()!r}")
    value, suffix = float(match.group(1)), match.group(2).upper()
    if not suffix:
        return value
    unit = unit.upper()
    if unit == "HZ" and suffix == "MHZ":  # SCPI: MHZ is megahertz, not millihertz
        return value * 1e6
    if unit and suffix.endswith(unit) and suffix[: -len(unit)] in _MULTIPLIERS:
        return value * _MULTIPLIERS[suffix[: -len(unit)]]
    raise ScpiError(-131, "Invalid suffix", f"{suffix!r} after {match.group(1)}")


def _keyword_alternatives(word: str) -> tuple[str, str]:
    """``"VOLTage"`` -> (``"VOLT"``, ``"VOLTAGE"``)."""
    short = "".join(c for c in word if not c.islower())
    return short, word.upper()


class Param(ABC):
    """A typed parameter of a :meth:`ScpiParser.setting`."""

    @abstractmethod
    def parse(self, token: str) -> Any:
        """The value of a parameter as received; :class:`ScpiError` when it is not one."""

    @abstractmethod
    def format(self, value: Any, instrument: ScpiInstrument) -> str:
        """The value as the instrument writes it in a reply."""


@dataclass(frozen=True)
class Number(Param):
    """A number in [minimum, maximum] (MIN/MAX/DEF allowed); out of range is -222, refused, or
    with ``clip=True`` clipped to the limit (:class:`ClippedValue`)."""

    minimum: float
    maximum: float
    default: float
    unit: str = ""
    integer: bool = False
    clip: bool = False

    def parse(self, token: str) -> float:
        special = _SPECIAL.get(token.strip().upper())
        if special is not None:
            value = {"MIN": self.minimum, "MAX": self.maximum, "DEF": self.default}[special]
        else:
            value = parse_number(token, self.unit)
            if not self.minimum <= value <= self.maximum:
                if self.clip:
                    upper = value > self.maximum
                    limit = self.maximum if upper else self.minimum
                    raise ClippedValue(int(round(limit)) if self.integer else limit, upper)
                raise ScpiError(
                    -222, "Data out of range",
                    f"{token.strip()} not in {self.minimum:g} .. {self.maximum:g}",
                )
        return int(round(value)) if self.integer else value

    def format(self, value: Any, instrument: ScpiInstrument) -> str:
        return str(int(value)) if self.integer else instrument.format_number(value)


@dataclass(frozen=True)
class Boolean(Param):
    """ON/OFF/1/0 (any number: non-zero is on); queries answer 1 or 0."""

    def parse(self, token: str) -> bool:
        return parse_bool(token)

    def format(self, value: Any, instrument: ScpiInstrument) -> str:
        return "1" if value else "0"


def parse_bool(token: str) -> bool:
    upper = token.strip().upper()
    if upper == "ON":
        return True
    if upper == "OFF":
        return False
    try:
        return round(float(upper)) != 0
    except (ValueError, OverflowError):  # not a number, or INF / NAN
        raise ScpiError(-224, "Illegal parameter value", f"expected ON, OFF, 1 or 0, got {token.strip()!r}") from None


class Choice(Param):
    """One of some keywords written as in the manual (``"VOLTage|CURRent"``); the value kept
    and answered is the short form. ``quoted=True``: the manual quotes it (``"CURR"``)."""

    def __init__(self, options: str, *, quoted: bool = False, reply: Mapping[str, str] | None = None):
        self.quoted = quoted
        self.reply = dict(reply or {})
        self.lookup: dict[str, str] = {}
        self.options = options
        for word in options.split("|"):
            short, long = _keyword_alternatives(word)
            self.lookup[short] = short
            self.lookup[long] = short

    def parse(self, token: str) -> str:
        text = token.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1]
        value = self.lookup.get(text.upper())
        if value is None:
            raise ScpiError(-224, "Illegal parameter value", f"{text!r} is not one of {self.options}")
        return value

    def format(self, value: Any, instrument: ScpiInstrument) -> str:
        text = self.reply.get(value, value)
        return f'"{text}"' if self.quoted else text


@dataclass(frozen=True)
class Text(Param):
    """A quoted string (quotes optional on input); answered quoted."""

    def parse(self, token: str) -> str:
        return unquote(token)

    def format(self, value: Any, instrument: ScpiInstrument) -> str:
        return f'"{value}"'


def unquote(token: str) -> str:
    text = token.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        quote = text[0]
        return text[1:-1].replace(quote * 2, quote)
    return text


# -- commands -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Command:
    """One command of a program message, as a handler sees it."""

    header: str  #: absolute, upper case, without '?', e.g. ``SOUR:VOLT:ILIM``
    query: bool
    args: Sequence[str]
    suffixes: tuple[int, ...]

    def expect(self, minimum: int, maximum: int | None = None) -> None:
        """Refuse fewer than ``minimum`` (-109) or more than ``maximum`` (-108) parameters."""
        maximum = minimum if maximum is None else maximum
        count = len(self.args)
        if count < minimum:
            raise ScpiError(-109, "Missing parameter", self.header)
        if count > maximum:
            raise ScpiError(-108, "Parameter not allowed", self.header)

    def number(self, index: int, param: Number) -> float:
        return param.parse(self.args[index])

    def numbers(self, start: int = 0, unit: str = "") -> np.ndarray:
        """All parameters from ``start`` as a float array (lists such as ``LIST:VOLT``)."""
        try:
            values = np.array([float(a) for a in self.args[start:]], dtype=np.float64)
        except ValueError:
            values = np.array([parse_number(a, unit) for a in self.args[start:]], dtype=np.float64)
        if not np.all(np.isfinite(values)):
            raise ScpiError(-222, "Data out of range", f"{self.header}: NaN or infinite value in the list")
        return values

    def special(self, index: int = 0) -> str | None:
        """``"MIN"``, ``"MAX"`` or ``"DEF"`` when that parameter is one, else None."""
        if index >= len(self.args):
            return None
        return _SPECIAL.get(self.args[index].strip().upper())

    def channels(self, index: int = 0) -> list[int]:
        """A channel list ``(@1,2)`` or ``(@101:105)`` as channel numbers."""
        text = self.args[index].strip()
        if not (text.startswith("(@") and text.endswith(")")):
            raise ScpiError(-104, "Data type error", f"expected a channel list (@...), got {text!r}")
        result: list[int] = []
        try:
            for part in text[2:-1].split(","):
                if ":" in part:
                    first, last = (int(x) for x in part.split(":"))
                    if last - first >= MAX_CHANNELS:
                        raise ScpiError(-222, "Data out of range",
                                        f"channel range {first}:{last}: at most {MAX_CHANNELS} channels")
                    result.extend(range(first, last + 1))
                elif part.strip():
                    result.append(int(part))
        except ValueError:
            raise ScpiError(-104, "Data type error", f"bad channel list {text!r}") from None
        return result


@dataclass(frozen=True, slots=True)
class Entry:
    pattern: str
    regex: re.Pattern[str]
    allowed: tuple[frozenset[int] | None, ...]  # per suffix; None: any
    set: Handler | None
    query: Handler | None


Program = tuple[tuple[Handler | None, "Command | ScpiError"], ...]


def _split_outside(text: str, sep: str) -> list[str]:
    """Split on ``sep`` except inside quotes or parentheses."""
    if '"' not in text and "'" not in text and "(" not in text:
        return text.split(sep)
    parts: list[str] = []
    start = depth = 0
    quote = ""
    for i, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


class ScpiParser:
    """A command table compiled from manual-style patterns, with lookup caches."""

    _CACHE_LIMIT = 4096

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._common: dict[str, Entry] = {}
        self._headers: dict[str, tuple[Entry, tuple[int, ...]]] = {}
        self._programs: dict[str, Program] = {}
        #: reset values of the settings registered with :meth:`stored`
        self.defaults: dict[str, Any] = {}

    # -- building the table ----------------------------------------------------------------------

    def add(self, pattern: str, *, set: Handler | None = None, query: Handler | None = None) -> None:
        """Register ``pattern`` (see the module docstring); handlers are ``f(instrument, cmd)``;
        a query handler returns the reply."""
        if set is None and query is None:
            raise ValueError(f"pattern {pattern!r}: give a set or a query handler")
        text = pattern.strip()
        if text.endswith("?"):
            text = text[:-1]
        if text.startswith("*"):
            entry = Entry(pattern, re.compile(re.escape(text.upper())), (), set, query)
            self._common[text.upper()] = entry
            return
        # '[:SOURce]:VOLTage' (optional first node) is '[SOURce:]VOLTage' for an absolute header
        text = re.sub(r"^\[:([A-Za-z]+(?:\[[^\]]*\])?)\]:", r"[\1:]", text).lstrip(":")
        regex, allowed = _compile(text)
        self._entries.append(Entry(pattern, re.compile(regex), allowed, set, query))
        self._headers.clear()
        self._programs.clear()

    def setting(
        self,
        pattern: str,
        key: str,
        param: Param,
        *,
        after: Callable[[Any, Command, Any], None] | None = None,
        readonly: bool = False,
    ) -> None:
        """Bind ``pattern`` to ``instrument.state[key]``: the set form parses one ``param``,
        stores it and calls ``after(instrument, cmd, value)``; the query answers the value (or
        the limit, for ``? MIN|MAX|DEF`` on a :class:`Number`). ``key`` may hold ``{0}``,
        replaced by the command's first numeric suffix (per-channel state)."""
        per_channel = "{" in key

        def query(instrument: Any, cmd: Command) -> str:
            if cmd.args and isinstance(param, Number):
                special = cmd.special(0)
                if special is None:
                    raise ScpiError(-224, "Illegal parameter value", cmd.args[0])
                return param.format(param.parse(special), instrument)
            value = instrument.state[key.format(*cmd.suffixes) if per_channel else key]
            return param.format(value, instrument)

        def set_(instrument: Any, cmd: Command) -> None:
            cmd.expect(1)
            clipped: ClippedValue | None = None
            try:
                value = param.parse(cmd.args[0])
            except ClippedValue as error:
                value, clipped = error.value, error
            instrument.state[key.format(*cmd.suffixes) if per_channel else key] = value
            if after is not None:
                after(instrument, cmd, value)
            if clipped is not None:
                raise clipped

        self.add(pattern, set=None if readonly else set_, query=query)

    def stored(self, pattern: str, key: str, param: Param, default: Any) -> None:
        """A setting the twin accepts, keeps and answers but does not model physically (a
        filter, a sync output): :meth:`setting` plus its reset value. ``{0}``, ``{1}`` in ``key``
        are the command's numeric suffixes (per channel, per user delay)."""
        if "{" not in key:
            self.setting(pattern, key, param)
            self.defaults[key] = default
            return

        def query(instrument: Any, cmd: Command) -> str:
            if cmd.args and isinstance(param, Number):
                special = cmd.special(0)
                if special is None:
                    raise ScpiError(-224, "Illegal parameter value", cmd.args[0])
                return param.format(param.parse(special), instrument)
            return param.format(instrument.state.get(key.format(*cmd.suffixes), default), instrument)

        def set_(instrument: Any, cmd: Command) -> None:
            cmd.expect(1)
            instrument.state[key.format(*cmd.suffixes)] = param.parse(cmd.args[0])

        self.add(pattern, set=set_, query=query)

    # -- lookups ---------------------------------------------------------------------------------

    def lookup(self, header: str) -> tuple[Entry, tuple[int, ...]]:
        """The entry for an absolute upper-case header and its numeric suffixes."""
        found = self._headers.get(header)
        if found is not None:
            return found
        if header.startswith("*"):
            entry = self._common.get(header)
            if entry is None:
                raise undefined_header(header)
            found = (entry, ())
        else:
            found = self._match(header)
        if len(self._headers) > self._CACHE_LIMIT:
            self._headers.clear()
        self._headers[header] = found
        return found

    def _match(self, header: str) -> tuple[Entry, tuple[int, ...]]:
        for entry in self._entries:
            match = entry.regex.fullmatch(header)
            if match is None:
                continue
            suffixes = tuple(int(s) if s else 1 for s in match.groups())
            for value, allowed in zip(suffixes, entry.allowed):
                if allowed is not None and value not in allowed:
                    raise ScpiError(-114, "Header suffix out of range", header)
            return entry, suffixes
        raise undefined_header(header)

    def split(self, message: str) -> list[tuple[str, bool, tuple[str, ...]]]:
        """The commands of a program message: (absolute header, is query, parameters)."""
        commands: list[tuple[str, bool, tuple[str, ...]]] = []
        path: list[str] = []
        for unit in _split_outside(message, ";"):
            unit = unit.strip()
            if not unit:
                continue
            head, *more = unit.split(None, 1)
            rest = more[0] if more else ""
            head = head.upper()
            query = head.endswith("?")
            if query:
                head = head[:-1]
            if head.startswith(":*"):  # some drivers write ":*CLS"
                head = head[1:]
            if head.startswith("*"):
                absolute = head
            elif head.startswith(":"):
                absolute = head[1:]
                path = absolute.split(":")[:-1]
            else:
                absolute = ":".join([*path, head]) if path else head
                path = absolute.split(":")[:-1]
            args = tuple(a.strip() for a in _split_outside(rest, ",")) if rest else ()
            commands.append((absolute, query, args))
        return commands

    def program(self, message: str) -> Program:
        """The message compiled to steps: ``(handler, command)`` to run, or ``(None, error)``
        for a command that does not exist. Cached: drivers send the same strings again."""
        steps = self._programs.get(message)
        if steps is not None:
            return steps
        compiled: list[tuple[Handler | None, Command | ScpiError]] = []
        for header, query, args in self.split(message):
            try:
                entry, suffixes = self.lookup(header)
                handler = entry.query if query else entry.set
                if handler is None:
                    raise undefined_header(header + ("?" if query else ""))
                compiled.append((handler, Command(header, query, args, suffixes)))
            except ScpiError as error:
                compiled.append((None, error))
        steps = tuple(compiled)
        if len(self._programs) > self._CACHE_LIMIT:
            self._programs.clear()
        self._programs[message] = steps
        return steps


_SUFFIX_SPEC = re.compile(r"\d+(?:\|\d+)*|[a-z]")


def _compile(pattern: str) -> tuple[str, tuple[frozenset[int] | None, ...]]:
    """Manual-style pattern -> regex over an absolute upper-case header (no leading colon)."""
    allowed: list[frozenset[int] | None] = []
    pos = 0

    def sequence(closing: str) -> str:
        nonlocal pos
        out: list[str] = []
        while pos < len(pattern) and pattern[pos] != closing:
            char = pattern[pos]
            if char == ":":
                out.append(":")
                pos += 1
            elif char == "[":
                pos += 1
                inner = sequence("]")
                pos += 1  # the ']'
                out.append(f"(?:{inner})?")
            elif char.isalpha() or char == "_":
                start = pos
                while pos < len(pattern) and (pattern[pos].isalpha() or pattern[pos] == "_"):
                    pos += 1
                short, long = _keyword_alternatives(pattern[start:pos])
                out.append(f"(?:{re.escape(long)}|{re.escape(short)})" if short != long else re.escape(long))
                if pos < len(pattern) and pattern[pos] == "[":
                    close = pattern.find("]", pos)
                    spec = pattern[pos + 1:close]
                    if _SUFFIX_SPEC.fullmatch(spec):
                        pos = close + 1
                        allowed.append(None if spec.isalpha() else frozenset(int(s) for s in spec.split("|")))
                        out.append(r"(\d*)")
                    # otherwise an optional node follows the keyword
                elif pos < len(pattern) and pattern[pos].isdigit():
                    # a fixed numeric part of the keyword, as in 'INT2' (not a suffix)
                    start = pos
                    while pos < len(pattern) and pattern[pos].isdigit():
                        pos += 1
                    out.append(pattern[start:pos])
            else:
                raise ValueError(f"SCPI pattern {pattern!r}: unexpected {char!r} at {pos}")
        return "".join(out)

    return sequence(""), tuple(allowed)


# -- the SCPI instrument ----------------------------------------------------------------------------


class ScpiInstrument(VirtualInstrument):
    """A virtual instrument whose command language is SCPI.

    Subclasses extend :meth:`commands` (calling ``super().commands(parser)``), set ``defaults``
    (the ``*RST`` state) and may override :meth:`format_number` and :meth:`trigger`. The parser
    is compiled once per class.
    """

    defaults: ClassVar[dict[str, Any]] = {}
    _parsers: ClassVar[dict[type, ScpiParser]] = {}

    def __init__(self, world: SimWorld, name: str = "", *, serial: str | None = None) -> None:
        super().__init__(world, name, serial=serial)
        self.state: dict[str, Any] = {}
        self.conditions = {"oper": 0, "ques": 0}
        self.events = {"oper": 0, "ques": 0}
        self.enables = {"oper": 0, "ques": 0}
        self.parser = self._parser_for_class()
        self.reset()

    @classmethod
    def _parser_for_class(cls) -> ScpiParser:
        parser = ScpiInstrument._parsers.get(cls)
        if parser is None:
            parser = ScpiParser()
            cls.commands(parser)
            ScpiInstrument._parsers[cls] = parser
        return parser

    @classmethod
    def commands(cls, p: ScpiParser) -> None:
        """IEEE-488.2 common commands and the SCPI-mandated SYSTem/STATus ones."""
        p.add("*IDN", query=lambda i, c: i.identity())
        p.add("*RST", set=lambda i, c: i.reset())
        p.add("*CLS", set=lambda i, c: i.clear_status())
        p.add("*OPC", set=ScpiInstrument._set_opc, query=lambda i, c: "1")
        p.add("*WAI", set=lambda i, c: None)  # every operation completes before the next command
        p.add("*TRG", set=lambda i, c: i.trigger())
        p.add("*TST", query=lambda i, c: "0")
        p.add("*ESR", query=ScpiInstrument._query_esr)
        p.add("*ESE", set=ScpiInstrument._set_ese, query=lambda i, c: str(i.ese))
        p.add("*SRE", set=ScpiInstrument._set_sre, query=lambda i, c: str(i.sre))
        p.add("*STB", query=lambda i, c: str(i.status_byte()))
        p.add("SYSTem:ERRor[:NEXT]", query=lambda i, c: i.format_error(*i.pop_error()))
        p.add("SYSTem:ERRor:COUNt", query=lambda i, c: str(i.error_count))
        p.add("SYSTem:ERRor:ALL", query=ScpiInstrument._query_all_errors)
        p.add("SYSTem:VERSion", query=lambda i, c: "1999.0")
        p.add("STATus:PRESet", set=ScpiInstrument._status_preset)
        # The SCPI status registers: what the twins do not signal stays 0, enables are kept.
        for register in ("OPERation", "QUEStionable"):
            key = register[:4].lower()
            p.add(f"STATus:{register}[:EVENt]", query=ScpiInstrument._status_event(key))
            p.add(f"STATus:{register}:CONDition", query=lambda i, c, k=key: str(i.conditions[k]))
            p.add(f"STATus:{register}:ENABle", set=ScpiInstrument._status_enable(key),
                  query=lambda i, c, k=key: str(i.enables[k]))
        p.add("STATus:CLEar", set=lambda i, c: i.events.update(oper=0, ques=0))

    def _set_opc(self, cmd: Command) -> None:
        self.esr |= ESR_OPC

    def _query_esr(self, cmd: Command) -> str:
        value, self.esr = self.esr, 0
        return str(value)

    def _set_ese(self, cmd: Command) -> None:
        cmd.expect(1)
        self.ese = int(Number(0, 255, 0, integer=True).parse(cmd.args[0]))

    def _set_sre(self, cmd: Command) -> None:
        cmd.expect(1)
        self.sre = int(Number(0, 255, 0, integer=True).parse(cmd.args[0]))

    def _status_preset(self, cmd: Command) -> None:
        self.ese = 0
        self.enables.update(oper=0, ques=0)

    @staticmethod
    def _status_event(key: str) -> Handler:
        def handler(self: ScpiInstrument, cmd: Command) -> str:
            value, self.events[key] = self.events[key], 0  # reading an event register clears it
            return str(value)
        return handler

    @staticmethod
    def _status_enable(key: str) -> Handler:
        def handler(self: ScpiInstrument, cmd: Command) -> None:
            cmd.expect(1)
            self.enables[key] = int(Number(0, 65535, 0, integer=True).parse(cmd.args[0]))
        return handler

    def status_byte(self) -> int:
        stb = super().status_byte()
        if self.events["ques"] & self.enables["ques"]:
            stb |= 8  # QSB
        if self.events["oper"] & self.enables["oper"]:
            stb |= 128  # OSB
        return stb

    def clear_status(self) -> None:
        super().clear_status()
        self.events.update(oper=0, ques=0)

    def _query_all_errors(self, cmd: Command) -> str:
        entries = []
        while self.error_count:
            entries.append(self.format_error(*self.pop_error()))
        return ",".join(entries) or self.format_error(0, "No error")

    def reset(self) -> None:
        self.state = dict(self.defaults)
        self.state.update(self.parser.defaults)

    def trigger(self) -> None:
        """``*TRG``; instruments without a bus trigger ignore it, as the standard allows."""
        self.push_error(-211, "Trigger ignored")

    def format_number(self, value: float) -> str:
        """How this model writes a number in a reply."""
        return f"{value:.6E}"

    def handle(self, message: str) -> None:
        replies: list[str] = []
        for handler, cmd in self.parser.program(message):
            try:
                if handler is None:
                    raise cmd  # type: ignore[misc]  # a compiled lookup error
                result = handler(self, cmd)
            except ScpiError as error:
                self.push_error(error.code, error.message)
                continue
            except MemoryError:
                self.push_error(-225, f"Out of memory;{cmd.header}")
                continue
            except (ValueError, TypeError, OverflowError, ArithmeticError, IndexError, KeyError) as error:
                # A value the handler could not use: the command is refused as the instrument
                # refuses an illegal value, never an exception into the VISA client.
                self.push_error(-224, f"Illegal parameter value;{cmd.header}: {error}")
                continue
            if result is None:
                continue
            if isinstance(result, bytes):
                if replies:
                    self.reply(";".join(replies))
                    replies = []
                self.reply_bytes(result)
            else:
                replies.append(result)
        if replies:
            self.reply(";".join(replies))
