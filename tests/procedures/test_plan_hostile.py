"""Hostile plans (issue 12): each refused at load time, fast, with the file, the line and the key."""

from __future__ import annotations

import time

import pytest

from memlab.cli import main
from memlab.procedures.plan import MAX_RUNS, PlanError, load_plan, parse_plan, resolve_devices

BASE = "name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: readout\n"


def laughs(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n" + BASE


CASES = {
    "alias bomb": (laughs(), "plan.yaml:", "more than 100000 values"),
    "recursive anchor": ("x: &a [1, *a]\n" + BASE, "plan.yaml:1: x.1:", "recursive anchor"),
    "recursive map anchor": ("x: &a {k: *a}\n" + BASE, "plan.yaml:1: x.k:", "recursive anchor"),
    "deep list": ("x: " + "[" * 20000 + "]" * 20000 + "\n" + BASE, "plan.yaml:1:", "nested more than"),
    "deep map": ("x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n" + BASE, "plan.yaml:1:", "nested more than"),
    "deep block": ("".join("  " * i + "k:\n" for i in range(200)) + "  " * 200 + "k: 1\n",
                   "plan.yaml:", "nested more than"),
    "duplicate top key": (BASE + "devices: [[1, 1]]\n", "plan.yaml:5: devices:", "duplicate key (first given on line 2)"),
    "duplicate param": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: iv-sweep\n"
                        "    params: {cycles: 2, cycles: 3}\n", "plan.yaml:5: steps.0.params.cycles:", "duplicate key"),
    "procedure as list": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: [readout]\n",
                          "plan.yaml:4: steps.0.procedure:", "not a procedure name"),
    "procedure as map": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: {readout: 1}\n",
                         "plan.yaml:4: steps.0.procedure:", "not a procedure name"),
    "complex key": ("? [a, b]\n: 1\n" + BASE, "plan.yaml:1: (top level):", "a key must be plain text"),
    "complex step key": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - ? {a: 1}\n    : readout\n",
                         "plan.yaml:4: steps.0:", "a key must be plain text"),
    "inf for an integer": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: iv-sweep\n"
                           "    params: {cycles: .inf}\n", "plan.yaml:5: steps.0.params.cycles:", "not a finite number"),
    "nan for a float": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: iv-sweep\n"
                        "    params: {v_max: .nan}\n", "plan.yaml:5: steps.0.params.v_max:", "not a finite number"),
    "huge integer": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: iv-sweep\n"
                     "    params: {cycles: " + "9" * 500 + "}\n", "steps.0.params.cycles:", "at most 2^53"),
    "list for a parameter": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: iv-sweep\n"
                             "    params: {cycles: [1, 2]}\n", "steps.0.params.cycles:", "not a list"),
    "huge rectangle": ("name: p\ndevices: [{rows: [0, 1000000], cols: [0, 1000000]}]\nsteps:\n"
                       "  - procedure: readout\n", "plan.yaml:2: devices:", "at most 100000"),
    "huge rectangle bounds": ("name: p\ndevices: [{rows: [0, 99999999999], cols: [0, 1]}]\nsteps:\n"
                              "  - procedure: readout\n", "devices.0.rows:", "integers in [0, 1000000]"),
    "huge repeat": (BASE + "repeat: 1000000000000\n", "plan.yaml:5: repeat:", f"[1, {MAX_RUNS}]"),
    "repeat times devices": ("name: p\ndevices: [{rows: [0, 99], cols: [0, 99]}]\nrepeat: 20\nsteps:\n"
                             "  - procedure: readout\n", "devices:", "200000 runs (10000 devices x 20 repeat(s) x 1 steps)"),
    "inf repeat": (BASE + "repeat: .inf\n", "repeat:", "an integer"),
    "negative device": ("name: p\ndevices: [[-1, 0]]\nsteps:\n  - procedure: readout\n", "devices.0:", "two integers in [0, 1000000]"),
    "name with path": ("name: ../../../../X\ndevices: [[0, 0]]\nsteps:\n  - procedure: readout\n",
                       "plan.yaml:1: name:", "no / or .."),
    "name as list": ("name: [a]\ndevices: [[0, 0]]\nsteps:\n  - procedure: readout\n", "name:", "not allowed"),
    "step name with path": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: readout\n    name: ../x\n",
                            "steps.0.name:", "letters, digits"),
    "condition step as list": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: readout\n"
                               "  - procedure: iv-sweep\n    only_if: {step: [readout], status: completed}\n",
                               "steps.1.only_if.step:", "not an earlier step"),
    "condition status as map": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: readout\n"
                                "  - procedure: iv-sweep\n    only_if: {step: readout, status: {a: 1}}\n",
                                "steps.1.only_if.status:", "one of completed"),
    "on_failure as list": ("name: p\ndevices: [[0, 0]]\nsteps:\n  - procedure: readout\n    on_failure: [stop]\n",
                           "steps.0.on_failure:", "one of"),
    "operator as map": (BASE + "operator: {a: 1}\n", "operator:", "expected text"),
    "merge key": ("x: &x {a: 1}\n<<: *x\n" + BASE, "plan.yaml:2:", "merge keys"),
    "NUL": (BASE + "\x00\n", "plan.yaml:5:", "NUL"),
    "not a mapping": ("- 1\n- 2\n", "plan.yaml:1:", "a plan is a mapping"),
    "bad YAML": ("name: [\n", "plan.yaml:", "not valid YAML"),
    "python tag": ("name: !!python/object/apply:os.system ['echo hi']\n" + BASE[8:], "plan.yaml:1: name:", "YAML tag"),
    "python scalar tag": ("name: !!python/name:os.system x\n" + BASE[8:], "plan.yaml:1: name:", "cannot be read"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_plan_is_refused_with_line_and_key(case):
    text, where, what = CASES[case]
    t0 = time.monotonic()
    with pytest.raises(PlanError) as info:
        parse_plan(text, "plan.yaml")
    assert time.monotonic() - t0 < 5
    message = str(info.value)
    assert where in message and what in message, message
    assert "\n" not in message and len(message) < 600


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_bytes(BASE.encode() + b"operator: caf\xe9\n")
    with pytest.raises(PlanError, match=r"plan\.yaml:5: not UTF-8 text \(byte 0xe9"):
        load_plan(path)


def test_plan_that_is_a_folder_or_missing(tmp_path):
    with pytest.raises(PlanError, match="a folder"):
        load_plan(tmp_path)
    with pytest.raises(PlanError, match="cannot read the plan"):
        load_plan(tmp_path / "nope.yaml")


def test_rectangle_off_the_chip_refused_before_expansion():
    plan = parse_plan("name: p\ndevices: [{rows: [0, 300], cols: [0, 300]}]\nsteps:\n  - procedure: readout\n",
                      "plan.yaml")
    t0 = time.monotonic()
    with pytest.raises(PlanError, match=r"rows 0-300, cols 0-300 reach off the chip \(8 x 8"):
        resolve_devices(plan, {"rows": 8, "cols": 8})
    assert time.monotonic() - t0 < 0.5


def test_plain_plans_still_parse():
    plan = parse_plan("name: ok-1\ndevices: [[0, 0], {rows: [0, 1], cols: [0, 1]}]\nrepeat: 2\nsteps:\n"
                      "  - procedure: iv-sweep\n    params: &p {cycles: 2, v_max: 1.0}\n"
                      "  - procedure: iv-sweep\n    name: again\n    params: *p\n", "plan.yaml")
    assert [s.name for s in plan.steps] == ["iv-sweep", "again"]
    assert resolve_devices(plan, {"rows": 4, "cols": 4}) == [(0, 0), (0, 1), (1, 0), (1, 1)]


@pytest.mark.parametrize("case", ["alias bomb", "duplicate top key", "inf for an integer", "huge rectangle"])
def test_campaign_command_exits_2_with_one_line(tmp_path, capsys, case):
    plan = tmp_path / "plan.yaml"
    plan.write_text(CASES[case][0])
    assert main(["campaign", str(plan), "--out", str(tmp_path / "out"), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err and CASES[case][2] in err
