"""optical-pulses: laser pulses on one device with a read after each, and the photo-response
(steady rise of conductance under light) versus optical power.

Also the light helpers the optical procedures share (:class:`Light`, :func:`check_laser_power`,
:func:`check_wavelength`, :func:`parse_numbers`).

Pulses are switched by the laser output on the bench clock (output on, wait the width, output
off), so the chip sees the set power for the whole width; widths from 1 ms (a controller switches
its output within about 1 ms). The controllers' own QCW mode is meant for fast trains whose
average power matters, not for single pulses followed by a read.

The stream ``optical`` has one row per read: pulse 0 is the dark baseline before the first pulse,
pulse k the read right after pulse k (the power column is the pulse's set power, 0 for the
baseline; every read of the train is taken in the dark, ``lit`` = 0). ``photoresponse`` has one
row per power: conductance read after ``settle_s`` of steady light minus the dark conductance
read just before (recorded too: shunting divides it), each after ``relax_s`` in the dark.

Each dark read still holds ``exp(-wait / tau_ph)`` of the previous light's photoconductance (0.7 %
at the default 10 s for a 2 s decay); small, it biased the photo-response's figures by several
standard errors. From version 3 the ``photoresponse`` and ``spectral`` rows record that wait,
``dark_wait`` (from the previous light-off to the dark read), and the analysis models the residual
with the decay time the step measures in the same run
(:func:`memlab.analysis.summary.photoresponse_of_run`, and for the spectral steps, whose residual
depends on the previous wavelength, :func:`memlab.analysis.summary.spectral_edge_of_run`);
version 2 files are read with ``relax_s`` as the wait.

``spectral`` (only with ``wavelengths_m``, on a tunable or multi-line laser) repeats the
photo-response step at one power, ``spectral_power_w``, at each wavelength: the spectral response.
The photo-response at the run's wavelength calibrates it (the same law maps absorbed power to the
rise at every wavelength), which is how :func:`memlab.analysis.metrics.optical.spectral_edge`
recovers the absorption edge.

``step`` is a continuous-illumination step response, from which the rise and decay time
constants come (a pulse train mixes them): a few dark reads, light on at ``step_power_w`` for
``step_on_s``, light off and reads for ``step_off_s``; the time is measured from light-on, each
read labelled lit or dark. Reads are single fast readings (``step_nplc``), log-spaced under the
light from 1 ms (the rise has two time constants a few ms apart, photoconductance and shunting:
evenly spaced reads put too few in them) and log-spaced after it (the decay spans decades:
shunting releases within tens of ms, photoconductance relaxes over seconds). It comes last: its
dark reads hold part of the last power's photoconductance, which the decay's fit allows for.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from memlab.instruments.limits import LimitError
from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COL, COMPLIANCE_A, NPLC, READ_V, ROW, Device, RowBatch, check_compliance, check_voltages,
)
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, StreamSpec

def parse_numbers(name: str, text: str, *, allow_none: bool = False, minimum: float | None = None,
                  maximum: float | None = None, unit: str = "") -> list[float]:
    """``"1e-4, 2e-4"`` -> [1e-4, 2e-4]; with ``allow_none`` the word ``none`` gives NaN.

    Raises ParameterError naming ``name``, the text and what is allowed."""
    allowed = (f"comma-separated numbers{' or none' if allow_none else ''}"
               + (f" in [{minimum:g}, {maximum:g}] {unit}".rstrip() if minimum is not None and maximum is not None
                  else ""))
    values: list[float] = []
    for part in text.split(","):
        word = part.strip().lower()
        if not word:
            continue
        if allow_none and word == "none":
            values.append(math.nan)
            continue
        try:
            value = float(word)
        except ValueError:
            raise ParameterError(name, text, allowed) from None
        if not math.isfinite(value) or (minimum is not None and value < minimum) or (
                maximum is not None and value > maximum):
            raise ParameterError(name, text, allowed)
        values.append(value)
    return values


def check_laser_power(bench: Any, name: str, *powers_w: float) -> None:
    """Refuse optical powers the bench's limits or the laser's calibration do not allow."""
    laser = bench.laser
    limit = bench.limits.max_laser_power_w
    calibrated = laser.calibration.max_power_w
    for power in powers_w:
        if power > limit:
            raise ParameterError(name, power, f"<= {limit:g} W (the bench's max_laser_power_w)")
        if power > calibrated:
            raise ParameterError(name, power, f"<= {calibrated:g} W (the laser calibration's highest power)")
        current = laser.calibration.current_for_power(power)
        if current > bench.limits.max_laser_current_a:
            raise ParameterError(name, power, f"a power needing <= {bench.limits.max_laser_current_a:g} A of diode "
                                              f"current (the bench's max_laser_current_a); it needs {current:g} A")


def check_wavelength(bench: Any, wavelength_m: float | None, name: str = "wavelength_m") -> float | None:
    """The wavelength the bench laser would select for ``wavelength_m`` (None: its present one).

    A fixed diode accepts only its own; a multi-line head one of its lines, a tunable head any
    wavelength in its range (declared in the bench file). Raises ParameterError naming ``name``."""
    if wavelength_m is None:
        return None
    laser = bench.laser
    try:
        return float(laser.check_wavelength(wavelength_m, name))
    except LimitError:
        if laser.tunable:
            raise ParameterError(name, wavelength_m, laser.allowed_wavelengths()) from None
        raise ParameterError(name, wavelength_m,
                             f"empty or the laser's own wavelength {laser.wavelength_m:g} m (fixed by its diode; "
                             "declare wavelengths_m or wavelength_range_m for a multi-line or tunable laser)") from None


class Light:
    """The bench laser as a light input: steady light on and off, and single pulses on the bench
    clock. Procedures check powers with :func:`check_laser_power` before any output is on."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.laser = ctx.bench.laser
        self.power_w = 0.0

    @property
    def wavelength_m(self) -> float:
        return float(self.laser.wavelength_m)

    def on(self, power_w: float) -> None:
        """Steady light at ``power_w``; the output is switched on only if it is off."""
        self.laser.set_power(power_w)
        if not self.laser.output_enabled():
            self.laser.output_on()
        self.power_w = power_w

    def off(self) -> None:
        self.laser.output_off()
        self.power_w = 0.0

    def pulse(self, power_w: float, width_s: float) -> None:
        """One pulse of ``power_w`` lasting ``width_s`` on the bench clock; returns with the light off."""
        self.on(power_w)
        try:
            self.ctx.sleep(width_s)
        finally:
            self.off()


