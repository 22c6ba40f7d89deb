"""The Thorlabs twins: laser controllers put their light on the chip spot, the power meter reads
the laser against the calibration, interlocks keep the diode dark."""

from __future__ import annotations

import numpy as np
import pytest

from memlab.instruments.calibration import LaserCalibration
from memlab.instruments.interfaces import InstrumentError
from memlab.instruments.limits import SafetyLimits
from memlab.instruments.sim.adapter import SimAdapter
from memlab.instruments.sim.chip import Chip
from memlab.instruments.sim.thorlabs import LaserDiode, ThorlabsCLD101xTwin as TwinCLD, ThorlabsITC4001Twin as TwinITC
from memlab.instruments.sim.thorlabs import ThorlabsPM100Twin as TwinPM100
from memlab.instruments.sim.world import SimWorld
from memlab.instruments.thorlabs import ThorlabsCLD101x, ThorlabsITC4001, ThorlabsPM100

CALIBRATION = LaserCalibration(np.array([0.0, 0.03, 0.1, 0.2]), np.array([0.0, 0.0, 0.02, 0.05]), 1550e-9)


@pytest.fixture
def world() -> SimWorld:
    chip = Chip(4, 4, family="optomemristor", seed=2)
    return SimWorld(chip, coupling_efficiency=0.25, spot=(slice(0, 2), slice(0, 2)))


def diode() -> LaserDiode:
    return LaserDiode(CALIBRATION.current_a, CALIBRATION.power_w, 1550e-9)


def ask(twin, message: str) -> str:
    twin.write(message)
    return twin.read()


def test_power_meter_reads_what_the_calibration_promises(world: SimWorld) -> None:
    laser = ThorlabsITC4001(SimAdapter(TwinITC(world, "laser", diode=diode())), calibration=CALIBRATION,
                            clock=world.clock,
                            limits=SafetyLimits(max_laser_power_w=0.05, max_laser_current_a=0.2))
    meter = ThorlabsPM100(SimAdapter(TwinPM100(world, "meter", sensor="S122C")))
    meter.wavelength_m = 1550e-9
    for power in (0.005, 0.02, 0.035):
        laser.set_power(power)
        laser.output_on()
        assert meter.read_power_w() == pytest.approx(power, rel=1e-3)
    laser.output_off()
    assert abs(meter.read_power_w()) < 1e-8


def test_light_reaches_the_chip_spot_with_the_coupling_efficiency(world: SimWorld) -> None:
    twin = TwinITC(world, "laser", diode=diode())
    laser = ThorlabsITC4001(SimAdapter(twin), calibration=CALIBRATION, clock=world.clock)
    laser.set_power(0.01)
    laser.output_on()
    assert world.laser_power_w == pytest.approx(0.01)
    inside, outside = world.chip.device_state(1, 1), world.chip.device_state(3, 3)
    assert inside["light_power_w"] == pytest.approx(0.0025)
    assert inside["wavelength_m"] == pytest.approx(1550e-9)
    assert outside["light_power_w"] == 0.0
    laser.output_off()
    assert world.chip.device_state(1, 1)["light_power_w"] == 0.0


def test_wrong_wavelength_on_the_meter_reads_wrong_like_a_photodiode(world: SimWorld) -> None:
    TwinITC(world, "laser", diode=diode()).write("SOUR1:CURR 0.1;:OUTP1 1")
    meter = TwinPM100(world, "meter", sensor="S122C")
    meter.write("SENS:CORR:WAV 1550")
    right = float(ask(meter, "MEAS:POW?"))
    meter.write("SENS:CORR:WAV 1300")
    wrong = float(ask(meter, "MEAS:POW?"))
    assert right == pytest.approx(0.02, rel=1e-3)
    assert wrong == pytest.approx(0.02 * 0.82 / 0.70, rel=1e-3)  # S122C responsivity 1550 vs 1300 nm


def test_meter_units_ranges_averaging_and_zero(world: SimWorld) -> None:
    TwinITC(world, "laser", diode=diode()).write("SOUR1:CURR 0.1;:OUTP1 1")
    meter = TwinPM100(world, "meter", sensor="S122C")
    meter.write("SENS:CORR:WAV 1550;:SENS:POW:DC:UNIT DBM")
    assert float(ask(meter, "READ?")) == pytest.approx(10 * np.log10(0.02 / 1e-3), abs=1e-3)
    meter.write("SENS:POW:DC:UNIT W;:SENS:POW:DC:RANG 1e-3")
    assert float(ask(meter, "MEAS:POW?")) == 9.9e37  # 20 mW on the 1 mW range
    meter.write("SENS:POW:RANG:AUTO 1;:SENS:AVER:COUN 100")
    start = world.clock.now()
    ask(meter, "MEAS:POW?")
    assert world.clock.now() - start >= 0.3  # 100 samples of about 3 ms
    meter.write("SENS:CORR:COLL:ZERO")
    assert abs(float(ask(meter, "MEAS:POW?"))) < 1e-6  # zeroed with the beam on: the beam is gone
    assert ask(meter, "SYST:SENS:IDN?").startswith("S122C,")
    meter.write("SENS:CORR:WAV 400")  # outside the Ge sensor's range
    assert ask(meter, "SYST:ERR?").startswith('-222,"Data out of range')


