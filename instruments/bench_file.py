"""The bench file: its schema, read and checked before any instrument is touched.

:func:`read_bench_config` reads a TOML bench file (docs/bench-file.md has the schema) into a
:class:`BenchConfig`. Anything wrong raises :class:`BenchFileError` naming the file, the key, the
value and what is allowed, as one line: a bad type or range, an unknown key, invalid UTF-8 or TOML,
nesting too deep, a driver that is not registered for the role, an instrument option its model does
not have, two roles on one address or one terminal, a simulated source that reaches no device.

Drivers are found by class name in the registry (:func:`memlab.instruments.plumbing.registered_drivers`,
filled by each driver's ``@driver`` declaration) or as ``package.module:Class``; chip families,
arrays, bias schemes and fault kinds come from the simulated chip's own registry.
"""

from __future__ import annotations

import importlib
import inspect
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlab.errors import MemlabError
from memlab.instruments.calibration import LaserCalibration
from memlab.instruments.limits import LimitError, SafetyLimits, require_choice, require_int, require_range, shown
from memlab.instruments.roles import ROLES, InstrumentRole
from memlab.instruments.wiring import ROUTING_MODES, CrossbarWiring

DEFAULT_BENCH = Path(__file__).with_name("default_bench.toml")

#: safe-shutdown order: light and outputs first, relays last
SHUTDOWN_ORDER = ("laser", "pulser", "smu", "power_meter", "switch")
#: the terminal a role drives through the wiring, unless the file says otherwise
DEFAULT_TERMINALS = {"smu": "smu", "pulser": "pulse"}
#: a laser calibration without a wavelength: the simulated diode's (red, in both chips' bands)
DEFAULT_WAVELENGTH_M = 635e-9
#: deepest nesting of arrays and tables a bench file may have (the schema needs 4)
MAX_DEPTH = 16
#: largest bench file read (a bench file is a few kilobytes)
MAX_FILE_BYTES = 1_000_000

_TOP_KEYS = {"bench", "chip", "limits", "instruments", "wiring", "optics"}
_BENCH_KEYS = {"name", "line_frequency_hz", "realtime", "speed", "trace"}
_CHIP_KEYS = {"family", "rows", "cols", "seed", "array", "bias_scheme", "read_bias", "formed", "overrides", "faults",
              "twin"}
_INSTRUMENT_KEYS = {"driver", "address", "simulated", "timeout_s", "model", "terminal", "serial",
                    "options", "faults", "calibration"}
_FAULT_KEYS = {"timeout_after", "disconnect_after", "garble_every", "errors", "dead", "seed"}
_WIRING_KEYS = {"terminals", "row_pads", "col_pads", "direct", "routing"}
_OPTICS_KEYS = {"coupling_efficiency", "meter_fraction", "spot_rows", "spot_cols"}
#: driver options that describe the bench itself, so a simulated twin takes them too: the pulse
#: generator's termination at the device, the power meter's sensor head, the laser's lines or
#: tuning range, the matrix relays' settling
TWIN_OPTIONS = ("termination_ohm", "sensor", "wavelengths_m", "wavelength_range_m", "relay_settle_s")
#: allowed relay settling per switching operation: fast reed relays settle in about 0.1 ms,
#: slow electromechanical cards take tens of milliseconds
RELAY_SETTLE_RANGE_S = (50e-6, 0.1)
_MODULE_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


def chip_families() -> tuple[str, ...]:
    """The chip families of the preset registry (adding a preset adds a family everywhere)."""
    from memlab.instruments.sim.chip.presets import PRESETS

    return tuple(PRESETS)