OPTICAL = StreamSpec("optical", (
    Column("pulse", "", "i4"), Column("power", "W"), Column("wavelength", "m"), Column("conductance", "S"),
    Column("time", "s"), Column("lit", "", "i1")),
    "pulse 0: dark baseline; pulse k: read right after laser pulse k; lit = light on during the read")
DARK_WAIT = Column("dark_wait", "s", description="time in the dark from the previous light-off to the dark read "
                                                 "(NaN: no light before it in the run)")
PHOTORESPONSE = StreamSpec("photoresponse", (Column("power", "W"), Column("photoconductance", "S", description="rise of conductance under the light"),
                                             Column("dark_conductance", "S"), Column("wavelength", "m"), DARK_WAIT),
                           "rise of conductance under steady light of each power, and the dark conductance")
SPECTRAL = StreamSpec("spectral", (Column("wavelength", "m"), Column("power", "W"),
                                   Column("photoconductance", "S", description="rise of conductance under the light"),
                                   Column("dark_conductance", "S"), DARK_WAIT),
                      "rise of conductance under steady light of one power at each wavelength (repeated reads "
                      "in the order measured): the spectral response")
STEP = StreamSpec("step", (Column("time", "s"), Column("conductance", "S"), Column("lit", "", "i1"),
                           Column("power", "W")),
                  "continuous-illumination step: time from light-on, each read labelled lit (1) or dark (0)")


