"""One schema per procedure: every registered procedure's run file on the simulated bench, and every
synthetic file, matches the procedure's declaration (streams, columns, dtypes, units, parameters)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from memlab.instruments.bench import DEFAULT_BENCH, load_bench
from memlab.procedures import all_procedures, get_procedure, run_procedure
from memlab.procedures.synthetic import write_campaign, write_run
from memlab.storage import canonical

sys.path.insert(0, str(Path(__file__).parent))
from schema_check import mismatches  # noqa: E402

SMALL: dict[str, dict] = {
    "clock-check": {"samples": 50, "interval_s": 0.01},
    "iv-sweep": {"cycles": 1, "step_v": 0.25},
    "pulsed-iv": {"start_v": 0.5, "stop_v": 1.0, "step_v": 0.25},
    "forming": {"step_v": 0.5, "attempts": 1},
    "switching": {"cycles": 2},
    "write-verify": {"levels": 2, "max_pulses": 20},
    "readout": {"devices": "0,0;1,1", "reads": 2},
    "retention": {"devices": "0,0", "duration_s": 10.0, "points": 3, "max_pulses": 20},
    "endurance": {"cycles": 20, "samples_per_decade": 2},
    "potentiation-depression": {"pulses": 5},
    "relaxation": {"pulses": 2, "duration_s": 0.1, "points": 3, "baseline_reads": 1},
    "crossbar-train": {"epochs": 2, "train_samples": 4, "test_samples": 4, "init_reset_pulses": 2,
                       "balance_pulses": 5},
    "maze-rl": {"size": 2, "walls": "", "episodes": 2, "max_steps": 4, "rest_s": 0.1},
    "crossbar-infer": {"test_samples": 4, "max_pulses": 3, "points": 2, "duration_s": 2.0},
    "optical-pulses": {"count": 2, "powers_w": "1e-4, 1e-3", "relax_s": 0.1, "settle_s": 0.01,
                       "wavelengths_m": "5e-7, 6e-7", "spectral_repeats": 1},
    "three-factor": {"delays_s": "none, 0", "repeats": 1, "pulses": 2, "reset_pulses": 2, "relax_s": 0.1},
    "vmm": {"rows": 2, "cols": 3, "vectors": 2, "max_pulses": 20, "settle_s": 0.0},
    "xor": {"trials": 1, "relax_s": 0.1, "settle_s": 0.01, "reads": 2},
}
"""Small runs of each built-in procedure (fast on the simulated bench)."""
OPTICAL = {"optical-pulses", "three-factor", "xor", "maze-rl"}
"""Procedures that need a chip that responds to light."""
TUNABLE = {"optical-pulses"}
"""Procedures whose small run sweeps wavelength: on the default bench with a tunable laser."""


def small_bench(name: str, folder: Path):
    family = "optomemristor" if name in OPTICAL else None
    if name not in TUNABLE:
        return load_bench(None, family=family)
    bench_file = folder / "tunable.toml"
    bench_file.write_text(DEFAULT_BENCH.read_text().replace(
        "[instruments.laser.calibration]",
        "[instruments.laser.options]\nwavelength_range_m = [400e-9, 900e-9]\n\n[instruments.laser.calibration]"))
    return load_bench(bench_file, family=family)


def builtin_procedures() -> dict:
    """The procedures memlab ships (other tests register their own in the same registry)."""
    return {name: cls for name, cls in all_procedures().items()
            if cls.__module__.startswith("memlab.procedures.")}


def test_every_builtin_procedure_has_a_small_run():
    assert set(SMALL) == set(builtin_procedures())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_run_file_matches_the_declaration(name, tmp_path):
    settings = dict(SMALL[name])
    if name == "crossbar-infer":
        import numpy as np
        np.save(tmp_path / "w.npy", np.linspace(-1, 1, 40).reshape(10, 4))
        settings["weights_from"] = str(tmp_path / "w.npy")
    procedure = get_procedure(name)(**settings)
    with small_bench(name, tmp_path) as bench:
        result = run_procedure(procedure, bench, tmp_path)
    assert result.status == "completed", result.error
    assert mismatches(result.path) == []


@pytest.fixture(scope="module")
def synthetic_campaign(tmp_path_factory):
    return write_campaign(tmp_path_factory.mktemp("synthetic"), rows=2, cols=2, cycles=2, pulses_per_branch=4,
                          repeats=1)


def test_the_synthetic_campaign_covers_every_procedure(synthetic_campaign):
    assert set(synthetic_campaign.files) == set(builtin_procedures())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_synthetic_files_match_the_declaration(name, synthetic_campaign):
    for path in synthetic_campaign.files[name]:
        assert mismatches(path) == [], path.name


def test_the_check_finds_a_file_that_differs(tmp_path):
    """A stream column written with another dtype and unit than declared is reported."""
    path = write_run(tmp_path, "iv-sweep", {"iv": {"cycle": [0], "voltage": [0.1], "current": [1e-6],
                                                   "time": [0.0]}}, devices=[(0, 0)])
    import h5py

    with h5py.File(path, "r+") as f:
        group = f["streams/iv"]
        del group["cycle"]
        group.create_dataset("cycle", data=[0], dtype="i8").attrs["units"] = "s"
    problems = mismatches(path)
    assert any("iv/cycle: dtype <i8, declared <i4" in p for p in problems), problems
    assert any("iv/cycle: units 's', declared ''" in p for p in problems), problems


def test_write_run_refuses_a_parameter_the_procedure_does_not_declare(tmp_path):
    with pytest.raises(ValueError, match="read_voltage_v"):
        write_run(tmp_path, "iv-sweep", {}, devices=[(0, 0)], parameters={"read_voltage_v": 0.2})


def test_canonical_parameter_names_and_units():
    """Each canonical quantity is declared under its one name, with its one unit; no procedure
    declares a read voltage under another name."""
    for name, cls in builtin_procedures().items():
        for param in cls.parameters:
            if param.name in canonical.CANONICAL_PARAMETERS:
                assert param.unit == canonical.CANONICAL_PARAMETERS[param.name][0], (name, param.name)
            if "read" in param.name and param.unit == "V":
                assert param.name == canonical.READ_V, (name, param.name)
    reads = {name for name, cls in builtin_procedures().items()
             if any(p.name == canonical.READ_V for p in cls.parameters)}
    assert reads >= {"iv-sweep", "readout", "retention", "forming", "write-verify", "potentiation-depression"}


def test_procedure_declarations_import_without_instruments_or_qt():
    # the validation layer and the safety-failure marker are plain Python: procedures may use them
    code = ("import sys, memlab.procedures.library, memlab.procedures.synthetic\n"
            "LIGHT = {'memlab.instruments.limits', 'memlab.instruments.safety'}\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyvisa', "
            "'pymeasure', 'pyqtgraph') or m.split('.')[:2] in (['memlab', 'gui'], ['memlab', 'analysis']) "
            "or (m.startswith('memlab.instruments.') and m not in LIGHT))\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_registering_an_inconsistent_declaration_is_refused():
    from memlab.procedures import Parameter, PlotHint, Procedure, register
    from memlab.storage import Column, StreamSpec

    class Broken(Procedure):
        name = "test-broken-declaration"
        parameters = (Parameter("n", int, 1), Parameter("n", int, 2))
        streams = (StreamSpec("data", (Column("step", "", "i4"), Column("current", "A"))),)
        plots = (PlotHint("data", "step", "voltage"), PlotHint("other", "x", "y"))
        requires = ("smu", "scope")

        def execute(self, ctx):
            raise AssertionError("never run")

    with pytest.raises(ValueError) as refused:
        register(Broken)
    message = str(refused.value)
    assert "requires unknown roles ['scope']" in message
    assert "declares the parameters ['n'] more than once" in message
    assert "plots the undeclared columns ['voltage'] of stream 'data'" in message
    assert "plots the undeclared stream 'other'" in message
    assert "test-broken-declaration" not in all_procedures()