@pytest.mark.filterwarnings("ignore:It is not known whether this device support SCPI")
def test_stock_pymeasure_power_meter_class(world: SimWorld) -> None:
    from pymeasure.instruments.thorlabs import ThorlabsPM100USB

    TwinITC(world, "laser", diode=diode()).write("SOUR1:CURR 0.2;:OUTP1 1")
    stock = ThorlabsPM100USB(SimAdapter(TwinPM100(world, "meter", sensor="S122C")))
    assert stock.sensor_name == "S122C" and stock.is_power_sensor
    stock.wavelength = 1550
    assert stock.wavelength == 1550
    assert stock.power == pytest.approx(0.05, rel=1e-3)


def test_interlock_keeps_the_diode_dark(world: SimWorld) -> None:
    twin = TwinITC(world, "laser", diode=diode())
    laser = ThorlabsITC4001(SimAdapter(twin), calibration=CALIBRATION, clock=world.clock)
    twin.interlock_closed = False
    assert laser.interlock_ok() is False
    with pytest.raises(InstrumentError, match="protection tripped"):
        laser.output_on()
    twin.write("OUTP1 1")  # straight to the instrument: refused as well
    assert ask(twin, "SYST:ERR?") == '-221,"Settings conflict;laser output refused: interlock open"'
    assert world.laser_power_w == 0.0


def test_current_limit_and_qcw_average_power(world: SimWorld) -> None:
    twin = TwinITC(world, "laser", diode=diode())
    twin.write("SOUR1:CURR:LIM 0.15;:SOUR1:CURR 0.18")
    assert ask(twin, "SYST:ERR?").startswith('-222,"Data out of range;LD current 0.18 A above the limit')
    assert float(ask(twin, "SOUR1:CURR? MAX")) == 1.0
    twin.write("SOUR1:CURR 0.1;:SOUR:FUNC:SHAP PULS;:SOUR:PULS:PER 0.2;:SOUR:PULS:WIDT 0.05;:OUTP1 1")
    assert world.laser_power_w == pytest.approx(0.02 * 0.25)
    assert float(ask(twin, "MEAS:POW2?")) == pytest.approx(0.005)
    assert float(ask(twin, "MEAS:CURR1?")) == pytest.approx(0.1)
    assert float(ask(twin, "MEAS:VOLT1?")) > 0.9


def test_tec_settles_towards_its_set_point(world: SimWorld) -> None:
    twin = TwinITC(world, "laser", diode=diode())
    twin.write("SOUR2:TEMP 30C;:OUTP2 1")
    world.clock.sleep(5.0)
    one_tau = float(ask(twin, "MEAS:TEMP?"))
    world.clock.sleep(30.0)
    settled = float(ask(twin, "MEAS:TEMP?"))
    assert 23.0 < one_tau < 30.0
    assert settled == pytest.approx(30.0, abs=0.05)


def test_itc_driver_modulation_and_pulses(world: SimWorld) -> None:
    twin = TwinITC(world, "laser", diode=diode())
    laser = ThorlabsITC4001(SimAdapter(twin), calibration=CALIBRATION, clock=world.clock)
    laser.set_modulation(True, 1e3, 0.2)
    laser.check_errors()
    assert ask(twin, "SOUR1:AM?") == "1"
    start = world.clock.now()
    laser.pulse(0.01, 0.01, 0.05, 3)
    assert world.clock.now() - start >= 2 * 0.05 + 0.01
    assert world.laser_power_w == 0.0


def test_cld_driver_switches_light_and_reports_its_variant(world: SimWorld) -> None:
    twin = TwinCLD(world, "laser", variant="CLD1010", diode=diode())
    laser = ThorlabsCLD101x(SimAdapter(twin), calibration=CALIBRATION, clock=world.clock)
    assert laser.identity().startswith("Thorlabs,CLD1010,")
    laser.set_power(0.015)
    laser.output_on()
    assert world.laser_power_w == pytest.approx(0.015)
    assert laser.output_enabled()
    laser.shutdown()
    assert world.laser_power_w == 0.0
    twin.write("SOUR:CURR 1.2")
    assert ask(twin, "SYST:ERR?").startswith('-222,"Data out of range')  # the CLD1010 stops at 1 A
