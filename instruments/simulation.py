"""Simulated-bench assembly: the world (chip, virtual clock, routes, light) and a twin per role.

:func:`build_simulation` turns a checked :class:`~memlab.instruments.bench_file.BenchConfig` into
the simulated part of a bench; it is all the pyvisa backend ``@memsim`` (package ``pyvisa_memsim``)
needs, with :func:`read_bench_config` re-exported for it. Which twin stands in for a driver is the
driver's own declaration (``@driver(..., twin="package.module:ClassTwin")``).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from memlab.instruments.bench_file import (
    DEFAULT_WAVELENGTH_M,
    TWIN_OPTIONS,
    BenchConfig,
    BenchFileError,
    InstrumentConfig,
    keyword_default,
    read_bench_config,
)

__all__ = ["build_simulation", "read_bench_config", "twin_class"]

def twin_class(driver_class: type) -> type:
    """The simulated twin a driver declares (``@driver(twin="package.module:ClassTwin")``)."""
    target = getattr(driver_class, "twin", None)
    if not target:
        raise LookupError(f"{driver_class.__name__} declares no simulated twin")
    module_name, _, name = target.partition(":")
    return getattr(importlib.import_module(module_name), name)


def _twin_class(config: InstrumentConfig, file: str) -> type:
    try:
        return twin_class(config.driver_class)
    except LookupError:
        raise BenchFileError(file, f"instruments.{config.role}.simulated",
                             f"no simulated twin for {config.driver!r}") from None
    except (ImportError, AttributeError) as exc:
        raise BenchFileError(file, f"instruments.{config.role}.driver", f"the simulated twin of {config.driver} "
                                                                        f"({config.driver_class.twin}) is not "
                                                                        f"available: {exc}") from None


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
    channel = config.options.get("channel", keyword_default(config.driver_class, "channel"))
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
    overrides, devices = dict(spec.overrides), None
    if spec.twin is not None:  # a fitted chip: its devices, and its distributions for the rest
        from memlab.twin.file import TwinFileError, load_twin

        try:
            twin = load_twin(spec.twin)
        except TwinFileError as exc:  # changed since the bench file was read
            raise BenchFileError(config.file, "chip.twin", str(exc)) from None
        overrides = {**twin.overrides(), **overrides}
        devices = twin.device_parameters() or None
    try:
        chip = Chip(spec.rows, spec.cols, family=spec.family, seed=spec.seed, clock=clock, array=spec.array,
                    bias_scheme=spec.bias_scheme, read_bias=spec.read_bias, overrides=overrides or None, formed=spec.formed,
                    devices=devices)
    except (ValueError, TypeError, KeyError) as exc:
        raise BenchFileError(config.file, "chip.twin" if "devices" in str(exc) else "chip", str(exc)) from None
    for index, (row, col, kind, value) in enumerate(spec.faults):
        try:
            chip.set_fault(row, col, kind, value)
        except ValueError as exc:  # the chip knows which values each fault kind allows
            key = f"chip.faults[{index}]" + (".value" if "value" in str(exc) else "")
            raise BenchFileError(config.file, key, str(exc)) from None
    (r0, r1), (c0, c1) = config.spot
    world = SimWorld(chip, clock, coupling_efficiency=config.coupling_efficiency,
                     meter_fraction=config.meter_fraction, spot=(slice(r0, r1), slice(c0, c1)))
    for terminal, (row, col) in config.direct.items():
        world.connect(terminal, row, col)
    twins: dict[str, Any] = {}
    for role, instrument in simulated.items():
        twin_class = _twin_class(instrument, config.file)
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
