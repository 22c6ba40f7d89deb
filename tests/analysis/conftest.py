"""Shared fixtures: a synthetic campaign folder and the kinds of bad file a folder can hold."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from memlab.procedures.synthetic import CampaignTruth, declared_streams, write_campaign, write_run
from memlab.storage import RunWriter


@pytest.fixture(scope="session")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> CampaignTruth:
    """A 2 x 2 chip with one run of every procedure (small: fast to write and to analyse)."""
    folder = tmp_path_factory.mktemp("campaign")
    return write_campaign(folder, rows=2, cols=2, seed=3, cycles=3, pulses_per_branch=100, repeats=3)


def write_iv(path: Path, *, cycles: int = 2) -> Path:
    """A small finished iv-sweep run on device (0, 1)."""
    v = np.concatenate([np.linspace(0, 1, 11), np.linspace(1, -1, 21)[1:], np.linspace(-1, 0, 11)[1:]])
    data = {"iv": {"cycle": np.repeat(np.arange(cycles), len(v)), "voltage": np.tile(v, cycles),
                   "current": np.tile(v, cycles) * 1e-5, "time": np.arange(cycles * len(v)) * 1e-3}}
    return write_run(path.parent, "iv-sweep", data, devices=[(0, 1)], name=path.name)


def make_interrupted(path: Path) -> Path:
    """A run whose writer 'died': status still running, heartbeat long ago."""
    write_iv(path)
    with h5py.File(path, "r+") as f:
        f.attrs["status"] = "running"
        f.attrs["heartbeat_unix_s"] = time.time() - 3600.0
        f.attrs["writer_host"] = "elsewhere"
    return path


def make_corrupted(path: Path) -> Path:
    """A run file cut in half (a copy that did not finish)."""
    src = path.with_suffix(".tmp")
    write_iv(src)
    data = src.read_bytes()
    src.unlink()
    path.write_bytes(data[: len(data) // 3])
    return path


def make_foreign(path: Path) -> Path:
    """An HDF5 file from some other program."""
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    return path


@pytest.fixture
def live_writer(tmp_path: Path) -> Iterator[tuple[Path, RunWriter]]:
    """A run still being written by this process."""
    path = tmp_path / "live.h5"
    writer = RunWriter(path, procedure="iv-sweep", procedure_version="1", streams=declared_streams("iv-sweep"),
                       devices=[(1, 1)])
    writer.append("iv", {"cycle": [0, 0], "voltage": [0.0, 0.1], "current": [0.0, 1e-6], "time": [0.0, 1.0]})
    writer.flush()
    yield path, writer
    writer.close("completed")


@pytest.fixture
def makers() -> SimpleNamespace:
    """The file makers above, for tests (test modules cannot import conftest by name)."""
    return SimpleNamespace(iv=write_iv, interrupted=make_interrupted, corrupted=make_corrupted,
                           foreign=make_foreign)
