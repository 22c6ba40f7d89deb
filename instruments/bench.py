"""A bench: the instruments by role, the chip, the wiring, the safety limits, from a TOML file.

``load_bench(path)`` reads a bench file (docs/bench-file.md has the schema) and returns a
:class:`Bench` whose role attributes (``smu``, ``pulser``, ``laser``, ``switch``, ``power_meter``)
are driver instances implementing :mod:`memlab.instruments.interfaces`, or None when the bench lacks
that role. ``load_bench()`` without a file gives the built-in simulated bench
(``instruments/default_bench.toml``: a 2450, a 33500B, an ITC4001, a PM100 and a 707B on a
16 x 16 prGO chip); ``load_bench(None, family="optomemristor")`` the same on an optomemristor chip.

Simulated instruments are twins (``instruments/sim/``) on one :class:`~instruments.sim.world.SimWorld`
(chip, virtual clock, routes, light), reached by the very driver classes that run on hardware
through an in-process :class:`~instruments.sim.adapter.SimAdapter`. Real instruments are opened
by address through pymeasure's VISA adapter. :func:`build_simulation` builds the world and twins
alone; the pyvisa backend ``@memsim`` (package ``pyvisa_memsim``) serves them by resource name.

A malformed file raises :class:`BenchFileError`, naming the file, the key and what is expected,
before any instrument is touched.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlab.instruments.calibration import LaserCalibration
from memlab.instruments.clock import Clock, WallClock
from memlab.instruments.interfaces import (
    CrossbarWiring,
    InstrumentRole,
    LightSource,
    PowerMeter,
    PulseGenerator,
    SourceMeter,
    SwitchMatrix,
)
from memlab.instruments.limits import SafetyLimits
from memlab.instruments.safety import shutdown_and_verify

log = logging.getLogger(__name__)

DEFAULT_BENCH = Path(__file__).with_name("default_bench.toml")

#: role -> the interface its driver implements, in the order instruments are opened
ROLES: dict[str, type[InstrumentRole]] = {
    "smu": SourceMeter,
    "pulser": PulseGenerator,
    "laser": LightSource,
    "switch": SwitchMatrix,
    "power_meter": PowerMeter,
}
#: safe-shutdown order: light and outputs first, relays last
SHUTDOWN_ORDER = ("laser", "pulser", "smu", "power_meter", "switch")
#: the terminal a role drives through the wiring, unless the file says otherwise
DEFAULT_TERMINALS = {"smu": "smu", "pulser": "pulse"}
DRIVER_MODULES = ("memlab.instruments.keithley", "memlab.instruments.keysight", "memlab.instruments.thorlabs")
#: driver class name -> "module:Class" of its simulated twin
TWINS: dict[str, str] = {
    "Keithley2450": "memlab.instruments.sim.keithley2450:Keithley2450",
    "Keithley2600B": "memlab.instruments.sim.keithley2600:Keithley2600BTwin",
    "Keithley707B": "memlab.instruments.sim.keithley707b:Keithley707BTwin",
    "Keysight33500B": "memlab.instruments.sim.pulse_generators:Keysight33500B",
    "Keysight81160A": "memlab.instruments.sim.pulse_generators:Keysight81160A",
    "KeysightB2900": "memlab.instruments.sim.keysight_b2900:KeysightB2900",
    "ThorlabsITC4001": "memlab.instruments.sim.thorlabs:ThorlabsITC4001",
    "ThorlabsCLD101x": "memlab.instruments.sim.thorlabs:ThorlabsCLD101x",
    "ThorlabsPM100": "memlab.instruments.sim.thorlabs:ThorlabsPM100",
}
#: a laser calibration without a wavelength: the simulated diode's (red, in both chips' bands)
DEFAULT_WAVELENGTH_M = 635e-9
FAMILIES = ("prgo", "optomemristor")
ARRAYS = ("1t1r", "passive")
BIAS_SCHEMES = ("v/2", "v/3", "grounded")
CHIP_FAULTS = ("open", "short", "stuck", "noisy", "none")

_TOP_KEYS = {"bench", "chip", "limits", "instruments", "wiring", "optics"}
_BENCH_KEYS = {"name", "line_frequency_hz", "realtime", "speed"}
_CHIP_KEYS = {"family", "rows", "cols", "seed", "array", "bias_scheme", "formed", "overrides", "faults"}
_INSTRUMENT_KEYS = {"driver", "address", "simulated", "timeout_s", "model", "terminal", "serial",
                    "options", "faults", "calibration"}
_FAULT_KEYS = {"timeout_after", "disconnect_after", "garble_every", "errors", "dead", "seed"}
_WIRING_KEYS = {"terminals", "row_pads", "col_pads", "direct"}
_OPTICS_KEYS = {"coupling_efficiency", "meter_fraction", "spot_rows", "spot_cols"}
#: driver options that describe the bench itself, so a simulated twin takes them too: the pulse
#: generator's termination at the device, the power meter's sensor head
TWIN_OPTIONS = ("termination_ohm", "sensor")


class BenchFileError(ValueError):
    """A bench file that cannot be used: names the file, the key and what is expected."""

    def __init__(self, file: str, key: str, expected: str) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        super().__init__(f"{file}: {key}: {expected}")


class BenchConnectionError(RuntimeError):
    """Instruments of a bench could not be opened; ``errors`` maps role -> message."""

    def __init__(self, file: str, errors: Mapping[str, str]) -> None:
        self.file = file
        self.errors = dict(errors)
        listed = "; ".join(f"{role}: {message}" for role, message in self.errors.items())
        super().__init__(f"{file}: could not open {listed}")


# -- the parsed file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentConfig:
    """One ``[instruments.<role>]`` table."""

    role: str
    driver: str
    driver_class: type
    address: str
    simulated: bool
    timeout_s: float
    model: str | None
    terminal: str | None
    serial: str | None
    options: dict[str, Any]
    faults: dict[str, Any]
    calibration: LaserCalibration | None


@dataclass(frozen=True)
class ChipConfig:
    family: str = "prgo"
    rows: int = 16
    cols: int = 16
    seed: int = 0
    array: str = "1t1r"
    bias_scheme: str = "v/2"
    formed: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)
    faults: tuple[tuple[int, int, str, float | None], ...] = ()


@dataclass(frozen=True)
class BenchConfig:
    """A validated bench file."""

    file: str
    name: str
    line_frequency_hz: float
    realtime: bool
    speed: float
    chip: ChipConfig
    limits: SafetyLimits
    instruments: dict[str, InstrumentConfig]
    wiring: CrossbarWiring | None
    direct: dict[str, tuple[int, int]]
    coupling_efficiency: float
    meter_fraction: float
    spot: tuple[tuple[int, int], tuple[int, int]]

    @property
    def simulated(self) -> bool:
        """Whether any instrument is simulated (then the bench has a simulated chip)."""
        return any(i.simulated for i in self.instruments.values())


class _Reader:
    """Typed access to the TOML tables, raising BenchFileError with the dotted key."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, expected: str) -> BenchFileError:
        return BenchFileError(self.file, key, expected)

    def table(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        """``value`` as a table whose keys are all in ``allowed`` (a typo must not be ignored)."""
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a table, got {value!r}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            raise self.fail(where, f"unknown key; allowed keys here: {', '.join(sorted(allowed))}")
        return dict(value)

    def integer(self, data: Mapping[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"expected an integer {low} .. {high}, got {value!r}")
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str, default: float,
               low: float = -math.inf, high: float = math.inf) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low <= value <= high:
            raise self.fail(path, f"expected a number {low:g} .. {high:g}, got {value!r}")
        return float(value)

    def choice(self, data: Mapping[str, Any], key: str, path: str, default: str, allowed: tuple[str, ...]) -> str:
        value = data.get(key, default)
        if value not in allowed:
            raise self.fail(path, f"expected one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
        return value

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {value!r}")
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str, default: str | None) -> str | None:
        value = data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(path, f"expected a non-empty string, got {value!r}")
        return value

    def span(self, data: Mapping[str, Any], key: str, path: str, size: int) -> tuple[int, int]:
        value = data.get(key, [0, size])
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or not 0 <= value[0] < value[1] <= size):
            raise self.fail(path, f"expected [first, end] with 0 <= first < end <= {size} "
                                  f"(a half-open range of chip lines), got {value!r}")
        return value[0], value[1]


