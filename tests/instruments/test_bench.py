"""Bench files, the built-in simulated bench, fault injection and `memlab bench check`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pytest

from memlab.instruments.bench import (
    Bench,
    BenchConnectionError,
    BenchFileError,
    load_bench,
    read_bench_config,
)
from memlab.instruments.clock import Clock
from memlab.instruments.interfaces import (
    InstrumentConnectionError,
    InstrumentError,
    LightSource,
    PowerMeter,
    PulseGenerator,
    SourceMeter,
    SwitchMatrix,
)
from memlab.instruments.sim.base import Faults
from memlab import cmd_bench

SMU_2600 = """
[chip]
rows = 4
cols = 4
overrides = {{ stuck_fraction = 0.0 }}

[instruments.smu]
driver = "Keithley2600B"
address = "GPIB0::26::INSTR"
model = "2636B"
{extra}

[wiring]
direct = {{ smu = [1, 2] }}
"""


def write(tmp_path: Path, text: str, name: str = "bench.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def bench() -> Bench:
    with load_bench() as opened:
        yield opened


# -- the built-in bench ---------------------------------------------------------------------------


def test_default_bench_has_every_role(bench: Bench) -> None:
    assert isinstance(bench.smu, SourceMeter)
    assert isinstance(bench.pulser, PulseGenerator)
    assert isinstance(bench.laser, LightSource)
    assert isinstance(bench.switch, SwitchMatrix)
    assert isinstance(bench.power_meter, PowerMeter)
    assert set(bench.instruments()) == {"smu", "pulser", "laser", "switch", "power_meter"}
    assert isinstance(bench.clock, Clock) and bench.clock.virtual
    assert bench.clock is bench.world.clock
    assert bench.chip_info() == {"family": "prgo", "rows": 16, "cols": 16, "seed": 0, "array": "passive",
                                 "bias_scheme": "v/3", "read_bias": "v/2-columns", "coupling_efficiency": 0.8, "overrides": {},
                                 "simulated": True}


def test_optomemristor_family_on_the_same_bench() -> None:
    with load_bench(None, family="optomemristor") as bench:
        assert bench.chip_info()["family"] == "optomemristor"
        assert bench.world.chip.family == "optomemristor"
    with pytest.raises(ValueError, match="family"):
        load_bench(None, family="pcm")


def test_snapshot_names_every_instrument(bench: Bench) -> None:
    snapshot = bench.snapshot()
    assert set(snapshot) == set(bench.instruments())
    for role, entry in snapshot.items():
        assert entry["simulated"] is True
        assert entry["address"] == bench.config.instruments[role].address
        assert entry["identity"] and entry["model"]
        assert isinstance(entry["settings"], dict)


def test_smu_reads_the_switched_device_and_compliance_clamps(bench: Bench) -> None:
    chip = bench.world.chip
    bench.switch.connect("smu", 3, 4)
    bench.smu.set_voltage(0.3, 1e-4)
    bench.smu.output_on()
    assert bench.smu.measure_current_a() == pytest.approx(chip.probe_current(3, 4, 0.3), rel=0.05)
    limit = chip.probe_current(3, 4, 0.3) / 20
    bench.smu.set_voltage(0.3, limit)
    assert abs(bench.smu.measure_current_a()) <= limit * 1.01


def test_pulse_through_the_switch_changes_the_addressed_device_only(bench: Bench) -> None:
    chip = bench.world.chip
    healthy = ~chip.fault_map()["stuck"]
    row, col = map(int, np.argwhere(healthy)[37])
    before = chip.conductance.copy()
    bench.switch.connect("pulse", row, col)
    bench.pulser.configure_pulse(level_v=2.0, width_s=1e-6, period_s=1e-3, burst_count=20)
    bench.pulser.output_on()
    bench.pulser.trigger()
    changed = np.argwhere(~np.isclose(chip.conductance, before, rtol=1e-6))
    assert changed.tolist() == [[row, col]]
    assert chip.conductance[row, col] > before[row, col]


def test_laser_power_on_the_meter_matches_the_calibration(bench: Bench) -> None:
    bench.laser.set_power(5e-3)
    bench.laser.output_on()
    assert bench.power_meter.read_power_w() == pytest.approx(5e-3, rel=0.02)
    assert bench.world.chip_power_w == pytest.approx(0.8 * 5e-3, rel=1e-6)
    assert bench.safe_shutdown() == []
    assert not bench.laser.output_enabled()
    assert bench.world.laser_power_w == 0.0


def test_safe_shutdown_switches_everything_off_and_keeps_going(bench: Bench) -> None:
    bench.switch.connect("smu", 0, 0)
    bench.smu.set_voltage(0.2, 1e-4)
    bench.smu.output_on()
    bench.pulser.configure_pulse(level_v=1.0, width_s=1e-6, period_s=1e-3)
    bench.pulser.output_on()
    bench.twins["pulser"].faults = Faults(disconnect_after=0)
    problems = bench.safe_shutdown()
    assert len(problems) == 2 and problems[0].startswith("pulser:")
    # the pulser's output cannot be read back: a safety failure, not a success
    assert problems.safety_failures == [problems[1]] and "pulser" in problems[1]
    assert not bench.smu.output_enabled()
    assert bench.world.routes == {}


# -- other bench files ----------------------------------------------------------------------------


def test_bench_without_switch_uses_fixed_routes(tmp_path: Path) -> None:
    with load_bench(write(tmp_path, SMU_2600.format(extra=""))) as bench:
        assert bench.switch is None and bench.pulser is None
        assert bench.instruments().keys() == {"smu"}
        assert bench.world.device_for("smu") == (1, 2)
        assert "2636B" in bench.smu.identity()
        bench.smu.set_voltage(0.4, 1e-4)
        bench.smu.output_on()
        expected = bench.world.chip.probe_current(1, 2, 0.4)
        assert bench.smu.measure_current_a() == pytest.approx(expected, rel=0.05)


def test_dead_chip_device(tmp_path: Path) -> None:
    text = SMU_2600.format(extra="").replace("[instruments.smu]", "[[chip.faults]]\nrow = 1\ncol = 2\n"
                                             "kind = \"open\"\n\n[instruments.smu]")
    with load_bench(write(tmp_path, text)) as bench:
        bench.smu.set_voltage(0.4, 1e-4)
        bench.smu.output_on()
        assert abs(bench.smu.measure_current_a()) < 1e-10


PULSER_81160A = """
[chip]
rows = 2
cols = 2

