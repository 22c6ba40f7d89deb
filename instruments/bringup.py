"""Hardware bring-up: find the instruments on the buses (`memlab bench scan`) and check a bench
safely before the first run (`memlab bench selftest`).

`memlab bench` (memlab/cmd_bench.py) only parses arguments and prints; the work is here, so that
scripts and tests can call it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: identity pattern -> (memlab driver, bench role, model option or None); first match wins
IDENTITY_MATCHES: tuple[tuple[str, str, str, Callable[[re.Match[str]], str | None]], ...] = (
    (r"MODEL 2450\b", "Keithley2450", "smu", lambda m: None),
    (r"Model (26\d\dB)\b", "Keithley2600B", "smu", lambda m: m.group(1)),
    (r"Model (70[78]B)\b", "Keithley707B", "switch", lambda m: None),
    (r"\b(B29\d\d[AB])\b", "KeysightB2900", "smu", lambda m: m.group(1)),
    (r"\b(335\d\d[AB])\b", "Keysight33500B", "pulser", lambda m: None),
    (r"\b(811[56]0A)\b", "Keysight81160A", "pulser", lambda m: None),
    (r"\bITC4\d\d\d\b", "ThorlabsITC4001", "laser", lambda m: None),
    (r"\bCLD101\d\b", "ThorlabsCLD101x", "laser", lambda m: None),
    (r"\bPM100", "ThorlabsPM100", "power_meter", lambda m: None),
)
#: the VISA libraries scanned by default: pyvisa-py and the system VISA (each where installed)
DEFAULT_BACKENDS = ("@py", "@ivi")


@dataclass
class Found:
    """One VISA resource a scan saw."""

    backend: str
    resource: str
    identity: str | None = None
    error: str | None = None
    driver: str | None = None
    role: str | None = None
    model: str | None = None


@dataclass
class ScanResult:
    found: list[Found] = field(default_factory=list)
    #: backend -> why it could not be used (not installed, no devices ...)
    unavailable: dict[str, str] = field(default_factory=dict)


def match_identity(identity: str) -> tuple[str, str, str | None] | None:
    """(driver, role, model) of memlab's driver for an ``*IDN?`` reply, or None."""
    for pattern, driver, role, model in IDENTITY_MATCHES:
        found = re.search(pattern, identity, flags=re.IGNORECASE)
        if found:
            return driver, role, model(found)
    return None


def scan(backends: Iterable[str] = DEFAULT_BACKENDS, *, timeout_ms: int = 1000,
         query: str = "?*::INSTR") -> ScanResult:
    """List the resources each VISA library sees and ask each for ``*IDN?``."""
    import pyvisa

    result = ScanResult()
    for backend in backends:
        try:
            manager = pyvisa.ResourceManager(backend)
        except Exception as exc:  # noqa: BLE001 - a backend that is not installed is reported
            result.unavailable[backend] = _one_line(f"{type(exc).__name__}: {exc}")
            continue
        try:
            try:
                names = manager.list_resources(query)
            except Exception as exc:  # noqa: BLE001 - e.g. VI_ERROR_RSRC_NFOUND when nothing is connected
                result.unavailable[backend] = _one_line(f"no resources listed: {exc}")
                continue
            for name in names:
                result.found.append(_identify(manager, backend, name, timeout_ms))
        finally:
            manager.close()
    return result


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _identify(manager: Any, backend: str, name: str, timeout_ms: int) -> Found:
    found = Found(backend, name)
    try:
        resource = manager.open_resource(name, open_timeout=timeout_ms)
    except Exception as exc:  # noqa: BLE001 - busy, locked or not an instrument: reported
        found.error = _one_line(f"cannot open: {exc}")
        return found
    try:
        resource.timeout = timeout_ms
        resource.read_termination = "\n"
        resource.write_termination = "\n"
        found.identity = resource.query("*IDN?").strip()
    except Exception as exc:  # noqa: BLE001 - no answer to *IDN?: reported, the scan goes on
        found.error = _one_line(f"no answer to *IDN?: {exc}")
    finally:
        try:
            resource.close()
        except Exception:  # noqa: BLE001 - closing a dead session must not end the scan
            pass
    if found.identity:
        matched = match_identity(found.identity)
        if matched:
            found.driver, found.role, found.model = matched
    return found


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bench_toml(result: ScanResult, *, simulated: bool = False) -> str:
    """A starting bench file: one instrument per role (the first found); others as comments."""
    lines = ["# A starting bench file written by `memlab bench scan`: check every entry, then the",
             "# wiring, limits and chip against your bench (docs/bench-file.md).", "",
             "[bench]", 'name = "scanned bench"', "line_frequency_hz = 50", "",
             "[chip]", "rows = 16", "cols = 16", "",
             "[limits]", "max_voltage_v = 5.0", "max_current_a = 1e-3", "max_pulse_voltage_v = 5.0", ""]
    taken: set[str] = set()
    for found in result.found:
        if found.driver is None or found.role is None:
            continue
        prefix = ""
        if found.role in taken:
            prefix = "# "  # a second instrument for a role the bench already has
            lines.append(f"# also found for {found.role}:")
        taken.add(found.role)
        lines += [f"{prefix}[instruments.{found.role}]", f"{prefix}driver = {_toml_string(found.driver)}",
                  f"{prefix}address = {_toml_string(found.resource)}"]
        if found.model:
            lines.append(f"{prefix}model = {_toml_string(found.model)}")
        if simulated:
            lines.append(f"{prefix}simulated = true")
        if found.role == "laser":
            lines += [f"{prefix}# measure the diode's current -> power curve and fill in its calibration:",
                      f"{prefix}calibration = {{ threshold_a = 0.015, slope_w_per_a = 0.25, max_current_a = 0.1, "
                      f"wavelength_m = 635e-9 }}"]
        lines.append(f"{prefix}# identity: {found.identity}")
        lines.append("")
    lines.append("[wiring]")
    if "switch" in taken:
        lines += ["# the SMU and pulse generator on matrix rows; check against your cabling",
                  'terminals = { smu = ["A", "B"], pulse = ["C", "D"] }']
    else:
        lines += ["# no switch matrix found: the SMU and pulse generator reach one device directly",
                  "direct = { smu = [0, 0], pulse = [0, 0] }"]
    return "\n".join(lines) + "\n"