def _find_driver(reader: _Reader, path: str, name: Any, interface: type[InstrumentRole]) -> type:
    if not isinstance(name, str) or not name:
        raise reader.fail(path, "expected a driver class name, e.g. 'Keithley2450' or 'package.module:Class'")
    candidates: list[type] = []
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        try:
            found = getattr(importlib.import_module(module_name), class_name, None)
        except ImportError as exc:
            raise reader.fail(path, f"cannot import {module_name!r}: {exc}") from None
        if isinstance(found, type):
            candidates.append(found)
    else:
        for module_name in DRIVER_MODULES:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            found = getattr(module, name, None)
            if isinstance(found, type):
                candidates.append(found)
    if not candidates:
        raise reader.fail(path, f"no driver class {name!r} in {', '.join(DRIVER_MODULES)} "
                                "(or give 'package.module:Class')")
    driver = candidates[0]
    if not issubclass(driver, interface):
        raise reader.fail(path, f"{name!r} is not a {interface.__name__} driver, which this role needs")
    return driver


#: what pymeasure passes on to the VISA connection of a real instrument
_VISA_KEYWORDS = {"visa_library", "read_termination", "write_termination", "timeout", "baud_rate",
                  "query_delay", "send_end", "chunk_size", "encoding", "includeSCPI", "preprocess_reply"}