[instruments.pulser]
driver = "Keysight81160A"
{options}

[wiring]
direct = {{ pulse = [0, 1] }}
"""


@pytest.mark.parametrize(("options", "device_v"), [("", 2.0), ("options = { termination_ohm = 50 }", 2.0)])
def test_pulser_termination_from_the_bench_file_reaches_driver_and_twin(
    tmp_path: Path, options: str, device_v: float
) -> None:
    # Without a terminator, an 81160A told to expect 50 ohm would put twice the level on the device:
    # the twin models the bench's termination, the driver programs the matching expected load.
    with load_bench(write(tmp_path, PULSER_81160A.format(options=options))) as bench:
        twin = bench.twins["pulser"]
        termination = 50.0 if options else None
        assert bench.pulser.termination_ohm == termination
        assert twin.termination_ohm == (termination or float("inf"))
        bench.pulser.configure_pulse(2.0, 1e-6, 1e-3)
        pulse_v, base_v = twin._device_levels(1)
        assert pulse_v == pytest.approx(device_v, rel=1e-4) and base_v == 0.0
        assert bench.snapshot()["pulser"]["settings"]["termination_ohm"] == termination


def test_power_meter_sensor_from_the_bench_file(tmp_path: Path) -> None:
    text = """
[instruments.laser]
driver = "ThorlabsITC4001"
[instruments.laser.calibration]
threshold_a = 0.015
slope_w_per_a = 0.25
max_current_a = 0.1
wavelength_m = 1550e-9

