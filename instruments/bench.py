"""A bench at run time: named instruments, the chip, its wiring and the safety limits.

``load_bench(path)`` reads a bench file (:mod:`memlab.instruments.bench_file`; docs/bench-file.md has
the schema) and returns a :class:`Bench` whose role attributes (``smu``, ``pulser``, ``laser``,
``switch``, ``power_meter``) are driver instances implementing :mod:`memlab.instruments.roles`, or
None when the bench lacks that role. ``load_bench()`` without a file gives the built-in simulated
bench (``instruments/default_bench.toml``: a 2450, a 33500B, an ITC4001, a PM100 and a 707B on a
16 x 16 prGO chip); ``load_bench(None, family="optomemristor")`` the same on an optomemristor chip.

Simulated instruments are twins (``instruments/sim/``) assembled by
:mod:`memlab.instruments.simulation`, reached by the very driver classes that run on hardware
through an in-process :class:`~memlab.instruments.sim.adapter.SimAdapter`. Real instruments are
opened by address through pymeasure's VISA adapter.

``BenchFileError``, ``read_bench_config`` and ``build_simulation`` are re-exported here for code that
imports them from this module.
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

from memlab.instruments.bench_file import (
    DEFAULT_BENCH,
    DEFAULT_TERMINALS,
    DEFAULT_WAVELENGTH_M,
    SHUTDOWN_ORDER,
    BenchConfig,
    BenchConnectionError,
    BenchFileError,
    ChipConfig,
    InstrumentConfig,
    chip_families,
    read_bench_config,
)
from memlab.instruments.clock import Clock, WallClock
from memlab.instruments.limits import SafetyLimits
from memlab.instruments.roles import (
    ROLES,
    InstrumentRole,
    LightSource,
    PowerMeter,
    PulseGenerator,
    SourceMeter,
    SwitchMatrix,
)
from memlab.instruments.safety import shutdown_and_verify
from memlab.instruments.simulation import build_simulation

__all__ = [
    "DEFAULT_BENCH", "DEFAULT_TERMINALS", "ROLES", "SHUTDOWN_ORDER", "Bench", "BenchConfig", "BenchConnectionError",
    "BenchFileError", "ChipConfig", "InstrumentConfig", "build_simulation", "chip_families", "load_bench",
    "read_bench_config",
]

log = logging.getLogger(__name__)

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
            except (ValueError, TypeError) as exc:
                if not instrument.simulated:
                    log.error("%s: cannot open %s (%s): %s", config.file, role, instrument.address, exc)
                    self.errors[role] = f"{type(exc).__name__}: {exc}"
                    continue
                # A simulated instrument cannot fail to connect: its driver refused what the file asked for.
                self.close()
                raise BenchFileError(config.file, f"instruments.{role}", " ".join(str(exc).split())) from None
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
        if instrument.simulated and instrument.calibration is not None and instrument.calibration.wavelength_m is None:
            offered["wavelength_m"] = DEFAULT_WAVELENGTH_M  # the simulated diode's, as its twin has it
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
        """The chip on the bench: family, size, seed, array (a passive one with its write and read
        biases: a 1T1R array has no unselected lines to bias), the fraction of the laser's set power
        that reaches each device of the spot (the bench file's ``optics.coupling_efficiency``: an
        analysis per watt set turns into one per watt on the device with it), and whether it is
        simulated."""
        chip = self.config.chip
        info: dict[str, Any] = {"family": chip.family, "rows": chip.rows, "cols": chip.cols,
                                "seed": chip.seed, "array": chip.array}
        if chip.array == "passive":
            info.update(bias_scheme=chip.bias_scheme, read_bias=chip.read_bias)
        info.update(coupling_efficiency=self.config.coupling_efficiency, overrides=dict(chip.overrides),
                    simulated=self.world is not None)
        return info

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

    :param family: override the chip family (one of :func:`chip_families`).
    :param strict: see :class:`Bench`.
    """
    return Bench(read_bench_config(path, family=family), strict=strict)
