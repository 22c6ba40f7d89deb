"""One simulated bench's shared state: the chip, the clock, the routes and the light.

Every virtual instrument of a bench holds the same :class:`SimWorld`. The world owns nothing an
instrument owns (ranges, buffers, output state): it is what the instruments share through the
bench's cables and optics.

- *Routes* say which instrument terminal reaches which chip device. The switch-matrix twin sets
  them as relays close (``connect``/``disconnect_all``); on a bench without a switch the wiring
  fixes them once. A terminal is a string named by the bench, e.g. ``"smu"`` or ``"awg:ch1"``.
  An unrouted terminal is an open circuit: it sources into nothing and measures 0 A.
- *Activities*: what acts on the chip by itself as time passes (a free-running pulse train) is
  caught up (:meth:`SimWorld.settle`) before any instrument touches the chip.
- *Holders*: what keeps a level on the device behind a terminal (an SMU output left on) applies
  the time it held lazily, at the instrument's next command. Before any route changes the world
  settles the activities and calls every holder (:meth:`SimWorld.add_holder`), so the exposure
  lands on the device that had it, not on the one routed next.
- *Light*: the laser twin reports its emitted power with :meth:`SimWorld.set_laser`; the world
  puts ``power_w * coupling_efficiency`` on the chip over the spot, and a power meter reads
  ``power_w * meter_fraction`` (the meter sits in the beam or on a tap of it).
- *Live outputs*: every source twin reports its output state (:meth:`SimWorld.set_output`). Two
  live outputs routed to one device would be two sources driving it at once: the world refuses
  with :class:`DoubleDriveError` whenever an output goes on or a route changes into that state.
- *Lock*: instruments may be driven from a GUI worker thread and a script at once; each message
  an instrument handles holds ``world.lock`` so that chip and clock change atomically.
"""

from __future__ import annotations

import io
import pickle
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from memlab.errors import MemlabError
from memlab.instruments.sim.clock import VirtualClock

if TYPE_CHECKING:
    from memlab.instruments.sim.chip import Chip

Device = tuple[int, int]


class DoubleDriveError(MemlabError, RuntimeError):
    """Two instrument outputs that are on reach one device at once: a routing or sequencing fault.
    The simulated bench raises it into the client (a real bench would fight two sources silently)."""


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}={value!r} is not a fraction: allowed 0 .. 1")
    return value