def _chip_choices() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Arrays, bias schemes, read biases and fault kinds, as the simulated chip defines them."""
    from memlab.instruments.sim.chip.model import ARRAYS, BIAS_SCHEMES, FAULT_KINDS, READ_BIASES

    return tuple(ARRAYS), tuple(BIAS_SCHEMES), tuple(READ_BIASES), tuple(FAULT_KINDS)


class BenchFileError(MemlabError, ValueError):
    """A bench file that cannot be used: names the file, the key and what is expected."""

    def __init__(self, file: str, key: str, expected: str) -> None:
        self.file = file
        self.key = key
        self.expected = expected
        super().__init__(f"{file}: {key}: {expected}")


class BenchConnectionError(MemlabError, RuntimeError):
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
    array: str = "passive"
    bias_scheme: str = "v/3"
    read_bias: str = "v/2-columns"
    formed: bool = True
    overrides: dict[str, Any] = field(default_factory=dict)
    faults: tuple[tuple[int, int, str, float | None], ...] = ()
    #: a fitted twin file (``memlab twin fit``): the chip's per-device parameters and distributions
    twin: str | None = None


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
    #: record each instrument's command conversation in every run file
    trace: bool = True

    @property
    def simulated(self) -> bool:
        """Whether any instrument is simulated (then the bench has a simulated chip)."""
        return any(i.simulated for i in self.instruments.values())


class _Reader:
    """Typed access to the TOML tables, raising BenchFileError with the dotted key; the checks are
    the shared validation layer's (:mod:`memlab.instruments.limits`)."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, expected: str) -> BenchFileError:
        return BenchFileError(self.file, key, expected)

    def table(self, value: Any, path: str, allowed: set[str]) -> dict[str, Any]:
        """``value`` as a table whose keys are all in ``allowed`` (a typo must not be ignored)."""
        if not isinstance(value, Mapping):
            raise self.fail(path, f"expected a table, got {shown(value)}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            raise self.fail(where, f"unknown key; allowed keys here: {', '.join(sorted(allowed))}")
        return dict(value)

    def integer(self, data: Mapping[str, Any], key: str, path: str, default: int, low: int, high: int) -> int:
        value = data.get(key, default)
        try:
            if not isinstance(value, int):
                raise LimitError(path, value, "an integer", "integers")
            return require_int(path, value, low, high)
        except LimitError:
            raise self.fail(path, f"expected an integer {low} .. {high}, got {shown(value)}") from None

    def number(self, data: Mapping[str, Any], key: str, path: str, default: float,
               low: float = -math.inf, high: float = math.inf) -> float:
        value = data.get(key, default)
        try:
            if not isinstance(value, (int, float)):
                raise LimitError(path, value, "a number", "numbers")
            return require_range(path, value, low, high)
        except LimitError:
            raise self.fail(path, f"expected a number {low:g} .. {high:g}, got {shown(value)}") from None

    def choice(self, data: Mapping[str, Any], key: str, path: str, default: Any, allowed: tuple[Any, ...]) -> Any:
        value = data.get(key, default)
        try:
            return require_choice(path, value, allowed)
        except LimitError:
            raise self.fail(path, f"expected one of {', '.join(repr(a) for a in allowed)}, "
                                  f"got {shown(value)}") from None

    def boolean(self, data: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {shown(value)}")
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str, default: str | None) -> str | None:
        value = data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(path, f"expected a non-empty string, got {shown(value)}")
        if value is not None and (any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or len(value) > 1000):
            raise self.fail(path, f"expected printable text of at most 1000 characters (no control characters "
                                  f"such as NUL), got {shown(value)}")
        return value

    def span(self, data: Mapping[str, Any], key: str, path: str, size: int) -> tuple[int, int]:
        value = data.get(key, [0, size])
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or not 0 <= value[0] < value[1] <= size):
            raise self.fail(path, f"expected [first, end] with 0 <= first < end <= {size} "
                                  f"(a half-open range of chip lines), got {shown(value)}")
        return value[0], value[1]