# -- selftest -------------------------------------------------------------------------------------


@dataclass
class Check:
    role: str
    name: str
    ok: bool
    detail: str


def parse_device(text: str) -> tuple[int, int]:
    """``"r,c"`` -> (row, col); ValueError naming the option otherwise."""
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"--device {text!r}: expected ROW,COL (two integers >= 0, e.g. 3,5)")
    return int(parts[0]), int(parts[1])


def _check(checks: list[Check], role: str, name: str, action: Callable[[], str]) -> bool:
    try:
        detail = action()
    except Exception as exc:  # noqa: BLE001 - a failed check is a result, the others still run
        checks.append(Check(role, name, False, f"{type(exc).__name__}: {exc}"))
        return False
    checks.append(Check(role, name, True, detail))
    return True


def _outputs_off(driver: Any) -> str:
    if hasattr(driver, "open_all"):
        driver.open_all()
        closed = driver.closed()
        if closed:
            raise RuntimeError(f"relays still closed after open_all: {closed}")
        return "all relays open"
    if hasattr(driver, "output_off"):
        driver.output_off()
        if driver.output_enabled():
            raise RuntimeError("the output reports on after output_off")
        return "output off (verified)"
    return "no output"


def _limits_accepted(role: str, driver: Any, limits: Any) -> str:
    if role == "smu":
        compliance = min(1e-4, limits.max_current_a)
        driver.set_voltage(0.0, compliance)
        return f"0 V with {compliance:g} A compliance accepted"
    if role == "pulser":
        amplitude = min(0.1, limits.max_pulse_voltage_v)
        driver.configure_pulse(amplitude, 1e-5, 1e-3)
        return f"{amplitude:g} V, 10 us, 1 ms pulse accepted (output off)"
    if role == "laser":
        driver.set_power(0.0)
        return "0 W accepted"
    if role == "power_meter":
        power = driver.read_power_w()
        if not math.isfinite(power):
            raise RuntimeError(f"reading {power!r} W is not finite")
        return f"reads {power:.3g} W"
    return "nothing to set"


