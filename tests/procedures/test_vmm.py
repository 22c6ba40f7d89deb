"""vmm on the simulated prGO bench: weights programmed by write-verify, products measured by
superposition, and an error that the chip's read noise explains."""

from __future__ import annotations

import math

import numpy as np
import pytest

from memlab.instruments.bench import DEFAULT_BENCH, load_bench
from memlab.procedures import ParameterError, get_procedure, run_procedure
from memlab.storage import RunReader

VMM = get_procedure("vmm")


def test_products_match_within_read_noise(tmp_path):
    rows, cols, row0, col0, reads = 3, 4, 2, 5, 4
    with load_bench(None) as bench:
        chip = bench.world.chip
        result = run_procedure(VMM(row=row0, col=col0, rows=rows, cols=cols, vectors=40, reads=reads), bench,
                               tmp_path)
        assert result.status == "completed", result.error
        assert not (bench.smu.output_enabled() or bench.pulser.output_enabled())
        assert bench.world.routes == {}
        block = (slice(row0, row0 + rows), slice(col0, col0 + cols))
        g_true = chip.effective_conductance()[block].astype(np.float64)
        sigma = np.array([[chip.device_state(row0 + i, col0 + j)["read_sigma"] for j in range(cols)]
                          for i in range(rows)])
        g_stored = np.array([[chip.device_state(row0 + i, col0 + j)["G"] for j in range(cols)]
                             for i in range(rows)])
        read_v = VMM().p.read_v
    with RunReader(result.path) as r:
        weights, vmm = r.stream("weights"), r.stream("vmm")
        target, programmed = weights["target"][0], weights["programmed"][0]
        inputs, measured, ideal = vmm["inputs"], vmm["measured"], vmm["ideal"]
        log = [message for _, _, message in r.log()]
        assert vmm.units["measured"] == "A" and weights.units["programmed"] == "S"
        assert [tuple(d) for d in r.devices] == [(row0 + i, col0 + j) for i in range(rows) for j in range(cols)]
    assert target.shape == (rows, cols) and inputs.shape == (40, rows) and measured.shape == (40, cols)
    assert any(f"programmed {rows * cols}/{rows * cols} devices within 3.0%" in m for m in log)
    # Write-verify left each stored conductance within the tolerance (its last verify read was
    # noisy by sigma / 2); the read-back 10 s later is the drifted conductance, within read noise.
    assert np.all(np.abs(g_stored / target - 1) < 0.03 + 3 * sigma / 2)
    assert np.all(g_true <= g_stored)  # prGO drifts down after t0 (or not at all: nu is drawn per device)
    assert np.all(np.abs(programmed / (g_true * math.sinh(read_v) / read_v) - 1) < 4 * sigma / 2)
    assert np.all((inputs >= 0) & (inputs <= read_v))
    assert ideal == pytest.approx(inputs @ programmed, rel=1e-9)
    # Expected error from read noise alone: each cell read of the product (sigma G f(V)) and the
    # read-back of its weight (reads readings averaged), both scaled by the row's input.
    f_in = np.sinh(inputs)  # the read I-V, V0 = 1 V
    var_measured = (f_in ** 2) @ (sigma * g_true) ** 2
    var_weights = (inputs ** 2) @ (sigma * g_true * math.sinh(read_v) / read_v) ** 2 / reads
    z = (measured - ideal) / np.sqrt(var_measured + var_weights)
    assert 0.75 < np.sqrt(np.mean(z ** 2)) < 1.3  # 160 samples: the RMS of z is 1 +- 0.06
    assert abs(np.mean(z)) < 0.35  # no bias beyond the sinh nonlinearity (< 0.2 % below 0.1 V)


@pytest.mark.parametrize("read_bias", ["v/2-columns", "grounded"])
def test_passive_array_read_without_sneak_current_runs_and_with_sneaky_reads_is_refused(tmp_path, read_bias):
    # Reads with the other rows at the sense potential sense each device alone: superposition
    # holds as on 1T1R. A V/2 read bias adds the half-selected rows to every read: it does not.
    bench_file = tmp_path / "passive.toml"
    text = DEFAULT_BENCH.read_text()
    assert "\n[chip]\n" in text
    bench_file.write_text(text.replace("\n[chip]\n", f'\n[chip]\nread_bias = "{read_bias}"\n'))
    with load_bench(bench_file) as bench:
        assert bench.chip_info()["array"] == "passive" and bench.chip_info()["read_bias"] == read_bias
        result = run_procedure(VMM(), bench, tmp_path / "grounded")
        assert result.status == "completed", result.error
    bench_file.write_text(text.replace("\n[chip]\n", '\n[chip]\nread_bias = "v/2"\n'))
    with load_bench(bench_file) as bench:
        assert bench.chip_info()["array"] == "passive"
        with pytest.raises(ParameterError, match=r"read_bias 'v/2'.*superposition"):
            run_procedure(VMM(), bench, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grounded", "passive.toml"]  # no file for the refused run


def test_bad_parameters_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"weights_s=.*2 rows of 2"):
        VMM(rows=2, cols=2, weights_s="1e-6, 2e-6; 3e-6")
    with pytest.raises(ParameterError, match=r"input_max_v=0\.3 .*read_v"):
        VMM(input_max_v=0.3)
    with pytest.raises(ParameterError, match="v_stop"):
        VMM(v_start=2.0, v_stop=1.5)
    explicit = VMM(rows=1, cols=2, weights_s="1e-6, 4e-6")
    assert explicit.targets() == pytest.approx(np.array([[1e-6, 4e-6]]))
    with load_bench(None) as bench:
        with pytest.raises(ParameterError, match=r"cols=4 .*col \+ cols <= 16"):
            run_procedure(VMM(col=14), bench, tmp_path)
        with pytest.raises(ParameterError, match=r"v_stop=11\.0 .*max_pulse_voltage_v"):
            run_procedure(VMM(v_stop=11.0), bench, tmp_path)
    assert list(tmp_path.iterdir()) == []