[instruments.power_meter]
driver = "ThorlabsPM100"
options = { sensor = "S122C" }
"""
    with load_bench(write(tmp_path, text)) as bench:
        assert bench.twins["power_meter"].sensor == "S122C"
        assert bench.power_meter.sensor_info()["name"] == "S122C"
        bench.power_meter.wavelength_m = 1550e-9  # beyond the default S120C's 1100 nm
        assert bench.power_meter.wavelength_m == pytest.approx(1550e-9)
        with pytest.raises(ValueError, match="wavelength_m=5e-07 is outside the S122C sensor range"):
            bench.power_meter.wavelength_m = 500e-9


# -- fault injection ------------------------------------------------------------------------------


def test_timeout_is_a_clear_driver_error_not_a_hang(tmp_path: Path) -> None:
    extra = "timeout_s = 0.5\n[instruments.smu.faults]\ntimeout_after = 1"
    with load_bench(write(tmp_path, SMU_2600.format(extra=extra))) as bench:
        bench.smu.identity()  # the first message is answered
        start_wall, start = time.perf_counter(), bench.clock.now()
        with pytest.raises(InstrumentConnectionError, match="no reply to 'print.*within 0.5 s"):
            bench.smu.measure_current_a()
        assert time.perf_counter() - start_wall < 1.0
        assert bench.clock.now() - start >= 0.5  # the timeout passed on the bench clock


def test_dead_instrument_and_disconnect(tmp_path: Path) -> None:
    dead = SMU_2600.format(extra="[instruments.smu.faults]\ndead = true")
    with load_bench(write(tmp_path, dead)) as bench:
        with pytest.raises(InstrumentConnectionError):
            bench.smu.identity()
    gone = SMU_2600.format(extra="[instruments.smu.faults]\ndisconnect_after = 1")
    with load_bench(write(tmp_path, gone)) as bench:
        bench.smu.identity()
        with pytest.raises(InstrumentConnectionError, match="connection failed"):
            bench.smu.output_off()


def test_injected_errors_are_raised_with_the_instruments_message(tmp_path: Path) -> None:
    extra = '[instruments.smu.faults]\nerrors = [[5005, "Interlock engaged"]]'
    with load_bench(write(tmp_path, SMU_2600.format(extra=extra))) as bench:
        with pytest.raises(InstrumentError, match="5005 Interlock engaged") as caught:
            bench.smu.output_on()
        assert caught.value.errors == [(5005, "Interlock engaged")]


def test_garbled_replies_are_refused_not_believed(tmp_path: Path) -> None:
    extra = "[instruments.smu.faults]\ngarble_every = 1\nseed = 4"
    with load_bench(write(tmp_path, SMU_2600.format(extra=extra))) as bench:
        with pytest.raises(InstrumentError, match="unexpected reply"):
            bench.smu.nplc


def test_connection_errors_of_real_instruments(tmp_path: Path) -> None:
    text = """
[instruments.smu]
driver = "Keithley2450"
address = "USB0::0x05E6::0x2450::99999999::INSTR"
simulated = false
options = { visa_library = "@memsim" }
"""
    path = write(tmp_path, text)
    with pytest.raises(BenchConnectionError, match="smu"):
        load_bench(path)
    bench = load_bench(path, strict=False)
    assert bench.smu is None and "smu" in bench.errors
    assert bench.world is None and not bench.clock.virtual


# -- malformed files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[chip]\nrows = 'many'", "chip.rows", "an integer"),
        ("[chip]\nfamily = 'pcm'", "chip.family", "'prgo'"),
        ("[chip]\nsize = 4", "chip.size", "unknown key"),
        ("[chip]\noverrides = { g_maxx_s = 1e-5 }", "chip.overrides", "unknown parameter 'g_maxx_s'"),
        ("[instruments.smu]\naddress = 'GPIB0::1::INSTR'", "instruments.smu.driver", "missing"),
        ("[instruments.smu]\ndriver = 'Keithley707B'", "instruments.smu.driver", "not a SourceMeter"),
        ("[instruments.smu]\ndriver = 'Nope9000'", "instruments.smu.driver", "no driver class"),
        ("[instruments.scope]\ndriver = 'Keithley2450'", "instruments.scope", "unknown key"),
        ("[instruments.laser]\ndriver = 'ThorlabsITC4001'", "instruments.laser.calibration", "missing"),
        ("[instruments.smu]\ndriver = 'Keithley2450'\nsimulated = false", "instruments.smu.address",
         "VISA address"),
        ("[instruments.smu]\ndriver = 'Keithley2450'\n[instruments.smu.faults]\ntimeout_after = -1",
         "instruments.smu.faults.timeout_after", "integer"),
        ("[instruments.smu]\ndriver = 'Keithley2450'\noptions = { colour = 'red' }",
         "instruments.smu.options.colour", "keyword argument"),
        ("[instruments.pulser]\ndriver = 'Keysight81160A'\noptions = { termination_ohm = 0 }",
         "instruments.pulser.options.termination_ohm", "a number 1 .. 10000"),
        ("[instruments.power_meter]\ndriver = 'ThorlabsPM100'\noptions = { sensor = 'S999X' }",
         "instruments.power_meter.options.sensor", "'S120C', 'S122C'"),
        ("[instruments.smu]\ndriver = 'Keithley2450'\noptions = { termination_ohm = 50 }",
         "instruments.smu.options.termination_ohm", "keyword argument"),
        ("[limits]\nmax_voltage_v = 'ten'", "limits.max_voltage_v", "a number"),
        ("[limits]\nmax_volts = 3", "limits.max_volts", "unknown safety limit"),
        ("[optics]\ncoupling_efficiency = 1.5", "optics.coupling_efficiency", "0 .. 1"),
        ("[wiring]\nrow_pads = ['101']", "wiring.row_pads", "no switch"),
        ("[bench]\nline_frequency_hz = 55", "bench.line_frequency_hz", "50, 60"),
        ("chip = [", "(syntax)", "not valid TOML"),
    ],
)
def test_malformed_files_name_file_key_and_expectation(tmp_path: Path, text: str, key: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(BenchFileError) as caught:
        read_bench_config(path)
    error = caught.value
    assert error.file == str(path) and error.key == key
    assert expected in error.expected
    assert str(error).startswith(f"{path}: {key}: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BenchFileError, match="does not exist"):
        read_bench_config(tmp_path / "nope.toml")


# -- memlab bench check ---------------------------------------------------------------------------


def run_check(file: Path | None) -> int:
    return cmd_bench.run(argparse.Namespace(file=str(file) if file else None, family=None))


def test_bench_check_lists_every_instrument(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(None) == 0
    out = capsys.readouterr().out
    for fragment in ("smu", "MODEL 2450", "707B", "PM100USB", "ITC4001", "simulated", "connected",
                     "USB0::0x05E6::0x2450::04512345::INSTR", "prgo 16 x 16"):
        assert fragment in out


def test_bench_check_reports_a_dead_instrument(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SMU_2600.format(extra="timeout_s = 0.1\n[instruments.smu.faults]\ndead = true"))
    assert run_check(path) == 1
    assert "no answer" in capsys.readouterr().out


def test_bench_check_bad_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_check(write(tmp_path, "[chip]\nrows = 0")) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "chip.rows" in err


def test_bench_check_registers_as_a_subcommand() -> None:
    parser = argparse.ArgumentParser()
    cmd_bench.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "check", "x.toml", "--family", "optomemristor"])
    assert args.func is cmd_bench.run and args.file == "x.toml" and args.family == "optomemristor"


MINIMAL_CHIP = """
[chip]
family = "{family}"
{extra}
[instruments.smu]
driver = "Keithley2450"
address = "USB0::0x05E6::0x2450::04512345::INSTR"
simulated = true