def selftest(bench_file: str | None, *, resistor_ohm: float | None = None,
             device: tuple[int, int] | None = None, tolerance: float = 0.1,
             test_voltage_v: float = 0.05) -> list[Check]:
    """Check each instrument of a bench safely; with ``resistor_ohm`` and ``device``, measure the
    known resistor at that device through the wiring and compare. Outputs are off at the end."""
    from memlab.instruments.bench import DEFAULT_TERMINALS, Bench, read_bench_config

    if resistor_ohm is not None:
        if not (isinstance(resistor_ohm, (int, float)) and math.isfinite(resistor_ohm) and resistor_ohm > 0):
            raise ValueError(f"--resistor {resistor_ohm!r}: expected a resistance in ohm > 0")
        if device is None:
            raise ValueError("--resistor needs --device ROW,COL: where the resistor sits on the chip")
    if not 0 < tolerance < 1:
        raise ValueError(f"--tolerance {tolerance!r}: expected a fraction between 0 and 1")
    config = read_bench_config(bench_file)
    checks: list[Check] = []
    bench = Bench(config, strict=False)
    try:
        for role, message in bench.errors.items():
            checks.append(Check(role, "connect", False, message))
        for role, driver in bench.instruments().items():
            if not _check(checks, role, "identity", lambda d=driver: d.identity() or "(empty)"):
                continue
            if hasattr(driver, "check_errors"):
                _check(checks, role, "error queue empty", lambda d=driver: (d.check_errors(), "empty")[1])
            _check(checks, role, "outputs off", lambda d=driver: _outputs_off(d))
            _check(checks, role, "limits accepted", lambda r=role, d=driver: _limits_accepted(r, d, bench.limits))
            if hasattr(driver, "check_errors"):
                _check(checks, role, "no errors after setup", lambda d=driver: (d.check_errors(), "none")[1])
        if resistor_ohm is not None and device is not None:
            _check(checks, "smu", f"resistor at device {device[0]},{device[1]}",
                   lambda: _measure_resistor(bench, config, DEFAULT_TERMINALS, resistor_ohm, device,
                                             tolerance, test_voltage_v))
    finally:
        problems = bench.safe_shutdown()
        for problem in problems:
            checks.append(Check("bench", "safe shutdown", False, problem))
        bench.close()
    return checks


def _measure_resistor(bench: Any, config: Any, terminals: dict[str, str], resistor_ohm: float,
                      device: tuple[int, int], tolerance: float, test_voltage_v: float) -> str:
    smu = bench.smu
    if smu is None:
        raise RuntimeError("the bench has no SMU to measure with")
    smu_config = config.instruments.get("smu")
    terminal = (smu_config.terminal if smu_config is not None and smu_config.terminal else terminals["smu"])
    row, col = device
    if bench.switch is not None:
        bench.switch.open_all()
        bench.switch.connect(terminal, row, col)
    else:
        reached = config.direct.get(terminal)
        if reached is not None and tuple(reached) != (row, col):
            raise RuntimeError(f"the wiring reaches device {reached[0]},{reached[1]} directly, not {row},{col}")
    compliance = min(bench.limits.max_current_a, max(10.0 * test_voltage_v / resistor_ohm, 1e-9))
    try:
        smu.set_voltage(test_voltage_v, compliance)
        smu.output_on()
        current = smu.measure_current_a()
    finally:
        smu.output_off()
        if bench.switch is not None:
            bench.switch.open_all()
    if not math.isfinite(current) or current == 0.0 or abs(current) > 1e30:
        raise RuntimeError(f"no usable current at {test_voltage_v:g} V ({current!r} A): nothing "
                           f"connected at device {row},{col}? check the wiring entry for row {row} "
                           f"and column {col}")
    measured = test_voltage_v / current
    deviation = abs(measured - resistor_ohm) / resistor_ohm
    text = f"measured {measured:.4g} ohm at {test_voltage_v:g} V, expected {resistor_ohm:.4g} ohm"
    if deviation > tolerance:
        raise RuntimeError(f"{text} ({deviation:.0%} off, allowed {tolerance:.0%}): the wiring does not "
                           f"reach the resistor at device {row},{col}; check the wiring entry for row "
                           f"{row} and column {col}")
    return f"{text} ({deviation:.1%} off)"


def format_checks(checks: Sequence[Check]) -> list[str]:
    width = max((len(c.role) for c in checks), default=4)
    return [f"{'PASS' if c.ok else 'FAIL'}  {c.role.ljust(width)}  {c.name}: {c.detail}" for c in checks]


def write_new_file(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path``; an existing file is kept unless ``force``."""
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists; give another --write path or --force to replace it")
    if path.parent and not path.parent.is_dir():
        raise NotADirectoryError(f"--write {path}: folder {path.parent} does not exist")
    path.write_text(text, encoding="utf-8")
