"""Hostile and careless bench files (issue 12): each gives one BenchFileError line naming the file,
the key, the value and what is allowed, and exit status 2 on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from memlab.cli import main
from memlab.errors import MemlabError
from memlab.instruments.bench import BenchConnectionError, BenchFileError, load_bench, read_bench_config
from memlab.instruments.bench_file import MAX_DEPTH, chip_families
from memlab.instruments.plumbing import registered_drivers
from memlab.instruments.sim.chip.presets import PRESETS

SMU = """
[chip]
rows = 4
cols = 4

[instruments.smu]
driver = "Keithley2450"
{smu}

[wiring]
direct = {{ smu = [1, 2] }}
"""


def write(tmp_path: Path, content: str | bytes, name: str = "bench.toml") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def refused(path: Path, key: str, *fragments: str) -> BenchFileError:
    with pytest.raises(BenchFileError) as info:
        load_bench(path).close()
    error = info.value
    message = str(error)
    assert error.file == str(path) and error.key == key, message
    assert message.startswith(f"{path}: {key}: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return error


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b'[bench]\nname = "caf\xe9"\n')
    refused(path, "(line 2)", "not valid UTF-8", "0xe9")


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a=", "}")])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, opening: str, closing: str) -> None:
    path = write(tmp_path, "[bench]\nname = " + opening * 5000 + closing * 5000 + "\n")
    refused(path, "(syntax)", "nested too deeply")
    shallow = write(tmp_path, "[chip]\noverrides = { g_max_s = " + "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2) + " }\n",
                    "shallow.toml")
    with pytest.raises(BenchFileError, match="nested too deeply"):
        read_bench_config(shallow)


@pytest.mark.parametrize("driver", [":", ".keithley:Keithley2450", "memlab..x:Y", "os:path", "memlab.instruments:",
                                    "memlab.instruments.keithley:Nope", "json:JSONDecoder"])
def test_driver_paths_that_are_not_drivers(tmp_path: Path, driver: str) -> None:
    path = write(tmp_path, SMU.format(smu="").replace('"Keithley2450"', repr(driver)))
    refused(path, "instruments.smu.driver")


def test_an_address_with_a_nul_byte(tmp_path: Path) -> None:
    path = write(tmp_path, SMU.format(smu='address = "GPIB0::1\\u0000::INSTR"'))
    refused(path, "instruments.smu.address", "control characters", "\\x00")


@pytest.mark.parametrize("kind, value", [("noisy", -1.0), ("noisy", 1e9), ("stuck", 5.0), ("open", 1.0)])
def test_chip_fault_values_out_of_range_name_the_fault(tmp_path: Path, kind: str, value: float) -> None:
    error = refused(write(tmp_path, _with_fault(kind, value)), "chip.faults[0].value")
    assert f"value={value!r}" in str(error) or f"value={value:g}" in str(error)


def _with_fault(kind: str, value: float) -> str:
    return (f'[chip]\nrows = 4\ncols = 4\n\n[[chip.faults]]\nrow = 1\ncol = 1\nkind = "{kind}"\nvalue = {value}\n\n'
            '[instruments.smu]\ndriver = "Keithley2450"\n\n[wiring]\ndirect = { smu = [1, 2] }\n')


def test_a_simulated_smu_that_reaches_no_device(tmp_path: Path) -> None:
    unwired = write(tmp_path, '[instruments.smu]\ndriver = "Keithley2450"\n', "unwired.toml")
    refused(unwired, "instruments.smu", "reaches no device", "wiring.direct")
    typo = write(tmp_path, SMU.format(smu="").replace("direct = { smu", "direct = { smux"), "typo.toml")
    refused(typo, "wiring.direct.smux", "no instrument drives terminal 'smux'", "smu")


def test_the_pulser_on_the_smu_terminal(tmp_path: Path) -> None:
    text = SMU.format(smu="") + '\n[instruments.pulser]\ndriver = "Keysight33500B"\nterminal = "smu"\n'
    text = text.replace("[wiring]\ndirect = { smu = [1, 2] }\n", "") + "\n[wiring]\ndirect = { smu = [1, 2] }\n"
    refused(write(tmp_path, text), "instruments.pulser.terminal", "already driven by instruments.smu")


def test_two_roles_on_one_address(tmp_path: Path) -> None:
    text = (SMU.format(smu='address = "GPIB0::5::INSTR"')
            + '\n[instruments.power_meter]\ndriver = "ThorlabsPM100"\naddress = "gpib0::5::instr"\n')
    refused(write(tmp_path, text), "instruments.power_meter.address", "already the address of instruments.smu")


def test_a_single_channel_b2901a_has_no_channel_2(tmp_path: Path) -> None:
    text = SMU.format(smu='model = "B2901A"\noptions = { channel = 2 }').replace("Keithley2450", "KeysightB2900")
    refused(write(tmp_path, text), "instruments.smu.options.channel", "model='B2901A'", "1")
    # the two-channel model takes it
    fine = text.replace("B2901A", "B2902A")
    read_bench_config(write(tmp_path, fine, "fine.toml"))
    bad_channel = SMU.format(smu="options = { channel = 3 }").replace("Keithley2450", "KeysightB2900")
    refused(write(tmp_path, bad_channel, "three.toml"), "instruments.smu.options.channel", "1, 2")


def test_a_conductance_beyond_any_device_is_refused(tmp_path: Path) -> None:
    text = SMU.format(smu="").replace("cols = 4\n", "cols = 4\noverrides = { g_max_s = 1e300 }\n")
    refused(write(tmp_path, text), "chip.overrides", "g_max_s=1e+300", "(0, 1] S")


def test_every_case_is_one_line_and_exit_2_on_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, content in {
        "utf8.toml": b"name = \xff\n",
        "deep.toml": b"[bench]\nname = " + b"[" * 3000 + b"]" * 3000,
        "colon.toml": SMU.format(smu="").replace('"Keithley2450"', '":"').encode(),
        "nul.toml": SMU.format(smu='address = "A\\u0000"').encode(),
        "fault.toml": _with_fault("noisy", -5.0).encode(),
    }.items():
        path = write(tmp_path, content, name)
        assert main(["bench", "check", str(path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(path) in err and "Traceback" not in err, err


def test_an_unreachable_real_instrument_is_one_line_from_memlab_run(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[instruments.smu]\ndriver = "Keithley2450"\nsimulated = false\n'
                           'address = "USB0::0x05E6::0x2450::99999999::INSTR"\noptions = { visa_library = "@memsim" }\n')
    with pytest.raises(BenchConnectionError) as info:
        load_bench(path)
    assert isinstance(info.value, MemlabError)
    status = main(["run", "readout", "--bench", str(path), "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert status == 1 and len(err.splitlines()) == 1, err
    assert "could not open smu" in err and "Traceback" not in err


def test_chip_families_come_from_the_preset_registry(tmp_path: Path) -> None:
    assert chip_families() == tuple(PRESETS)
    with pytest.raises(BenchFileError, match="chip.family.*" + "'" + "', '".join(PRESETS) + "'"):
        read_bench_config(write(tmp_path, '[chip]\nfamily = "pcm"\n'))
    with pytest.raises(BenchFileError, match="family: 'pcm' is not a chip family"):
        read_bench_config(None, family="pcm")


def test_drivers_register_their_model_role_and_twin() -> None:
    drivers = registered_drivers()
    assert set(drivers) >= {"Keithley2450", "Keithley2600B", "Keithley707B", "KeysightB2900", "Keysight33500B",
                            "Keysight81160A", "ThorlabsITC4001", "ThorlabsCLD101x", "ThorlabsPM100"}
    from memlab.instruments.simulation import twin_class

    for name, driver in drivers.items():
        assert driver.role in ("smu", "pulser", "laser", "switch", "power_meter")
        twin = twin_class(driver)
        assert twin.__name__ == f"{name}Twin"  # one naming pattern for every twin


SWITCHED = """
[chip]
rows = 4
cols = 4