def _find_driver(reader: _Reader, path: str, name: Any, role: str, interface: type[InstrumentRole]) -> type:
    """The driver class a bench file names: a registered class name, or ``package.module:Class``."""
    from memlab.instruments.plumbing import registered_drivers

    if not isinstance(name, str) or not name:
        raise reader.fail(path, f"expected a driver class name, e.g. 'Keithley2450' or 'package.module:Class', "
                                f"got {shown(name)}")
    drivers = registered_drivers()
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        if not _MODULE_PATH.match(module_name) or not _IDENTIFIER.match(class_name):
            raise reader.fail(path, f"{shown(name)} is not 'package.module:Class' (an absolute module path and a "
                                    "class name)")
        try:
            found = getattr(importlib.import_module(module_name), class_name, None)
        except Exception as exc:  # noqa: BLE001 - any import failure is the file's problem, said in one line
            raise reader.fail(path, f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
        if not isinstance(found, type):
            raise reader.fail(path, f"no class {class_name!r} in {module_name!r}")
        driver = found
    else:
        driver = drivers.get(name)
        if driver is None:
            raise reader.fail(path, f"no driver class {shown(name)}; registered drivers: "
                                    f"{', '.join(sorted(drivers))} (or give 'package.module:Class')")
    if not issubclass(driver, interface):
        raise reader.fail(path, f"{name!r} is not a {interface.__name__} driver, which this role needs")
    declared = getattr(driver, "role", "")
    if declared and declared != role:
        raise reader.fail(path, f"{name!r} is a {declared} driver, not a {role} driver")
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


def keyword_default(driver_class: type, keyword: str) -> Any:
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
    driver_class = _find_driver(reader, f"{path}.driver", table["driver"], role, ROLES[role])
    simulated = reader.boolean(table, "simulated", f"{path}.simulated", True)
    address = reader.text(table, "address", f"{path}.address", None)
    if address is None:
        if not simulated:
            raise reader.fail(f"{path}.address", "missing: a real instrument needs its VISA address")
        address = f"TCPIP0::memsim::{role}::INSTR"
    if simulated and not getattr(driver_class, "twin", None):
        from memlab.instruments.plumbing import registered_drivers

        twinned = sorted(name for name, cls in registered_drivers().items() if cls.twin)
        raise reader.fail(f"{path}.simulated", f"no simulated twin for {table['driver']!r}; simulated drivers: "
                                               f"{', '.join(twinned)}")
    if not simulated and "faults" in table:
        raise reader.fail(f"{path}.faults", "fault injection applies to simulated instruments only")
    options = table.get("options", {})
    if not isinstance(options, Mapping):
        raise reader.fail(f"{path}.options", f"expected a table of driver keyword arguments, got {shown(options)}")
    accepted = _driver_keywords(driver_class)
    for key in options:
        if key in ("adapter", "name", "limits", "wiring", "calibration", "clock") or key not in accepted:
            raise reader.fail(f"{path}.options.{key}", f"not a keyword argument {driver_class.__name__} accepts "
                                                       f"from the bench file; allowed: {', '.join(sorted(accepted))}")
    if "termination_ohm" in options:
        # Checked here, not when the driver opens: a real bench must not fail halfway through opening.
        reader.number(options, "termination_ohm", f"{path}.options.termination_ohm", 50.0, 1.0, 10e3)
    if "relay_settle_s" in options:
        reader.number(options, "relay_settle_s", f"{path}.options.relay_settle_s", 3e-3, *RELAY_SETTLE_RANGE_S)
    sensors = getattr(driver_class, "sensors", None)
    if "sensor" in options and isinstance(sensors, Mapping):
        reader.choice(options, "sensor", f"{path}.options.sensor", "", tuple(sorted(sensors)))
    if "channel" in options:
        # Checked against the constructor's own rule now, so a bad channel fails the file, not a run.
        default = keyword_default(driver_class, "channel")
        allowed = ("a", "b") if isinstance(default, str) else (1, 2)
        reader.choice(options, "channel", f"{path}.options.channel", default, allowed)
    model = reader.text(table, "model", f"{path}.model", None)
    check_options = getattr(driver_class, "check_bench_options", None)
    if check_options is not None:
        try:
            check_options(model, dict(options))
        except LimitError as exc:
            raise reader.fail(f"{path}.{exc.parameter}", f"{shown(exc.value)} is not allowed for model={model!r}: "
                                                         f"allowed {exc.allowed}") from None
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
    if "wavelength_m" in options:
        reader.number(options, "wavelength_m", f"{path}.options.wavelength_m", 0.0, 100e-9, 20e-6)
    elif calibration is not None and calibration.wavelength_m is None and not simulated:
        raise reader.fail(f"{path}.calibration.wavelength_m", "missing: a real laser needs its wavelength "
                                                              "(here or as options.wavelength_m)")
    return InstrumentConfig(
        role=role,
        driver=str(table["driver"]),
        driver_class=driver_class,
        address=address,
        simulated=simulated,
        timeout_s=reader.number(table, "timeout_s", f"{path}.timeout_s", 2.0, 1e-3, 3600.0),
        model=model,
        terminal=reader.text(table, "terminal", f"{path}.terminal", DEFAULT_TERMINALS.get(role)),
        serial=reader.text(table, "serial", f"{path}.serial", None),
        options=dict(options),
        faults=_read_faults(reader, table.get("faults", {}), f"{path}.faults") if simulated else {},
        calibration=calibration,
    )


def _read_chip(reader: _Reader, data: Mapping[str, Any], family: str | None) -> ChipConfig:
    chip = reader.table(data.get("chip", {}), "chip", _CHIP_KEYS)
    families = chip_families()
    arrays, bias_schemes, read_biases, fault_kinds = _chip_choices()
    if family is not None and family not in families:
        raise reader.fail("family", f"{shown(family)} is not a chip family; allowed: {', '.join(families)}")
    twin_path, twin = _read_twin(reader, chip)
    if twin is not None:
        # the twin is a chip of its own size and family; the bench file may only repeat them
        for key, value in (("rows", twin.rows), ("cols", twin.cols), ("family", twin.family)):
            if key in chip and chip[key] != value:
                raise reader.fail(f"chip.{key}", f"{twin_path} is a fitted {twin.family} chip of "
                                                 f"{twin.rows} x {twin.cols}; {key} = {shown(chip[key])} "
                                                 f"contradicts it (leave {key} out)")
            chip.setdefault(key, value)
        if family is not None and family != twin.family:
            raise reader.fail("family", f"{family!r} asked for, but the twin {twin_path} is a {twin.family} chip")
    rows = reader.integer(chip, "rows", "chip.rows", 16, 1, 4096)
    cols = reader.integer(chip, "cols", "chip.cols", 16, 1, 4096)
    overrides = chip.get("overrides", {})
    if not isinstance(overrides, Mapping):
        raise reader.fail("chip.overrides", f"expected a table of chip parameters, got {shown(overrides)}")
    chosen_family = family or reader.choice(chip, "family", "chip.family", "prgo", families)
    from memlab.instruments.sim.chip.presets import resolve_params

    try:
        resolve_params(chosen_family, {**(twin.overrides() if twin is not None else {}), **overrides})
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
        kind = reader.choice(table, "kind", f"{path}.kind", "none", fault_kinds)
        value = reader.number(table, "value", f"{path}.value", 0.0) if "value" in table else None
        faults.append((row, col, kind, value))
    from memlab.instruments.sim.chip.presets import FAMILY_ARRAYS

    default = FAMILY_ARRAYS[chosen_family]  # the family's array unless the file says otherwise
    array = reader.choice(chip, "array", "chip.array", default["array"], arrays)
    bias_scheme = reader.choice(chip, "bias_scheme", "chip.bias_scheme", default["bias_scheme"], bias_schemes)
    read_bias = reader.choice(chip, "read_bias", "chip.read_bias", default["read_bias"], read_biases)
    if array != "passive":
        for key in ("bias_scheme", "read_bias"):
            if key in chip:
                raise reader.fail(f"chip.{key}", f"only a passive array has a {key.replace('_', ' ')}; this chip is "
                                                 f"array = {array!r} (leave {key} out, or set array = \"passive\")")
    return ChipConfig(
        family=chosen_family,
        rows=rows,
        cols=cols,
        seed=reader.integer(chip, "seed", "chip.seed", 0, 0, 2**32 - 1),
        array=array,
        bias_scheme=bias_scheme,
        read_bias=read_bias,
        formed=reader.boolean(chip, "formed", "chip.formed", True),
        overrides=dict(overrides),
        faults=tuple(faults),
        twin=twin_path,
    )


def _read_twin(reader: _Reader, chip: Mapping[str, Any]) -> tuple[str | None, Any]:
    """The ``twin`` key: a twin file's path (relative to the bench file) and the twin it holds."""
    if "twin" not in chip:
        return None, None
    value = chip["twin"]
    if not isinstance(value, str) or not value.strip():
        raise reader.fail("chip.twin", f"expected the path of a twin file (memlab twin fit), got {shown(value)}")
    path = Path(value).expanduser()
    if not path.is_absolute() and not reader.file.startswith("<"):
        path = Path(reader.file).parent / path
    from memlab.twin.file import TwinFileError, load_twin

    try:
        return str(path), load_twin(path)
    except TwinFileError as exc:
        raise reader.fail("chip.twin", str(exc)) from None


def _read_wiring(
    reader: _Reader, data: Mapping[str, Any], chip: ChipConfig, instruments: Mapping[str, InstrumentConfig]
) -> tuple[CrossbarWiring | None, dict[str, tuple[int, int]]]:
    wiring = reader.table(data.get("wiring", {}), "wiring", _WIRING_KEYS)
    direct: dict[str, tuple[int, int]] = {}
    if not isinstance(wiring.get("direct", {}), Mapping):
        raise reader.fail("wiring.direct", "expected a table: terminal = [row, col]")
    driven: dict[str, str] = {}  # terminal -> the role that drives it
    for role in ("smu", "pulser"):
        config = instruments.get(role)
        if config is None:
            continue
        if config.terminal in driven:
            raise reader.fail(f"instruments.{role}.terminal", f"{config.terminal!r} is already driven by "
                                                              f"instruments.{driven[config.terminal]}; give each "
                                                              "instrument its own terminal")
        driven[str(config.terminal)] = role
    for terminal, device in dict(wiring.get("direct", {})).items():
        if terminal not in driven:
            raise reader.fail(f"wiring.direct.{terminal}", f"no instrument drives terminal {shown(terminal)}; "
                                                           f"terminals of this bench: {', '.join(driven) or 'none'}")
        if (not isinstance(device, list) or len(device) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in device)
                or not (0 <= device[0] < chip.rows and 0 <= device[1] < chip.cols)):
            raise reader.fail(f"wiring.direct.{terminal}", f"expected [row, col] of a device on the "
                                                           f"{chip.rows} x {chip.cols} chip, got {shown(device)}")
        direct[terminal] = (device[0], device[1])
    switch_keys = {"terminals", "row_pads", "col_pads", "routing"} & set(wiring)
    if "switch" not in instruments:
        if switch_keys:
            raise reader.fail(f"wiring.{sorted(switch_keys)[0]}", "the bench has no switch: wire devices "
                                                                  "with wiring.direct = { smu = [row, col] }")
        for terminal, role in driven.items():
            if instruments[role].simulated and terminal not in direct:
                # A simulated source that reaches no device would "measure" only noise.
                raise reader.fail(f"instruments.{role}", f"terminal {terminal!r} reaches no device of the chip: add "
                                                         f"a switch ([instruments.switch]) or wiring.direct = "
                                                         f"{{ {terminal} = [row, col] }}")
        return None, direct
    if direct:
        raise reader.fail("wiring.direct", "the bench has a switch: routes are set by the switch, not fixed")
    routing = reader.choice(wiring, "routing", "wiring.routing", "exclusive", ROUTING_MODES)
    try:
        if {"row_pads", "col_pads"} <= switch_keys:
            crossbar = CrossbarWiring.from_mapping({
                "terminals": wiring.get("terminals", {"smu": ["A", "B"], "pulse": ["C", "D"]}),
                "row_pads": wiring["row_pads"], "col_pads": wiring["col_pads"], "routing": routing})
        elif switch_keys - {"terminals", "routing"}:
            raise reader.fail("wiring", "give both row_pads and col_pads, or neither (default pads)")
        else:
            terminals = wiring.get("terminals")
            crossbar = CrossbarWiring.default(
                chip.rows, chip.cols,
                terminals={k: tuple(v) for k, v in dict(terminals).items()} if terminals is not None else None,
                routing=routing)
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