class SimWorld:
    """The chip, clock, routes and light shared by the virtual instruments of one bench.

    :param chip: the simulated chip every instrument acts on.
    :param clock: the bench's virtual clock; by default the chip's own clock (or a new one).
    :param coupling_efficiency: fraction of the emitted laser power that reaches the chip spot.
    :param meter_fraction: fraction of the emitted laser power that the power meter receives.
    :param spot: ``(rows, cols)`` slices of the chip the laser spot covers (default: whole chip).
    """

    def __init__(
        self,
        chip: Chip,
        clock: VirtualClock | None = None,
        *,
        coupling_efficiency: float = 1.0,
        meter_fraction: float = 1.0,
        spot: tuple[slice, slice] = (slice(None), slice(None)),
    ) -> None:
        chip_clock = getattr(chip, "clock", None)
        if clock is not None and chip_clock is not None and clock is not chip_clock:
            raise ValueError(
                "clock: the chip already runs on another clock; give the world the chip's clock "
                "(two clocks on one bench would disagree about time)"
            )
        self.chip = chip
        self.clock: VirtualClock = clock or chip_clock or VirtualClock()
        self.lock = threading.RLock()
        self.coupling_efficiency = _check_fraction("coupling_efficiency", coupling_efficiency)
        self.meter_fraction = _check_fraction("meter_fraction", meter_fraction)
        self._routes: dict[str, Device] = {}
        self._activities: list[Callable[[], None]] = []
        self._holders: list[Callable[[], object]] = []
        self._live: set[str] = set()
        self._settling = False
        self._spot = self._check_spot(spot)
        self.laser_power_w = 0.0
        self.wavelength_m = 0.0

    # -- routes ---------------------------------------------------------------------------------

    def connect(self, terminal: str, row: int, col: int) -> None:
        """Route ``terminal`` to the device at (row, col), replacing any earlier route."""
        rows, cols = self.chip.rows, self.chip.cols
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError(
                f"connect {terminal!r}: device (row={row}, col={col}) is not on the chip: "
                f"allowed rows 0..{rows - 1}, cols 0..{cols - 1}"
            )
        with self.lock:
            if self._routes.get(terminal) != (row, col):
                self._before_routes_change()
            self._routes[terminal] = (int(row), int(col))
            self.check_single_drive()

    def set_output(self, terminal: str, on: bool) -> None:
        """The instrument behind ``terminal`` switched its output on or off (off: high impedance)."""
        with self.lock:
            if not on:
                self._live.discard(terminal)
            elif terminal not in self._live:
                self._live.add(terminal)
                self.check_single_drive()

    def check_single_drive(self) -> None:
        """Raise :class:`DoubleDriveError` if two live outputs reach one device."""
        if len(self._live) < 2:
            return
        driving: dict[Device, str] = {}
        for terminal in sorted(self._live):
            device = self._routes.get(terminal)
            if device is None:
                continue
            if device in driving:
                raise DoubleDriveError(
                    f"two sources drive device {device} at once: {driving[device]!r} and {terminal!r} both have "
                    "their outputs on and routed there; switch the idle instrument's output off first")
            driving[device] = terminal

    def disconnect(self, terminal: str) -> None:
        """Leave ``terminal`` open (no error if it was not routed)."""
        with self.lock:
            if terminal in self._routes:
                self._before_routes_change()
            self._routes.pop(terminal, None)

    def disconnect_all(self) -> None:
        """Open every route (the switch matrix opened all its relays)."""
        with self.lock:
            if self._routes:
                self._before_routes_change()
            self._routes.clear()

    def add_holder(self, catch_up: Callable[[], object]) -> None:
        """Register something that holds a level on the device behind a terminal and applies it
        lazily (an SMU output left on). ``catch_up()`` must apply what it held up to ``clock.now()``
        on the device routed now; the world calls it before any route changes."""
        with self.lock:
            self._holders.append(catch_up)

    def _before_routes_change(self) -> None:
        # Relays switch with outputs live (hot switching): what was held so far belongs to the old device.
        self.settle()
        for catch_up in self._holders:
            catch_up()

    def device_for(self, terminal: str) -> Device | None:
        """The (row, col) that ``terminal`` reaches, or None when it is open."""
        return self._routes.get(terminal)

    @property
    def routes(self) -> dict[str, Device]:
        """A copy of all routes, terminal -> (row, col)."""
        with self.lock:
            return dict(self._routes)

    # -- what acts on the chip on its own --------------------------------------------------------

    def add_activity(self, catch_up: Callable[[], None]) -> None:
        """Register something that acts on the chip by itself as time passes (a free-running
        pulse train). ``catch_up()`` must apply what happened up to ``clock.now()``; the world calls
        it before any instrument touches the chip, so every reading sees its effect."""
        with self.lock:
            self._activities.append(catch_up)

    def settle(self) -> None:
        """Bring every registered activity up to now (re-entrant calls do nothing)."""
        if not self._activities or self._settling:
            return
        with self.lock:
            self._settling = True
            try:
                for catch_up in self._activities:
                    catch_up()
            finally:
                self._settling = False

    # -- electrical access through a terminal (open terminal: nothing happens, 0 A) --------------

    def source_voltage(
        self, terminal: str, voltage_v: float, duration_s: float, compliance_a: float | None,
        *, bias: str = "read",
    ) -> float:
        """Hold ``voltage_v`` on the device behind ``terminal``; returns its current in A.
        ``bias``: "read" when a source-measure unit holds it (a passive array's other lines at
        the read bias), "write" when a pulse generator does (at the write scheme)."""
        self.settle()
        device = self._routes.get(terminal)
        if device is None:
            return 0.0
        return float(self.chip.source_voltage(*device, voltage_v, duration_s, compliance_a, bias=bias))

    def sweep(
        self,
        terminal: str,
        voltages_v: np.ndarray,
        duration_s: float,
        compliance_a: float | None,
    ) -> np.ndarray:
        """Step the device behind ``terminal`` through ``voltages_v``; currents in A per point."""
        self.settle()
        device = self._routes.get(terminal)
        if device is None:
            return np.zeros(len(voltages_v), dtype=np.float64)
        return np.asarray(
            self.chip.sweep(*device, voltages_v, duration_s, compliance_a), dtype=np.float64
        )

    def pulse(
        self,
        terminal: str,
        amplitude_v: float,
        width_s: float,
        *,
        count: int = 1,
        period_s: float | None = None,
        compliance_a: float | None = None,
    ) -> bool:
        """Pulse the device behind ``terminal``; False when the terminal is open (no effect)."""
        self.settle()
        device = self._routes.get(terminal)
        if device is None:
            return False
        self.chip.pulse(
            *device, amplitude_v, width_s, compliance_a=compliance_a, count=count, period_s=period_s
        )
        return True

    def cycle(self, terminal: str, set_v: float, set_width_s: float, reset_v: float,
              reset_width_s: float, cycles: int) -> bool:
        """``cycles`` x (SET, RESET) on the device behind ``terminal``, in closed form (a bipolar
        pulse train: pulses on a base of the opposite sign); False when the terminal is open."""
        self.settle()
        device = self._routes.get(terminal)
        if device is None:
            return False
        self.chip.cycle(*device, set_v, set_width_s, reset_v, reset_width_s, cycles,
                        sample_cycles=np.zeros(0, dtype=np.int64))
        return True

    # -- handing the chip to another copy of this bench (the dashboard's worker process) ----------

    def export_state(self) -> dict[str, object]:
        """The chip's state and the virtual time, as picklable data for :meth:`import_state` on
        another copy of this bench (built from the same bench file). What the instruments hold
        (levels left on, activities) is applied to the chip first, so the copy starts from now.
        Routes, live outputs and the light are not part of it: they belong to the instruments,
        which each copy has its own of."""
        with self.lock:
            self._before_routes_change()
            clock = self.clock

            class _ChipPickler(pickle.Pickler):
                def persistent_id(self, obj: object) -> str | None:
                    return "clock" if obj is clock else None

            buffer = io.BytesIO()
            _ChipPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(self.chip)
            return {"chip": buffer.getvalue(), "now_s": clock.now(), "rows": self.chip.rows,
                    "cols": self.chip.cols, "family": getattr(self.chip, "family", None),
                    "realtime": bool(getattr(clock, "realtime", False)), "speed": getattr(clock, "speed", 1.0)}

    def import_state(self, state: dict[str, object]) -> None:
        """Take the chip's state and virtual time from :meth:`export_state` of another copy of this
        bench: the chip object stays the same (everything holding it sees the new state), the
        clock moves forward to the copy's time (never back)."""
        shape = (self.chip.rows, self.chip.cols)
        if (state.get("rows"), state.get("cols")) != shape or state.get("family") != getattr(self.chip, "family", None):
            raise ValueError(f"import_state: the state is of a {state.get('rows')} x {state.get('cols')} "
                             f"{state.get('family')} chip, this bench has a {shape[0]} x {shape[1]} "
                             f"{getattr(self.chip, 'family', None)} chip")
        clock = self.clock

        class _ChipUnpickler(pickle.Unpickler):
            def persistent_load(self, pid: object) -> object:
                if pid != "clock":
                    raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
                return clock

        chip = _ChipUnpickler(io.BytesIO(state["chip"])).load()  # type: ignore[arg-type]
        with self.lock:
            self.chip.__dict__.clear()
            self.chip.__dict__.update(chip.__dict__)
            catch_up = getattr(clock, "catch_up_to", None)
            if catch_up is not None:
                catch_up(float(state["now_s"]))  # type: ignore[arg-type]
            if "realtime" in state and hasattr(clock, "realtime"):  # real-time pacing as the copy had it
                if getattr(clock, "speed", None) != state["speed"]:
                    clock.speed = state["speed"]
                if clock.realtime != state["realtime"]:
                    clock.realtime = state["realtime"]

    # -- light ----------------------------------------------------------------------------------

    def _check_spot(self, spot: tuple[slice, slice]) -> tuple[slice, slice]:
        if len(spot) != 2 or not all(isinstance(s, slice) for s in spot):
            raise ValueError(f"spot={spot!r}: expected a (rows, cols) pair of slices")
        return spot

    @property
    def spot(self) -> tuple[slice, slice]:
        """The (rows, cols) slices the laser spot covers."""
        return self._spot

    def set_spot(self, rows: slice, cols: slice) -> None:
        """Move the spot: the old region goes dark, the new one gets the current light."""
        new = self._check_spot((rows, cols))
        with self.lock:
            if self.laser_power_w > 0.0:
                self.chip.set_light(0.0, self.wavelength_m, rows=self._spot[0], cols=self._spot[1])
            self._spot = new
            if self.laser_power_w > 0.0:
                self._apply_light()

    def set_laser(self, power_w: float, wavelength_m: float) -> None:
        """The laser now emits ``power_w`` at ``wavelength_m`` (0 W when off or below threshold)."""
        if power_w < 0.0:
            raise ValueError(f"set_laser: power_w={power_w!r} must be >= 0")
        if wavelength_m <= 0.0:
            raise ValueError(f"set_laser: wavelength_m={wavelength_m!r} must be > 0")
        with self.lock:
            self.laser_power_w = float(power_w)
            self.wavelength_m = float(wavelength_m)
            self._apply_light()

    def _apply_light(self) -> None:
        rows, cols = self._spot
        self.chip.set_light(
            self.laser_power_w * self.coupling_efficiency, self.wavelength_m, rows=rows, cols=cols
        )

    @property
    def chip_power_w(self) -> float:
        """Optical power reaching each device of the spot, W."""
        return self.laser_power_w * self.coupling_efficiency

    @property
    def meter_power_w(self) -> float:
        """Optical power on the power meter's sensor, W."""
        return self.laser_power_w * self.meter_fraction