def _driver_keywords(driver_class: type) -> set[str]:
    """The keyword arguments a driver names in its own or its bases' constructors (``**kwargs``
    passes them down the MRO, so the names are collected from every class)."""
    names = set(_VISA_KEYWORDS)
    for klass in driver_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names |= {p.name for p in parameters
                  if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    return names - {"self", "adapter", "name", "kwargs"}


def _keyword_default(driver_class: type, keyword: str) -> Any:
    """The default of ``keyword`` in the first constructor of the MRO that names it, or None."""
    for klass in driver_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameter = inspect.signature(init).parameters.get(keyword)
        except (TypeError, ValueError):
            continue
        if parameter is not None:
            return None if parameter.default is inspect.Parameter.empty else parameter.default
    return None


def _read_faults(reader: _Reader, data: Any, path: str) -> dict[str, Any]:
    faults = reader.table(data, path, _FAULT_KEYS)
    result: dict[str, Any] = {}
    for key in ("timeout_after", "disconnect_after"):
        if key in faults:
            result[key] = reader.integer(faults, key, f"{path}.{key}", 0, 0, 10**12)
    if "garble_every" in faults:
        result["garble_every"] = reader.integer(faults, "garble_every", f"{path}.garble_every", 0, 0, 10**12)
    if "seed" in faults:
        result["seed"] = reader.integer(faults, "seed", f"{path}.seed", 0, 0, 2**32 - 1)
    if reader.boolean(faults, "dead", f"{path}.dead", False):
        result["timeout_after"] = 0  # a dead instrument answers nothing at all
    errors = faults.get("errors", [])
    if not isinstance(errors, list):
        raise reader.fail(f"{path}.errors", f"expected a list of [code, message] pairs, got {errors!r}")
    pairs = []
    for index, entry in enumerate(errors):
        if (not isinstance(entry, list) or len(entry) != 2 or isinstance(entry[0], bool)
                or not isinstance(entry[0], int) or not isinstance(entry[1], str)):
            raise reader.fail(f"{path}.errors[{index}]", f"expected [code, \"message\"], got {entry!r}")
        pairs.append((entry[0], entry[1]))
    if pairs:
        result["errors"] = pairs
    return result


def _read_instrument(reader: _Reader, role: str, data: Any) -> InstrumentConfig:
    path = f"instruments.{role}"
    table = reader.table(data, path, _INSTRUMENT_KEYS)
    if "driver" not in table:
        raise reader.fail(f"{path}.driver", "missing: name the driver class, e.g. 'Keithley2450'")
    driver_class = _find_driver(reader, f"{path}.driver", table["driver"], ROLES[role])
    simulated = reader.boolean(table, "simulated", f"{path}.simulated", True)
    address = reader.text(table, "address", f"{path}.address", None)
    if address is None:
        if not simulated:
            raise reader.fail(f"{path}.address", "missing: a real instrument needs its VISA address")
        address = f"TCPIP0::memsim::{role}::INSTR"
    if simulated and table["driver"] not in TWINS and ":" not in str(table["driver"]):
        raise reader.fail(f"{path}.simulated", f"no simulated twin for {table['driver']!r}; simulated drivers: "
                                               f"{', '.join(sorted(TWINS))}")
    if not simulated and "faults" in table:
        raise reader.fail(f"{path}.faults", "fault injection applies to simulated instruments only")
    options = table.get("options", {})
    if not isinstance(options, Mapping):
        raise reader.fail(f"{path}.options", f"expected a table of driver keyword arguments, got {options!r}")
    accepted = _driver_keywords(driver_class)
    for key in options:
        if key in ("adapter", "name", "limits", "wiring", "calibration", "clock") or key not in accepted:
            raise reader.fail(f"{path}.options.{key}", f"not a keyword argument {driver_class.__name__} accepts "
                                                       f"from the bench file; allowed: {', '.join(sorted(accepted))}")
    if "termination_ohm" in options:
        # Checked here, not when the driver opens: a real bench must not fail halfway through opening.
        reader.number(options, "termination_ohm", f"{path}.options.termination_ohm", 50.0, 1.0, 10e3)
    sensors = getattr(driver_class, "sensors", None)
    if "sensor" in options and isinstance(sensors, Mapping):
        reader.choice(options, "sensor", f"{path}.options.sensor", "", tuple(sorted(sensors)))
    calibration = None
    if "calibration" in table:
        if role != "laser":
            raise reader.fail(f"{path}.calibration", "only the laser has a calibration")
        if not isinstance(table["calibration"], Mapping):
            raise reader.fail(f"{path}.calibration", "expected a table")
        try:
            calibration = LaserCalibration.from_mapping(table["calibration"])
        except ValueError as exc:
            raise reader.fail(f"{path}.calibration", str(exc)) from None
    elif role == "laser":
        raise reader.fail(f"{path}.calibration", "missing: the laser needs its current -> power calibration "
                                                  "(threshold_a, slope_w_per_a, max_current_a or current_a/power_w)")
    return InstrumentConfig(
        role=role,
        driver=str(table["driver"]),
        driver_class=driver_class,
        address=address,
        simulated=simulated,
        timeout_s=reader.number(table, "timeout_s", f"{path}.timeout_s", 2.0, 1e-3, 3600.0),
        model=reader.text(table, "model", f"{path}.model", None),
        terminal=reader.text(table, "terminal", f"{path}.terminal", DEFAULT_TERMINALS.get(role)),
        serial=reader.text(table, "serial", f"{path}.serial", None),
        options=dict(options),
        faults=_read_faults(reader, table.get("faults", {}), f"{path}.faults") if simulated else {},
        calibration=calibration,
    )


def _read_chip(reader: _Reader, data: Mapping[str, Any], family: str | None) -> ChipConfig:
    chip = reader.table(data.get("chip", {}), "chip", _CHIP_KEYS)
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family={family!r}: allowed {', '.join(FAMILIES)}")
    rows = reader.integer(chip, "rows", "chip.rows", 16, 1, 4096)
    cols = reader.integer(chip, "cols", "chip.cols", 16, 1, 4096)
    overrides = chip.get("overrides", {})
    if not isinstance(overrides, Mapping):
        raise reader.fail("chip.overrides", f"expected a table of chip parameters, got {overrides!r}")
    chosen_family = family or reader.choice(chip, "family", "chip.family", "prgo", FAMILIES)
    from memlab.instruments.sim.chip.presets import resolve_params

    try:
        resolve_params(chosen_family, dict(overrides))
    except ValueError as exc:
        raise reader.fail("chip.overrides", str(exc)) from None
    faults_data = chip.get("faults", [])
    if not isinstance(faults_data, list):
        raise reader.fail("chip.faults", "expected an array of tables ([[chip.faults]])")
    faults = []
    for index, entry in enumerate(faults_data):
        path = f"chip.faults[{index}]"
        table = reader.table(entry, path, {"row", "col", "kind", "value"})
        for key in ("row", "col", "kind"):
            if key not in table:
                raise reader.fail(f"{path}.{key}", "missing")
        row = reader.integer(table, "row", f"{path}.row", 0, 0, rows - 1)
        col = reader.integer(table, "col", f"{path}.col", 0, 0, cols - 1)
        kind = reader.choice(table, "kind", f"{path}.kind", "none", CHIP_FAULTS)
        value = reader.number(table, "value", f"{path}.value", 0.0) if "value" in table else None
        faults.append((row, col, kind, value))
    return ChipConfig(
        family=chosen_family,
        rows=rows,
        cols=cols,
        seed=reader.integer(chip, "seed", "chip.seed", 0, 0, 2**32 - 1),
        array=reader.choice(chip, "array", "chip.array", "1t1r", ARRAYS),
        bias_scheme=reader.choice(chip, "bias_scheme", "chip.bias_scheme", "v/2", BIAS_SCHEMES),
        formed=reader.boolean(chip, "formed", "chip.formed", True),
        overrides=dict(overrides),
        faults=tuple(faults),
    )


def _read_wiring(
    reader: _Reader, data: Mapping[str, Any], chip: ChipConfig, instruments: Mapping[str, InstrumentConfig]
) -> tuple[CrossbarWiring | None, dict[str, tuple[int, int]]]:
    wiring = reader.table(data.get("wiring", {}), "wiring", _WIRING_KEYS)
    direct: dict[str, tuple[int, int]] = {}
    if not isinstance(wiring.get("direct", {}), Mapping):
        raise reader.fail("wiring.direct", "expected a table: terminal = [row, col]")
    for terminal, device in dict(wiring.get("direct", {})).items():
        if (not isinstance(device, list) or len(device) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in device)
                or not (0 <= device[0] < chip.rows and 0 <= device[1] < chip.cols)):
            raise reader.fail(f"wiring.direct.{terminal}", f"expected [row, col] of a device on the "
                                                           f"{chip.rows} x {chip.cols} chip, got {device!r}")
        direct[terminal] = (device[0], device[1])
    switch_keys = {"terminals", "row_pads", "col_pads"} & set(wiring)
    if "switch" not in instruments:
        if switch_keys:
            raise reader.fail(f"wiring.{sorted(switch_keys)[0]}", "the bench has no switch: wire devices "
                                                                  "with wiring.direct = { smu = [row, col] }")
        return None, direct
    if direct:
        raise reader.fail("wiring.direct", "the bench has a switch: routes are set by the switch, not fixed")
    try:
        if {"row_pads", "col_pads"} <= switch_keys:
            crossbar = CrossbarWiring.from_mapping({
                "terminals": wiring.get("terminals", {"smu": ["A", "B"], "pulse": ["C", "D"]}),
                "row_pads": wiring["row_pads"], "col_pads": wiring["col_pads"]})
        elif switch_keys - {"terminals"}:
            raise reader.fail("wiring", "give both row_pads and col_pads, or neither (default pads)")
        else:
            terminals = wiring.get("terminals")
            crossbar = CrossbarWiring.default(
                chip.rows, chip.cols,
                terminals={k: tuple(v) for k, v in dict(terminals).items()} if terminals is not None else None)
    except BenchFileError:
        raise
    except (ValueError, TypeError) as exc:
        raise reader.fail("wiring", str(exc)) from None
    if len(crossbar.row_pads) < chip.rows or len(crossbar.col_pads) < chip.cols:
        raise reader.fail("wiring.row_pads", f"{len(crossbar.row_pads)} row pads and {len(crossbar.col_pads)} "
                                             f"column pads for a {chip.rows} x {chip.cols} chip: wire every line")
    for role in ("smu", "pulser"):
        config = instruments.get(role)
        if config is not None and config.terminal not in crossbar.terminals:
            raise reader.fail(f"instruments.{role}.terminal", f"{config.terminal!r} is not wired to the "
                                                              f"switch; wired: {sorted(crossbar.terminals)}")
    return crossbar, direct