[wiring]
direct = {{ smu = [0, 0] }}
"""


@pytest.mark.parametrize("family, array", [("prgo", "passive"), ("optomemristor", "1t1r")])
def test_a_chip_without_array_is_its_familys_and_a_passive_one_gets_v3_writes_and_v2_column_reads(
        tmp_path: Path, family: str, array: str) -> None:
    path = tmp_path / "bench.toml"
    path.write_text(MINIMAL_CHIP.format(family=family, extra=""))
    with load_bench(path) as bench:
        assert bench.chip_info()["array"] == array and bench.world.chip.array == array
    path.write_text(MINIMAL_CHIP.format(family=family, extra='array = "passive"'))
    chip = read_bench_config(path).chip
    assert (chip.array, chip.bias_scheme, chip.read_bias) == ("passive", "v/3", "v/2-columns")
    path.write_text(MINIMAL_CHIP.format(family=family, extra='array = "passive"\nbias_scheme = "v/2"\nread_bias = "v/3"'))
    with load_bench(path) as bench:
        chip = bench.world.chip
        assert (chip.array, chip.bias_scheme, chip.read_bias) == ("passive", "v/2", "v/3")


@pytest.mark.parametrize("extra, message", [
    ('array = "crossbar"', r"chip\.array: expected one of '1t1r', 'passive', got 'crossbar'"),
    ('bias_scheme = "v/4"', r"chip\.bias_scheme: expected one of 'v/2', 'v/3', 'grounded', 'v/2-columns', got 'v/4'"),
    ('read_bias = "floating"', r"chip\.read_bias: expected one of 'v/2', 'v/3', 'grounded', 'v/2-columns', got 'floating'"),
    ('read_bias = 0', r"chip\.read_bias: expected one of 'v/2', 'v/3', 'grounded', 'v/2-columns', got 0"),
    ('array = "1t1r"\nread_bias = "grounded"', r"chip\.read_bias: only a passive array has a read bias; "
                                               r"this chip is array = '1t1r'"),
    ('array = "1t1r"\nbias_scheme = "v/3"', r"chip\.bias_scheme: only a passive array has a bias scheme"),
])
def test_bad_array_settings_name_the_key_the_value_and_what_is_allowed(tmp_path: Path, extra: str,
                                                                       message: str) -> None:
    path = tmp_path / "bench.toml"
    path.write_text(MINIMAL_CHIP.format(family="prgo", extra=extra))
    with pytest.raises(BenchFileError, match=message):
        read_bench_config(path)
