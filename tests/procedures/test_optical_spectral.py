"""Wavelength sweeps: a tunable or multi-line laser (driver, twin, bench file), the spectral
response of optical-pulses, and the absorption edge its analysis recovers from the simulated chip."""

from __future__ import annotations

import numpy as np
import pytest
from pymeasure.test import expected_protocol

from memlab.analysis.metrics.optical import absorbed_fraction, spectral_edge
from memlab.instruments.bench import DEFAULT_BENCH, load_bench
from memlab.instruments.bench_file import BenchFileError
from memlab.instruments.calibration import LaserCalibration
from memlab.instruments.limits import LimitError
from memlab.instruments.thorlabs import ThorlabsITC4001
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.storage import RunReader

OpticalPulses = get_procedure("optical-pulses")
CAL = LaserCalibration.linear(threshold_a=0.03, slope_w_per_a=0.5, max_current_a=0.1, wavelength_m=635e-9)


def bench_file(tmp_path, options: str):
    path = tmp_path / "bench.toml"
    path.write_text(DEFAULT_BENCH.read_text().replace(
        "[instruments.laser.calibration]", f"[instruments.laser.options]\n{options}\n\n[instruments.laser.calibration]"))
    return path


def within_ci(estimate, truth):
    low, high = estimate.ci95()
    return estimate.determined and low <= truth <= high


def test_tunable_head_selects_wavelengths_and_a_fixed_diode_refuses_them():
    with expected_protocol(ThorlabsITC4001, [("SOUR:WAV 5.2e-07", None)], calibration=CAL,
                           wavelength_range_m=[400e-9, 900e-9]) as laser:
        laser.set_wavelength(520e-9)
        assert laser.wavelength_m == 520e-9 and laser.tunable
        with pytest.raises(LimitError, match=r"wavelength_m=9\.5e-07 .*4e-07 \.\. 9e-07 m"):
            laser.set_wavelength(950e-9)
    with expected_protocol(ThorlabsITC4001, [("SOUR:WAV 5.32e-07", None)], calibration=CAL,
                           wavelengths_m=[450e-9, 532e-9, 635e-9]) as laser:
        laser.set_wavelength(532.2e-9)  # within 0.5 nm of a line: that line
        assert laser.wavelength_m == 532e-9
        with pytest.raises(LimitError, match=r"one of the lines 4\.5e-07, 5\.32e-07, 6\.35e-07 m"):
            laser.set_wavelength(500e-9)
    with expected_protocol(ThorlabsITC4001, [], calibration=CAL) as laser:
        laser.set_wavelength(635e-9)  # its own: nothing to send
        with pytest.raises(LimitError, match="a fixed diode"):
            laser.set_wavelength(520e-9)
    with pytest.raises(LimitError, match=r"wavelength_m=6\.35e-07 .*one of the lines"):
        ThorlabsITC4001("ASRL1::INSTR", calibration=CAL, wavelengths_m=[450e-9, 532e-9])


@pytest.mark.parametrize("options, message", [
    ("wavelengths_m = [5e-7]", r"options\.wavelengths_m.*at least two"),
    ("wavelength_range_m = [9e-7, 4e-7]", r"options\.wavelength_range_m.*shortest < longest"),
    ("wavelength_range_m = [4e-7, 9e-7]\nwavelengths_m = [5e-7, 6e-7]", r"not both|either multi-line"),
    ("wavelengths_m = [5e-7, 5e-5]", r"options\.wavelengths_m: 5e-05 is not allowed.*1e-07 m \.\. 2e-05 m"),
])
def test_bench_file_refuses_malformed_tuning(tmp_path, options, message):
    with pytest.raises(BenchFileError, match=message):
        load_bench(bench_file(tmp_path, options), family="optomemristor")