def _check_depth(reader: _Reader, data: Any) -> None:
    """Refuse nesting deeper than the schema could ever use (iteratively: no recursion to exhaust)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise reader.fail(path or "(top)", f"arrays or tables nested too deeply (at most {MAX_DEPTH} levels)")
        if isinstance(value, Mapping):
            stack.extend((item, f"{path}.{key}" if path else str(key), depth + 1) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))


def read_bench_config(path: str | Path | None = None, *, family: str | None = None) -> BenchConfig:
    """Read and check a bench file (None: the built-in simulated bench); ``family`` overrides the
    chip's family. Raises :class:`BenchFileError` naming the file, the key and what is expected."""
    source = Path(path) if path is not None else DEFAULT_BENCH
    file = str(path) if path is not None else "<built-in bench>"
    reader = _Reader(file)
    try:
        with open(source, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise BenchFileError(file, "(file)", "the file does not exist") from None
    except OSError as exc:
        raise BenchFileError(file, "(file)", f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise BenchFileError(file, "(file)", f"larger than {MAX_FILE_BYTES} bytes: not a bench file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise BenchFileError(file, f"(line {line})", f"not valid UTF-8 (byte {raw[exc.start]:#04x} at offset "
                                                     f"{exc.start}); save the file as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchFileError(file, "(syntax)", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise BenchFileError(file, "(syntax)", f"arrays or tables nested too deeply (at most {MAX_DEPTH})") from None
    _check_depth(reader, data)
    reader.table(data, "", _TOP_KEYS)
    bench = reader.table(data.get("bench", {}), "bench", _BENCH_KEYS)
    chip = _read_chip(reader, data, family)
    limits_data = data.get("limits", {})
    if not isinstance(limits_data, Mapping):
        raise reader.fail("limits", "expected a table of safety limits")
    known = set(SafetyLimits.__dataclass_fields__)
    for key, value in limits_data.items():
        if key not in known:
            raise reader.fail(f"limits.{key}", f"unknown safety limit; allowed: {', '.join(sorted(known))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise reader.fail(f"limits.{key}", f"expected a number, got {shown(value)}")
    try:
        limits = SafetyLimits.from_mapping(limits_data)
    except LimitError as exc:
        key = "limits." + exc.parameter.rpartition(".")[2]
        raise reader.fail(key, f"{shown(exc.value)} is not allowed: {exc.allowed} ({exc.reason})") from None
    instruments_data = reader.table(data.get("instruments", {}), "instruments", set(ROLES))
    instruments = {role: _read_instrument(reader, role, instruments_data[role])
                   for role in ROLES if role in instruments_data}
    owners: dict[str, str] = {}
    for role, config in instruments.items():
        address = config.address.strip().upper()
        if address in owners:
            raise reader.fail(f"instruments.{role}.address", f"{config.address!r} is already the address of "
                                                             f"instruments.{owners[address]}: one instrument, one role")
        owners[address] = role
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
        trace=reader.boolean(bench, "trace", "bench.trace", True),
    )
