"""A simulated chip with known, non-preset per-device parameters, characterised on the bench."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from memlab.instruments.bench import Bench, read_bench_config
from memlab.procedures import get_procedure, run_procedure
from memlab.twin.file import FITTED, ChipEstimate, DeviceEstimates, Twin, write_twin

SHAPE = (16, 16)  # the built-in bench's wiring


def truth_twin(seed: int) -> Twin:
    """Per-device parameters drawn uniformly within physical ranges of prGO (not a preset)."""
    rng = np.random.default_rng(seed)
    draws = {
        "g_min_s": rng.uniform(0.3e-6, 1.0e-6, SHAPE), "g_max_s": rng.uniform(6e-6, 14e-6, SHAPE),
        "a_plus": rng.uniform(0.015, 0.05, SHAPE), "a_minus": rng.uniform(0.015, 0.05, SHAPE),
        "v_th_v": rng.uniform(0.85, 1.25, SHAPE), "drift": rng.uniform(0.005, 0.04, SHAPE),
        "sigma_read": rng.uniform(0.004, 0.02, SHAPE), "stuck": np.zeros(SHAPE),
    }
    twin = Twin("prgo", *SHAPE, sources=["drawn truth"])
    for name, value in draws.items():
        twin.devices[name] = DeviceEstimates(value, np.zeros(SHAPE), np.full(SHAPE, "0", dtype=object))
    twin.chip["sigma_c2c"] = ChipEstimate(0.2, 0.0, 0.2, 0.2, 1, FITTED)
    return twin


def twin_bench(twin_path: Path, seed: int = 0, array: str | None = None, family: str = "prgo") -> Bench:
    """The built-in bench with the twin's chip (its array unless ``array`` is given)."""
    config = read_bench_config(None)
    chip = replace(config.chip, twin=str(twin_path), seed=seed, family=family)
    if array is not None:
        chip = replace(chip, array=array)
    return Bench(replace(config, chip=chip))


def characterise(bench: Bench, folder: Path, devices: list[tuple[int, int]]) -> list[Path]:
    """A small night: one readout and one retention run over the devices, an I-V sweep and a
    potentiation-depression run on each."""
    spec = ";".join(f"{r},{c}" for r, c in devices)
    paths = []

    def run(name: str, **parameters: object) -> None:
        result = run_procedure(get_procedure(name)(**parameters), bench, folder)
        assert result.status == "completed", result
        paths.append(result.path)
    run("readout", devices=spec, reads=40)
    for r, c in devices:
        run("iv-sweep", row=r, col=c, cycles=3, step_v=0.02, delay_s=1e-3, v_max=1.6, v_min=-1.6)
        run("potentiation-depression", row=r, col=c, pulses=60, repeats=2, start_pulses=300)
    run("retention", devices=spec, target_s=4e-6, duration_s=1e4, points=16)
    return paths