def test_wavelength_sweep_refused_before_any_output_unless_the_laser_can_emit_it(tmp_path):
    with load_bench(None, family="optomemristor") as bench:
        with pytest.raises(ParameterError, match=r"wavelengths_m=.*a fixed diode"):
            run_procedure(OpticalPulses(wavelengths_m="5e-7, 6e-7", powers_w=""), bench, tmp_path)
    with load_bench(bench_file(tmp_path, "wavelengths_m = [450e-9, 532e-9, 635e-9]"), family="optomemristor") as bench:
        with pytest.raises(ParameterError, match=r"wavelengths_m=5e-07 .*one of the lines"):
            run_procedure(OpticalPulses(wavelengths_m="4.5e-7, 5e-7", powers_w=""), bench, tmp_path)
        assert not bench.laser.output_enabled()
        # The twin refuses what the driver would too (a bad command reaching it is an error, not a tune).
        twin = bench.twins["laser"]
        twin.diode.lines_m = None
        twin.diode.range_m = None
        bench.laser.write("SOUR:WAV 5.32e-07")
        assert "Settings conflict" in bench.laser.ask("SYST:ERR?")
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".h5"]


def test_spectral_response_recovers_the_urbach_edge(tmp_path):
    path = bench_file(tmp_path, "wavelength_range_m = [400e-9, 900e-9]")
    wavelengths = np.linspace(420e-9, 780e-9, 13)
    with load_bench(path, family="optomemristor") as bench:
        truth = bench.world.chip.params
        result = run_procedure(OpticalPulses(
            count=0, step_power_w=0.0, powers_w="5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3",
            wavelengths_m=", ".join(f"{w:g}" for w in wavelengths), spectral_power_w=1e-4, spectral_repeats=3,
            relax_s=5.0, settle_s=0.1), bench, tmp_path)
        assert result.status == "completed", result.error
        assert bench.laser.wavelength_m == 635e-9  # back at the run's wavelength
        assert not bench.laser.output_enabled()
    reader = RunReader(result.path)
    photo, spectral = reader.stream("photoresponse"), reader.stream("spectral")
    assert np.all(photo["wavelength"] == 635e-9)
    assert np.allclose(np.unique(spectral["wavelength"]), wavelengths)
    edge = spectral_edge(photo["power"], photo["photoconductance"], photo["dark_conductance"], 635e-9,
                         spectral["wavelength"], spectral["power"], spectral["photoconductance"],
                         spectral["dark_conductance"])
    assert within_ci(edge.band_gap_ev, truth["band_gap_ev"])
    assert within_ci(edge.urbach_energy_ev, truth["urbach_energy_ev"])
    assert within_ci(edge.alpha_thickness, truth["alpha_gap_per_m"] * truth["film_thickness_m"])
    assert edge.band_gap_ev.stderr < 0.02 and edge.urbach_energy_ev.quality == "good"
    assert len(edge.points) == 13 and all(p.rise.determined and p.rise.n == 3 for p in edge.points)
    # The response rises towards the blue through the edge (shunting bends it over at the top).
    rises = [p.rise.value for p in edge.points]
    assert rises[-1] < rises[8] < rises[5]


def test_edge_outside_the_measured_energies_or_too_few_wavelengths_is_not_determined():
    powers = np.array([1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
    dark = 1e-6

    def rise(power):
        return (dark + 1e-4 * power ** 0.5) / (1 + 100 * power) - dark

    def spectral(wavelengths):
        r = absorbed_fraction(1.23984198e-6 / wavelengths, 2.0, 0.06, 0.05) / \
            absorbed_fraction(1.23984198e-6 / 635e-9, 2.0, 0.06, 0.05)
        return rise(1e-4 * r)

    few = np.repeat([500e-9, 600e-9, 700e-9], 2)
    edge = spectral_edge(powers, rise(powers), dark, 635e-9, few, 1e-4, spectral(few), dark)
    assert not edge.band_gap_ev.determined and "at least 4 wavelengths" in edge.band_gap_ev.reason
    assert np.isnan(edge.relative_responsivity([500e-9])).all()
    deep_tail = np.repeat(np.linspace(700e-9, 850e-9, 6), 2)  # all below the gap: E_g is not in the data
    edge = spectral_edge(powers, rise(powers), dark, 635e-9, deep_tail, 1e-4, spectral(deep_tail), dark)
    assert not edge.band_gap_ev.determined
