"""`memlab twin export` end to end (the mapping itself: tests/analysis/test_device_export.py)."""

from __future__ import annotations

import csv
import json

from memlab.cli import main


def test_cli_writes_both_formats(tmp_path, capsys):
    out_json, out_csv = tmp_path / "prgo.json", tmp_path / "prgo.csv"
    assert main(["twin", "export", "--family", "prgo", "--format", "aihwkit", "--array-size", "16",
                 "--out", str(out_json)]) == 0
    data = json.loads(out_json.read_text())
    assert data["rpu_config"]["device"]["class"] == "SoftBoundsDevice"
    assert data["source"]["family"] == "prgo"
    assert main(["twin", "export", "--family", "optomemristor", "--format", "neurosim",
                 "--array-size", "16", "--out", str(out_csv)]) == 0
    with out_csv.open() as handle:
        names = [row["parameter"] for row in csv.DictReader(handle)]
    assert {"NL_LTP", "NL_LTD", "maxNumLevelLTP", "onOffRatio", "sigmaCtoC", "sigmaDtoD",
            "readVoltage", "writePulseWidthLTP"} <= set(names)
    capsys.readouterr()
    for argv, message in (
            (["--format", "aihwkit", "--out", str(tmp_path / "x.csv")], "ending in .json"),
            (["--format", "aihwkit", "--out", str(tmp_path / "x.json"), "--pulse-amplitude-v", "0.2"],
             "--pulse-amplitude-v=0.2 is not allowed"),
            (["--format", "neurosim", "--out", str(tmp_path / "x.csv"), "--coverage", "1"],
             "--coverage=1.0 is not allowed"),
            (["--format", "aihwkit", "--out", str(tmp_path / "none" / "x.json")], "does not exist")):
        assert main(["twin", "export", "--family", "prgo", "--array-size", "8", *argv]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
