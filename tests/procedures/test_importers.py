"""memlab import: other tools' files become run files that plain h5py and the analysis read."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from memlab.analysis import open_run, summarize_run
from memlab.cli import main
from memlab.procedures.importers import (
    ImportFileError,
    ImportOptions,
    import_file,
    split_header,
    unit_scale,
)


def _loop(g_on=1e-4, g_off=1e-6, v_max=1.0, step=0.05, cycles=2):
    """A pinched I-V loop: LRS from +0.6 V on the way up until -0.6 V, HRS otherwise."""
    up = np.arange(0, v_max, step)
    v1 = np.concatenate([up, up[::-1] + step, -up, -(up[::-1] + step), [0.0]])
    v = np.tile(v1[:-1], cycles)
    state = []
    on = False
    for x in v:
        if x >= 0.6:
            on = True
        if x <= -0.6:
            on = False
        state.append(on)
    i = np.where(state, g_on, g_off) * v
    return v, i


def test_units_from_headers_and_prefixes():
    assert split_header("Voltage (V)") == ("Voltage", "V")
    assert split_header("I [mA]") == ("I", "mA")
    assert unit_scale("mA", "current") == pytest.approx(1e-3)
    assert unit_scale("uA", "current") == pytest.approx(1e-6)
    assert unit_scale("kOhm", "resistance") == pytest.approx(1e3)
    assert unit_scale("min", "time") == 60.0
    with pytest.raises(ValueError, match="not a unit of current"):
        unit_scale("V", "current")


def test_generic_csv_with_units_in_header_imports_as_iv_sweep(tmp_path):
    v, i = _loop()
    src = tmp_path / "iv.csv"
    src.write_text("Time (s);Voltage (V);Current (mA)\n"
                   + "".join(f"{k * 0.01};{a};{b * 1e3}\n" for k, (a, b) in enumerate(zip(v, i))))
    [out] = import_file(src, tmp_path / "runs", fmt="delimited", options=ImportOptions(
        procedure="iv-sweep", mapping={"time": "Time", "voltage": "Voltage", "current": "Current"}))
    with h5py.File(out, "r") as f:  # plain h5py: provenance and SI units
        assert f.attrs["procedure"] == "iv-sweep"
        assert json.loads(f.attrs["metadata"])["import_source"] == "iv.csv"
        assert json.loads(f.attrs["metadata"])["import_mapping"]["columns"]["current"] == "Current"
        assert f["streams/iv/current"].attrs["units"] == "A"
        np.testing.assert_allclose(f["streams/iv/current"][:], i, rtol=1e-9, atol=1e-15)
        assert set(f["streams/iv/cycle"][:]) == {0, 1}  # loops found from the voltage
    summary = summarize_run(open_run(out))
    figures = {k: v for row in summary.rows for k, v in row.items()}
    assert summary.error is None or summary.error == ""
    assert any("set" in k.lower() for k in figures), figures


def test_headerless_tsv_by_position_and_given_units(tmp_path):
    v, i = _loop()
    src = tmp_path / "iv.tsv"
    src.write_text("".join(f"{a}\t{b * 1e6}\n" for a, b in zip(v, i)))
    [out] = import_file(src, tmp_path, fmt="delimited", options=ImportOptions(
        procedure="iv-sweep", mapping={"voltage": "1", "current": "2"}, units={"current": "uA"},
        header=False))
    with h5py.File(out, "r") as f:
        np.testing.assert_allclose(f["streams/iv/current"][:], i, rtol=1e-9, atol=1e-15)
        assert "iv.time" in json.loads(f.attrs["metadata"])["import_filled"]
        assert np.isnan(f["streams/iv/time"][:]).all()


def test_series_resistor_oscilloscope_capture(tmp_path):
    """Current = V across the series resistor / R; device voltage = applied - resistor drop."""
    r_series = 1000.0
    g_device = 1e-4
    applied = np.linspace(0, 1, 50)
    i = applied / (1 / g_device + r_series)
    v_r = i * r_series
    src = tmp_path / "scope.csv"
    src.write_text("t,CH1,CH2\n" + "".join(f"{k * 1e-6},{a},{b}\n" for k, (a, b) in enumerate(zip(applied, v_r))))
    [out] = import_file(src, tmp_path, fmt="delimited", options=ImportOptions(
        procedure="iv-sweep", mapping={"time": "t", "applied_voltage": "CH1", "resistor_voltage": "CH2"},
        series_resistor_ohm=r_series))
    with h5py.File(out, "r") as f:
        v_dev = f["streams/iv/voltage"][:]
        cur = f["streams/iv/current"][:]
    np.testing.assert_allclose(cur, i, rtol=1e-9)
    np.testing.assert_allclose(cur[1:] / v_dev[1:], g_device, rtol=1e-9)


def test_keithley_2450_buffer_export(tmp_path):
    # :TRACe:SAVE with relative time: reading + unit, source value + unit, relative time
    src = tmp_path / "defbuffer1.csv"
    lines = ["Index,Reading,Unit,Source Value,Source Unit,Relative Time"]
    g = np.linspace(1e-6, 5e-6, 30)
    for k, gk in enumerate(g):
        lines.append(f"{k + 1},{gk * 0.2:.6e},Amp DC,0.2,Volt DC,{k * 10.0}")
    src.write_text("\n".join(lines) + "\n")
    [out] = import_file(src, tmp_path / "r", fmt="keithley-2450", options=ImportOptions(
        procedure="retention", read_v=0.2, device=(2, 3)))
    run = open_run(out)
    with h5py.File(out, "r") as f:
        np.testing.assert_allclose(f["streams/retention/conductance"][:], g, rtol=1e-5)
        assert set(f["streams/retention/row"][:]) == {2}
        assert {r["name"].decode(): json.loads(r["value"]) for r in f["parameters"][()]}["read_v"] == 0.2
    assert run.procedure == "retention"


def test_easyexpert_export(tmp_path):
    v, i = _loop()
    src = tmp_path / "easyexpert.csv"
    lines = ["SetupTitle, I/V Sweep", "PrimitiveTest, I/V Sweep", "TestParameter, Channel.Unit, SMU1:HR, SMU2:HR",
             "DataName, Vtop, Itop, Time"]
    lines += [f"DataValue, {a}, {b}, {k * 0.001}" for k, (a, b) in enumerate(zip(v, i))]
    src.write_text("\n".join(lines) + "\n")
    [out] = import_file(src, tmp_path, fmt="easyexpert", options=ImportOptions(
        procedure="iv-sweep", mapping={"voltage": "Vtop", "current": "Itop", "time": "Time"}))
    with h5py.File(out, "r") as f:
        np.testing.assert_allclose(f["streams/iv/voltage"][:], v)
        assert json.loads(f.attrs["metadata"])["import_tool"] == "Keysight EasyEXPERT export"


def test_arc1_session_one_run_per_device(tmp_path):
    src = tmp_path / "session.csv"
    rows = ["My session", "Mon Dec  1 10:00:00 2026",
            "Wordline,Bitline,Resistance,Amplitude (V),Pulse width (s),Tag,ReadTag,ReadVoltage"]
    for w, b, r0 in ((1, 1, 20e3), (3, 5, 50e3)):
        rows.append(f"{w},{b},{r0},0.5,0.0001,S R,S R,0.5")
        for k in range(10):
            rows.append(f"{w},{b},{r0 / (1 + 0.1 * (k + 1))},1.5,0.0001,P,S R,0.5")
        for k in range(10):
            rows.append(f"{w},{b},{r0 / (2 - 0.1 * (k + 1))},-1.5,0.0001,P,S R,0.5")
    src.write_text("\n".join(rows) + "\n")
    outs = import_file(src, tmp_path / "arc", fmt="arc1", options=ImportOptions(procedure="potentiation-depression"))
    assert len(outs) == 2
    with h5py.File(outs[1], "r") as f:
        assert list(f["chip/devices"][0]) == [2, 4]  # ArC counts lines from 1, memlab from 0
        pol = f["streams/pulses/polarity"][:]
        assert (pol[1:11] == 1).all() and (pol[11:] == -1).all()
        assert {r["name"].decode(): json.loads(r["value"]) for r in f["parameters"][()]}["read_v"] == 0.5


@pytest.mark.parametrize("content, options, match", [
    ("V,I\n0.1,1e-6\n0.2,abc\n", {"voltage": "V", "current": "I"}, r"line 3, column 'I': 'abc' is not a number"),
    ("V,I\n0.1,1e-6\n0.2\n", {"voltage": "V", "current": "I"}, r"line 3: has 1 fields"),
    ("V,I\n0.1,1e-6\n", {"voltage": "V", "current": "X"}, r"column 'X': no such column"),
    ("V,I\n0.1,1e-6\n", {"voltage": "V"}, r"needs a column for one of \['current'"),
    ("V,I\n0.1,inf\n", {"voltage": "V", "current": "I"}, r"not a finite number"),
])
def test_bad_files_name_the_file_line_and_column(tmp_path, content, options, match):
    src = tmp_path / "bad.csv"
    src.write_text(content)
    with pytest.raises(ImportFileError, match=match) as err:
        import_file(src, tmp_path, fmt="delimited", options=ImportOptions(procedure="iv-sweep", mapping=options))
    assert "bad.csv" in str(err.value)
    assert not list(tmp_path.glob("*.h5"))  # refused before any file is written


def test_cli_import_with_mapping_file(tmp_path, capsys):
    v, i = _loop()
    src = tmp_path / "iv.csv"
    src.write_text("V1,I1\n" + "".join(f"{a},{b}\n" for a, b in zip(v, i)))
    mapping = tmp_path / "map.toml"
    mapping.write_text('procedure = "iv-sweep"\n[columns]\nvoltage = "V1"\ncurrent = "I1"\n')
    assert main(["import", str(src), "--mapping", str(mapping), "--out", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").glob("*.h5"))) == 1
    rc = main(["import", str(src), "--procedure", "iv-sweep", "--map", "voltage=V1", "--map", "bogus=I1",
               "--out", str(tmp_path / "o2")])
    assert rc == 2
    assert "'bogus' is not one of" in capsys.readouterr().err