[instruments.smu]
driver = "Keithley2450"

[instruments.pulser]
driver = "Keysight33500B"

[instruments.switch]
driver = "Keithley707B"
{switch}

[wiring]
{wiring}
"""


def test_routing_modes_and_their_mistakes(tmp_path: Path) -> None:
    bad = write(tmp_path, SWITCHED.format(switch="", wiring='routing = "both"'), "bad.toml")
    refused(bad, "wiring.routing", "'exclusive', 'shared', 'bias_tee'", "'both'")
    tee = write(tmp_path, SWITCHED.format(switch="", wiring='routing = "bias_tee"'), "tee.toml")
    refused(tee, "wiring", "bias_tee", "same two matrix rows")
    joined = 'routing = "bias_tee"\nterminals = { smu = ["A", "B"], pulse = ["A", "B"] }'
    config = read_bench_config(write(tmp_path, SWITCHED.format(switch="", wiring=joined), "joined.toml"))
    assert config.wiring.routing == "bias_tee"
    assert config.wiring.channels("smu", 1, 2) == config.wiring.channels("pulse", 1, 2)
    assert read_bench_config(write(tmp_path, SWITCHED.format(switch="", wiring=""), "plain.toml")).wiring.routing \
        == "exclusive"


@pytest.mark.parametrize("value,shown", [("0.0", "0.0"), ("1e-6", "1e-06"), ("0.5", "0.5"), ('"fast"', "'fast'")])
def test_relay_settling_out_of_range_is_refused(tmp_path: Path, value: str, shown: str) -> None:
    text = SWITCHED.format(switch=f"options = {{ relay_settle_s = {value} }}", wiring="")
    refused(write(tmp_path, text), "instruments.switch.options.relay_settle_s", "5e-05 .. 0.1", f"got {shown}")