def read_bench_config(path: str | Path | None = None, *, family: str | None = None) -> BenchConfig:
    """Read and check a bench file (None: the built-in simulated bench); ``family`` overrides the
    chip's family. Raises :class:`BenchFileError` naming the file, the key and what is expected."""
    source = Path(path) if path is not None else DEFAULT_BENCH
    file = str(path) if path is not None else "<built-in bench>"
    reader = _Reader(file)
    try:
        with open(source, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise BenchFileError(file, "(file)", "the file does not exist") from None
    except OSError as exc:
        raise BenchFileError(file, "(file)", f"cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchFileError(file, "(syntax)", f"not valid TOML: {exc}") from None
    reader.table(data, "", _TOP_KEYS)
    bench = reader.table(data.get("bench", {}), "bench", _BENCH_KEYS)
    chip = _read_chip(reader, data, family)
    limits_data = data.get("limits", {})
    if not isinstance(limits_data, Mapping):
        raise reader.fail("limits", "expected a table of safety limits")
    for key, value in limits_data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise reader.fail(f"limits.{key}", f"expected a number, got {value!r}")
    try:
        limits = SafetyLimits.from_mapping(limits_data)
    except ValueError as exc:
        raise reader.fail("limits", str(exc)) from None
    instruments_data = reader.table(data.get("instruments", {}), "instruments", set(ROLES))
    instruments = {role: _read_instrument(reader, role, instruments_data[role])
                   for role in ROLES if role in instruments_data}
    wiring, direct = _read_wiring(reader, data, chip, instruments)
    optics = reader.table(data.get("optics", {}), "optics", _OPTICS_KEYS)
    return BenchConfig(
        file=file,
        name=reader.text(bench, "name", "bench.name", Path(file).stem if path is not None else "default") or "",
        line_frequency_hz=reader.choice(bench, "line_frequency_hz", "bench.line_frequency_hz", 50, (50, 60)),
        realtime=reader.boolean(bench, "realtime", "bench.realtime", False),
        speed=reader.number(bench, "speed", "bench.speed", 1.0, 1e-6, 1e9),
        chip=chip,
        limits=limits,
        instruments=instruments,
        wiring=wiring,
        direct=direct,
        coupling_efficiency=reader.number(optics, "coupling_efficiency", "optics.coupling_efficiency", 1.0, 0.0, 1.0),
        meter_fraction=reader.number(optics, "meter_fraction", "optics.meter_fraction", 1.0, 0.0, 1.0),
        spot=(reader.span(optics, "spot_rows", "optics.spot_rows", chip.rows),
              reader.span(optics, "spot_cols", "optics.spot_cols", chip.cols)),
    )


# -- simulation -----------------------------------------------------------------------------------


def _import(target: str) -> Any:
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)


def _twin_class(config: InstrumentConfig) -> type:
    target = TWINS.get(config.driver) or TWINS.get(config.driver_class.__name__)
    if target is None:
        raise BenchFileError("", f"instruments.{config.role}.simulated",
                             f"no simulated twin for {config.driver!r}")
    try:
        return _import(target)
    except (ImportError, AttributeError) as exc:
        raise RuntimeError(f"the simulated twin of {config.driver} ({target}) is not available: {exc}") from exc


def _usb_serial(address: str) -> str | None:
    """The serial number in a USB resource name (``USB0::vid::pid::serial::INSTR``): a twin at
    that address reports it in ``*IDN?``, as the real instrument would."""
    parts = address.split("::")
    if parts[0].upper().startswith("USB") and len(parts) >= 5:
        return parts[3]
    return None


def _twin_kwargs(twin_class: type, config: InstrumentConfig, bench: BenchConfig) -> dict[str, Any]:
    """What the bench knows that this twin's constructor takes."""
    offered: dict[str, Any] = {
        "serial": config.serial or _usb_serial(config.address),
        "terminal": config.terminal,
        "wiring": bench.wiring,
        "calibration": config.calibration,
        "line_frequency_hz": float(bench.line_frequency_hz),
        "model_number": config.model,
        "variant": config.model,
    }
    if config.calibration is not None and "diode" in inspect.signature(twin_class.__init__).parameters:
        # The simulated diode is exactly what the calibration says: the meter must agree with it.
        from memlab.instruments.sim.thorlabs import LaserDiode

        calibration = config.calibration
        offered["diode"] = LaserDiode(calibration.current_a, calibration.power_w,
                                      calibration.wavelength_m or DEFAULT_WAVELENGTH_M)
    channel = config.options.get("channel", _keyword_default(config.driver_class, "channel"))
    if config.terminal is not None and channel is not None:
        # The channel the driver uses (a letter on a 2600B, a number elsewhere) drives the terminal;
        # a two-channel twin's other channel gets a terminal of its own that nothing is wired to.
        terminals: dict[Any, str] = {channel: config.terminal}
        if isinstance(channel, int):
            terminals = {n: f"{config.role}:ch{n}" for n in (1, 2)} | terminals
        offered["terminals"] = terminals
    for key in TWIN_OPTIONS:
        if key in config.options:
            offered[key] = config.options[key]
    parameters = inspect.signature(twin_class.__init__).parameters
    return {key: value for key, value in offered.items() if key in parameters and value is not None}


def build_simulation(config: BenchConfig) -> tuple[Any, dict[str, Any]]:
    """The simulated part of a bench: its :class:`SimWorld` and a twin per simulated role.

    Returns ``(world, {role: twin})``; the world is None when no instrument is simulated.
    Twins are named by their address (the resource name the pyvisa backend serves)."""
    simulated = {role: c for role, c in config.instruments.items() if c.simulated}
    if not simulated:
        return None, {}
    from memlab.instruments.sim.base import Faults
    from memlab.instruments.sim.chip import Chip
    from memlab.instruments.sim.clock import VirtualClock
    from memlab.instruments.sim.world import SimWorld

    spec = config.chip
    any_real = len(simulated) < len(config.instruments)
    # Next to real instruments, virtual time must keep pace with the wall clock.
    clock = VirtualClock(realtime=config.realtime or any_real, speed=1.0 if any_real else config.speed)
    try:
        chip = Chip(spec.rows, spec.cols, family=spec.family, seed=spec.seed, clock=clock, array=spec.array,
                    bias_scheme=spec.bias_scheme, overrides=dict(spec.overrides) or None, formed=spec.formed)
    except (ValueError, TypeError, KeyError) as exc:
        raise BenchFileError(config.file, "chip", str(exc)) from None
    for row, col, kind, value in spec.faults:
        chip.set_fault(row, col, kind, value)
    (r0, r1), (c0, c1) = config.spot
    world = SimWorld(chip, clock, coupling_efficiency=config.coupling_efficiency,
                     meter_fraction=config.meter_fraction, spot=(slice(r0, r1), slice(c0, c1)))
    for terminal, (row, col) in config.direct.items():
        world.connect(terminal, row, col)
    twins: dict[str, Any] = {}
    for role, instrument in simulated.items():
        twin_class = _twin_class(instrument)
        kwargs = _twin_kwargs(twin_class, instrument, config)
        try:
            twin = twin_class(world, instrument.address, **kwargs)
        except ValueError as exc:
            raise BenchFileError(config.file, f"instruments.{role}", str(exc)) from None
        twin.timeout_s = instrument.timeout_s
        if instrument.faults:
            twin.faults = Faults(**instrument.faults)
        twins[role] = twin
    return world, twins


# -- the bench ------------------------------------------------------------------------------------


class Bench:
    """Named instruments, the chip, its wiring and the safety limits (see the module docstring).

    :param config: a checked bench file (:func:`read_bench_config`).
    :param strict: raise :class:`BenchConnectionError` when an instrument cannot be opened;
        with False the role is None and :attr:`errors` says why (``memlab bench check``).
    """

    smu: SourceMeter | None
    pulser: PulseGenerator | None
    laser: LightSource | None
    switch: SwitchMatrix | None
    power_meter: PowerMeter | None

    def __init__(self, config: BenchConfig, *, strict: bool = True) -> None:
        self.config = config
        self.limits: SafetyLimits = config.limits
        self.errors: dict[str, str] = {}
        self._drivers: dict[str, InstrumentRole] = {}
        self._closed = False
        self.world, self.twins = build_simulation(config)
        all_simulated = bool(config.instruments) and all(c.simulated for c in config.instruments.values())
        self.clock: Clock = self.world.clock if self.world is not None and (all_simulated or not config.instruments) \
            else WallClock()
        for role in ROLES:
            setattr(self, role, None)
        for role, instrument in config.instruments.items():
            try:
                driver = self._open(instrument)
            except Exception as exc:  # noqa: BLE001 - reported per role, the others still open
                log.error("%s: cannot open %s (%s): %s", config.file, role, instrument.address, exc)
                self.errors[role] = f"{type(exc).__name__}: {exc}"
                continue
            self._drivers[role] = driver
            setattr(self, role, driver)
        if self.errors and strict:
            self.close()
            raise BenchConnectionError(config.file, self.errors)

    def _open(self, instrument: InstrumentConfig) -> InstrumentRole:
        offered: dict[str, Any] = {"limits": self.limits, "wiring": self.config.wiring,
                                   "calibration": instrument.calibration, "clock": self.clock,
                                   "line_frequency_hz": float(self.config.line_frequency_hz)}
        parameters = inspect.signature(instrument.driver_class.__init__).parameters
        kwargs = {k: v for k, v in offered.items() if k in parameters and v is not None}
        kwargs.update(instrument.options)
        if instrument.simulated:
            from memlab.instruments.sim.adapter import SimAdapter

            adapter: Any = SimAdapter(self.twins[instrument.role], timeout_s=instrument.timeout_s)
        else:
            adapter = instrument.address
            kwargs.setdefault("timeout", int(instrument.timeout_s * 1000))
        return instrument.driver_class(adapter, instrument.role, **kwargs)

    # -- what procedures use ------------------------------------------------------------------------

    @property
    def simulated(self) -> bool:
        return self.world is not None

    def instruments(self) -> dict[str, InstrumentRole]:
        """The opened instruments by role."""
        return dict(self._drivers)

    def chip_info(self) -> dict[str, Any]:
        """The chip on the bench: family, size, seed, array, and whether it is simulated."""
        chip = self.config.chip
        return {
            "family": chip.family,
            "rows": chip.rows,
            "cols": chip.cols,
            "seed": chip.seed,
            "array": chip.array,
            "bias_scheme": chip.bias_scheme,
            "overrides": dict(chip.overrides),
            "simulated": self.world is not None,
        }

    def safe_shutdown(self) -> list[str]:
        """Every instrument to its safe state, laser and outputs first, each output verified off
        by querying it; one failing instrument does not keep the others on. Returns the errors as
        text (empty: all safe); those that are safety failures also in ``.safety_failures``."""
        return shutdown_and_verify(self._drivers, SHUTDOWN_ORDER)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per role: model, identity, address, simulated, settings (the driver's snapshot); an
        instrument that cannot answer is recorded with its error instead."""
        result: dict[str, dict[str, Any]] = {}
        for role, driver in self._drivers.items():
            instrument = self.config.instruments[role]
            try:
                entry = dict(driver.snapshot())
            except Exception as exc:  # noqa: BLE001 - a snapshot must not stop a run file
                entry = {"model": getattr(driver, "model", instrument.driver), "identity": None,
                         "address": instrument.address, "settings": {}, "error": str(exc)}
            entry["simulated"] = instrument.simulated
            entry["address"] = instrument.address  # as the bench file names it
            entry["driver"] = instrument.driver
            result[role] = entry
        return result

    def close(self) -> None:
        """Close every connection (twins and the simulated chip stay inspectable)."""
        if self._closed:
            return
        self._closed = True
        for role, driver in self._drivers.items():
            adapter = getattr(driver, "adapter", None)
            try:
                if adapter is not None:
                    adapter.close()
            except Exception as exc:  # noqa: BLE001 - close the others
                log.warning("closing %s: %s", role, exc)

    def __enter__(self) -> Bench:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        roles = ", ".join(f"{r}={self.config.instruments[r].driver}" for r in self._drivers)
        kind = "simulated" if self.world is not None else "real"
        return f"<Bench {self.config.name!r} ({kind}): {roles}>"


def load_bench(path: str | Path | None = None, *, family: str | None = None, strict: bool = True) -> Bench:
    """Open the bench of a file (None: the built-in simulated bench).

    :param family: override the chip family ("prgo" or "optomemristor").
    :param strict: see :class:`Bench`.
    """
    return Bench(read_bench_config(path, family=family), strict=strict)