@register
class OpticalPulses(Procedure):
    name = "optical-pulses"
    version = "3"  # 2: wavelength column in photoresponse, spectral stream; 3: dark_wait columns
    title = "Optical pulses and photo-response"
    description = ("Laser pulses on one device with a read after each (photoconductance building up "
                   "and relaxing between pulses), then the steady photoconductance at each of a list "
                   "of powers. For optomemristors (light alone does not change the stored weight).")
    parameters = (
        ROW, COL,
        Parameter("power_w", float, 1e-3, "W", 0.0, 1.0, help="Optical power of each pulse (as set on the laser)"),
        Parameter("width_s", float, 5e-3, "s", 1e-3, 100.0, help="Width of each laser pulse"),
        Parameter("count", int, 10, "", 0, 100_000, help="Number of laser pulses (0: photo-response only)"),
        Parameter("interval_s", float, 0.1, "s", 2e-3, 1e4,
                  help="Start-to-start time of the pulses (> width_s; the read happens in the gap)"),
        Parameter("wavelength_m", float, None, "m", 100e-9, 20e-6, optional=True,
                  help="Wavelength of the pulses, photo-response and step (empty: the laser's present one; a "
                       "fixed diode takes only its own)"),
        Parameter("wavelengths_m", str, "", "m",
                  help="Wavelengths of the spectral response, comma-separated (empty: skip it; needs a "
                       "tunable or multi-line laser)"),
        Parameter("spectral_power_w", float, 1e-4, "W", 1e-9, 1.0,
                  help="Optical power of each spectral step (as set on the laser)"),
        Parameter("spectral_repeats", int, 3, "", 1, 100,
                  help="Steps at each wavelength (their spread is the response's uncertainty)"),
        Parameter("powers_w", str, "1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3", "W",
                  help="Powers of the photo-response, comma-separated (empty: skip it)"),
        Parameter("settle_s", float, 0.1, "s", 0.0, 1e4,
                  help="Light on before the steady read (>= 5 photoconductance rise times)"),
        Parameter("relax_s", float, 10.0, "s", 0.0, 1e5,
                  help="Dark wait before each dark read (>= 5 photoconductance relaxation times)"),
        Parameter("step_power_w", float, 1e-3, "W", 0.0, 1.0,
                  help="Power of the continuous-illumination step (0: no step response)"),
        Parameter("step_on_s", float, 0.2, "s", 1e-3, 1e4, help="How long the step's light stays on"),
        Parameter("step_off_s", float, 5.0, "s", 1e-3, 1e5, help="How long the decay is read after light-off"),
        Parameter("step_reads", int, 60, "", 16, 100_000, help="Reads under the light, and again after it"),
        Parameter("step_nplc", float, 0.01, "", 0.001, 100.0, help="Integration time of each step read (NPLC)"),
        READ_V, COMPLIANCE_A, NPLC,
        Parameter("reads", int, 5, "", 1, 1000, help="Readings averaged per read"),
    )
    streams = (OPTICAL, PHOTORESPONSE, SPECTRAL, STEP)
    plots = (PlotHint("optical", "time", "conductance", "Conductance after each laser pulse", kind="scatter"),
             PlotHint("photoresponse", "power", "photoconductance", "Photo-response", kind="scatter", log_x=True),
             PlotHint("spectral", "wavelength", "photoconductance", "Spectral response", kind="scatter"),
             PlotHint("step", "time", "conductance", "Step response (light on at t = 0)", kind="scatter"))
    requires = ("smu", "laser")

    def validate(self) -> None:
        p = self.p
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (conductance is I / V)")
        if p.count > 0 and p.interval_s <= p.width_s:
            raise ParameterError("interval_s", p.interval_s, f"> width_s = {p.width_s:g} s (the read is in the gap)")
        powers = self.powers()  # refuses a malformed list now, not mid-run
        wavelengths = self.wavelengths()
        if p.count == 0 and not powers and p.step_power_w == 0 and not wavelengths:
            raise ParameterError("count", 0, ">= 1, or give powers_w, wavelengths_m or step_power_w (else there "
                                             "is nothing to measure)")

    def powers(self) -> list[float]:
        return parse_numbers("powers_w", self.p.powers_w, minimum=0.0, maximum=1.0, unit="W")

    def wavelengths(self) -> list[float]:
        return parse_numbers("wavelengths_m", self.p.wavelengths_m, minimum=100e-9, maximum=20e-6, unit="m")

    def check(self, bench: Any) -> None:
        super().check(bench)
        check_voltages(bench, "read_v", self.p.read_v)
        check_compliance(bench, self.p.compliance_a)
        check_laser_power(bench, "power_w", self.p.power_w)
        check_laser_power(bench, "powers_w", *self.powers())
        check_laser_power(bench, "step_power_w", self.p.step_power_w)
        check_wavelength(bench, self.p.wavelength_m)
        wavelengths = self.wavelengths()
        if wavelengths:
            if not bench.laser.tunable:
                raise ParameterError("wavelengths_m", self.p.wavelengths_m,
                                     f"empty: the laser emits only {bench.laser.wavelength_m:g} m (a fixed diode; a "
                                     "spectral response needs a tunable or multi-line laser in the bench file)")
            check_laser_power(bench, "spectral_power_w", self.p.spectral_power_w)
            for wavelength in wavelengths:
                check_wavelength(bench, wavelength, "wavelengths_m")

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        step = p.relax_s + p.step_on_s + p.step_off_s if p.step_power_w else 0.0
        spectral = len(self.wavelengths()) * p.spectral_repeats * (p.relax_s + p.settle_s)
        return (p.relax_s + p.count * p.interval_s + len(self.powers()) * (2 * p.relax_s + p.settle_s) + spectral
                + step)

    def execute(self, ctx: Any) -> None:
        p = self.p
        device = Device(ctx, p.row, p.col, read_v=p.read_v, compliance_a=p.compliance_a, nplc=p.nplc, reads=p.reads)
        light = Light(ctx)
        light.off()
        if p.wavelength_m is not None:
            light.laser.set_wavelength(p.wavelength_m)
        wavelength = light.wavelength_m
        powers = self.powers()
        wavelengths = self.wavelengths()
        total, done = p.count + len(powers) + len(wavelengths) + (1 if p.step_power_w else 0), 0
        light_off = math.nan  # when the light last went off (NaN: not yet in this run)
        if p.count:
            ctx.sleep(p.relax_s)
            t_read = ctx.elapsed_s
            g_dark = device.read_conductance()
            ctx.append_row("optical", (0, 0.0, wavelength, g_dark, t_read, 0))
            late = 0
            start = ctx.elapsed_s
            for k in range(1, p.count + 1):
                ctx.check_abort()
                wait = start + (k - 1) * p.interval_s - ctx.elapsed_s
                if wait > 0:
                    ctx.sleep(wait)
                elif k > 1:
                    late += 1  # the read took longer than the gap: this pulse starts late
                light.pulse(p.power_w, p.width_s)
                light_off = t_read = ctx.elapsed_s
                ctx.append_row("optical", (k, p.power_w, wavelength, device.read_conductance(), t_read, 0))
                done += 1
                ctx.progress(done, total)
            if late:
                ctx.log(f"{late} pulses started late: the read after a pulse took longer than "
                        f"interval_s - width_s = {p.interval_s - p.width_s:g} s", 30)
        rises = []
        for power in powers:
            ctx.check_abort()
            ctx.sleep(p.relax_s)
            dark_wait = ctx.elapsed_s - light_off
            g_dark = device.read_conductance()
            light.on(power)
            ctx.sleep(p.settle_s)
            g_light = device.read_conductance()
            light.off()
            light_off = ctx.elapsed_s
            rises.append(g_light - g_dark)
            ctx.append_row("photoresponse", (power, g_light - g_dark, g_dark, wavelength, dark_wait))
            done += 1
            ctx.progress(done, total)
        if wavelengths:
            try:
                for spectral_wavelength in wavelengths:
                    light.laser.set_wavelength(spectral_wavelength)  # tuned with the light off
                    selected = light.wavelength_m
                    for _ in range(p.spectral_repeats):
                        ctx.check_abort()
                        ctx.sleep(p.relax_s)
                        dark_wait = ctx.elapsed_s - light_off
                        g_dark = device.read_conductance()
                        light.on(p.spectral_power_w)
                        ctx.sleep(p.settle_s)
                        g_light = device.read_conductance()
                        light.off()
                        light_off = ctx.elapsed_s
                        ctx.append_row("spectral", (selected, p.spectral_power_w, g_light - g_dark, g_dark,
                                                    dark_wait))
                    done += 1
                    ctx.progress(done, total)
            finally:
                light.off()
                light.laser.set_wavelength(wavelength)  # the step response is at the run's wavelength
        if p.step_power_w:
            ctx.check_abort()
            self.step_response(ctx, device, light)
            done += 1
            ctx.progress(done, total)
        device.release()
        if rises:
            best = int(np.argmax(rises))
            ctx.log(f"photo-response: largest rise {rises[best]:.4g} S at {powers[best]:.4g} W "
                    f"(wavelength {wavelength:.4g} m)")

    def step_response(self, ctx: Any, device: Device, light: Light) -> None:
        """Dark reads, light on for step_on_s, then reads for step_off_s; times from light-on."""
        p = self.p
        ctx.sleep(p.relax_s)
        nplc, device.nplc = device.nplc, p.step_nplc
        try:
            with RowBatch(ctx, "step", ("time", "conductance", "lit", "power"), size=256) as rows:
                dark_start = ctx.elapsed_s
                for _ in range(3):
                    rows.add(ctx.elapsed_s - dark_start - 1.0, device.read_conductance(1), 0, 0.0)
                light.on(p.step_power_w)
                t_on = ctx.elapsed_s
                for t in np.geomspace(min(1e-3, p.step_on_s / p.step_reads), p.step_on_s, p.step_reads):
                    wait = t_on + t - ctx.elapsed_s
                    if wait > 0:
                        ctx.sleep(wait)
                    if ctx.elapsed_s - t_on >= p.step_on_s:
                        break
                    t_read = ctx.elapsed_s
                    rows.add(t_read - t_on, device.read_conductance(1), 1, p.step_power_w)
                light.off()
                t_off = ctx.elapsed_s
                first = max(t_off - t_on - p.step_on_s, 1e-4)
                for t in np.geomspace(first, p.step_off_s, p.step_reads):
                    wait = t_off + t - ctx.elapsed_s
                    if wait > 0:
                        ctx.sleep(wait)
                    t_read = ctx.elapsed_s
                    rows.add(t_read - t_on, device.read_conductance(1), 0, 0.0)
        finally:
            device.nplc = nplc
