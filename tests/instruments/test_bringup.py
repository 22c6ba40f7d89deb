"""`memlab bench scan` and `memlab bench selftest` against the simulated bench (@memsim)."""

from __future__ import annotations

from pathlib import Path

import pytest

from memlab.cli import main
from memlab.instruments.bench import DEFAULT_BENCH, read_bench_config
from memlab.instruments.bringup import match_identity, parse_device, scan, selftest

BUILTIN = {
    "USB0::0x05E6::0x2450::04512345::INSTR": ("Keithley2450", "smu"),
    "USB0::0x0957::0x2807::MY57400123::INSTR": ("Keysight33500B", "pulser"),
    "USB0::0x1313::0x804A::M00412345::INSTR": ("ThorlabsITC4001", "laser"),
    "USB0::0x05E6::0x707B::04395011::INSTR": ("Keithley707B", "switch"),
    "USB0::0x1313::0x8078::P0012345::INSTR": ("ThorlabsPM100", "power_meter"),
}
RESISTOR_OHM = 100e3


@pytest.mark.parametrize("identity, expected", [
    ("KEITHLEY INSTRUMENTS,MODEL 2450,04512345,1.7.12b", ("Keithley2450", "smu", None)),
    ("Keithley Instruments Inc., Model 2636B, 4478123, 4.0.4", ("Keithley2600B", "smu", "2636B")),
    ("Keithley Instruments Inc., Model 707B, 04395011, 1.5.0", ("Keithley707B", "switch", None)),
    ("Keysight Technologies,B2902A,MY51140001,3.4.2011.5100", ("KeysightB2900", "smu", "B2902A")),
    ("Agilent Technologies,33522B,MY52345678,2.03-1.19-2.00-52-00", ("Keysight33500B", "pulser", None)),
    ("Agilent Technologies,81160A,DE51300001,2.0.0.0-1.7", ("Keysight81160A", "pulser", None)),
    ("Thorlabs,ITC4001,M00412345,1.8.0", ("ThorlabsITC4001", "laser", None)),
    ("THORLABS,CLD1015,M00999999,1.2.0", ("ThorlabsCLD101x", "laser", None)),
    ("Thorlabs,PM100USB,P0012345,1.7.0", ("ThorlabsPM100", "power_meter", None)),
    ("Rigol Technologies,DS1054Z,DS1ZA0000,00.04.04", None),
])
def test_identities_match_memlabs_drivers(identity: str, expected) -> None:
    assert match_identity(identity) == expected


def test_scan_finds_every_simulated_instrument(tmp_path: Path, capsys) -> None:
    result = scan(["@memsim"], timeout_ms=500)
    found = {f.resource: (f.driver, f.role) for f in result.found}
    assert found == BUILTIN
    assert all(f.identity and f.error is None for f in result.found)
    out = tmp_path / "bench.toml"
    assert main(["bench", "scan", "--backend", "@memsim", "--write", str(out)]) == 0
    printed = capsys.readouterr().out
    assert all(address in printed for address in BUILTIN)
    config = read_bench_config(str(out))
    assert {role: (c.driver, c.address) for role, c in config.instruments.items()} == \
        {role: (driver, address) for address, (driver, role) in BUILTIN.items()}
    # The written bench is usable at once: the selftest passes on it.
    assert main(["bench", "selftest", "--bench", str(out)]) == 0
    # An existing file is kept.
    assert main(["bench", "scan", "--backend", "@memsim", "--write", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_scan_reports_a_missing_visa_library() -> None:
    result = scan(["@no_such_backend"], timeout_ms=100)
    assert result.found == []
    assert "@no_such_backend" in result.unavailable


def test_selftest_passes_on_the_simulated_bench() -> None:
    checks = selftest(None)
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    names = {(c.role, c.name) for c in checks}
    for role in ("smu", "pulser", "laser", "switch", "power_meter"):
        for name in ("identity", "error queue empty", "outputs off", "limits accepted"):
            assert (role, name) in names


def _bench_with_resistor(tmp_path: Path, row: int, col: int) -> str:
    path = tmp_path / "resistor.toml"
    text = DEFAULT_BENCH.read_text(encoding="utf-8")
    text += (f"\n[[chip.faults]]\nrow = {row}\ncol = {col}\nkind = \"stuck\"\n"
             f"value = {1.0 / RESISTOR_OHM!r}\n")
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_resistor_check_passes_through_the_right_wiring(tmp_path: Path, capsys) -> None:
    bench = _bench_with_resistor(tmp_path, 1, 2)
    assert main(["bench", "selftest", "--bench", bench, "--resistor", "1e5", "--device", "1,2"]) == 0
    assert "PASS  smu          resistor at device 1,2: measured" in capsys.readouterr().out


def test_resistor_check_detects_a_wrong_wiring_entry(tmp_path: Path, capsys) -> None:
    # The resistor sits at device (1, 2); a wiring entry that leads to (2, 1) instead measures
    # that device's memristor, not the resistor.
    bench = _bench_with_resistor(tmp_path, 1, 2)
    assert main(["bench", "selftest", "--bench", bench, "--resistor", "1e5", "--device", "2,1"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  smu" in out and "check the wiring entry for row 2 and column 1" in out


@pytest.mark.parametrize("arguments, message", [
    (["--device", "1;2", "--resistor", "1e5"], "--device"),
    (["--device", "1,2", "--resistor", "-5"], "--resistor"),
    (["--resistor", "1e5"], "--device"),
    (["--device", "1,2", "--resistor", "1e5", "--tolerance", "2"], "--tolerance"),
])
def test_selftest_bad_options_exit_2(arguments: list[str], message: str, capsys) -> None:
    assert main(["bench", "selftest", *arguments]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_parse_device() -> None:
    assert parse_device("3,5") == (3, 5)
    with pytest.raises(ValueError, match="ROW,COL"):
        parse_device("3")
