"""The twin file: a fitted chip in one HDF5 file (h5py and numpy only; docs/twin.md).

```
/                      attrs: format = "memlab twin", format_version, family, rows, cols, created
/sources               the run files the fit read (names), one string each
/chip/<parameter>      scalar: the chip-wide value (a median or a spread); attrs: stderr, low, high,
                       n, status ("fitted", "preset"), reason, sources (indices into /sources), unit
/devices/<parameter>   group: value (rows x cols, NaN = not measured), stderr (same shape),
                       sources (rows x cols strings: comma-separated indices into /sources); attrs unit
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from memlab.errors import MemlabError

__all__ = ["TwinFileError", "ChipEstimate", "DeviceEstimates", "Twin", "load_twin", "write_twin",
           "FORMAT", "FORMAT_VERSION", "FITTED", "PRESET", "NOT_DETERMINED"]

FORMAT = "memlab twin"
FORMAT_VERSION = 1
FITTED, PRESET, NOT_DETERMINED = "fitted", "preset", "not determined"
_STR = h5py.string_dtype()


class TwinFileError(MemlabError, ValueError):
    """A twin file that cannot be read or is not a memlab twin; the message names the file."""


@dataclass(frozen=True)
class ChipEstimate:
    """One chip-wide parameter: fitted with its uncertainty, or the preset (``status``)."""

    value: Any
    stderr: float = math.nan
    low: float = math.nan
    high: float = math.nan
    n: int = 0
    status: str = PRESET
    reason: str = ""
    sources: tuple[int, ...] = ()
    unit: str = ""


@dataclass
class DeviceEstimates:
    """One per-device parameter over the chip: NaN where no run measured the device."""

    value: np.ndarray
    stderr: np.ndarray
    sources: np.ndarray  # object array of "i,j,..." strings
    unit: str = ""

    @classmethod
    def empty(cls, shape: tuple[int, int], unit: str = "") -> DeviceEstimates:
        return cls(np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, "", dtype=object), unit)

    @property
    def measured(self) -> np.ndarray:
        return ~np.isnan(self.value)


@dataclass
class Twin:
    """A fitted chip: what :func:`load_twin` returns and what builds the simulated chip."""

    family: str
    rows: int
    cols: int
    chip: dict[str, ChipEstimate] = field(default_factory=dict)
    devices: dict[str, DeviceEstimates] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    path: Path | None = None
    notes: list[str] = field(default_factory=list)
    """What the fit could not use, and why (not stored in the file)."""

    def overrides(self) -> dict[str, Any]:
        """The fitted chip-wide parameters as chip overrides: the distributions that devices no
        run measured are drawn from. Preset parameters are left to the preset."""
        return {name: e.value for name, e in self.chip.items() if e.status == FITTED}

    def device_parameters(self) -> dict[str, np.ndarray]:
        """Per-device parameter arrays for ``Chip(devices=...)`` (NaN: drawn). Parameters the
        model holds chip-wide (``v0_switch_v``, the optical ones, ...) are fitted per device in
        the file but reach the chip through :meth:`overrides` only."""
        from memlab.instruments.sim.chip.state import DEVICE_PARAMETERS

        return {name: d.value.copy() for name, d in self.devices.items()
                if name in DEVICE_PARAMETERS and d.measured.any()}

    def chip_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~memlab.instruments.sim.chip.Chip` that build this twin."""
        return {"rows": self.rows, "cols": self.cols, "family": self.family,
                "overrides": self.overrides() or None, "devices": self.device_parameters() or None}

    def not_fitted(self) -> list[str]:
        return sorted(name for name, e in self.chip.items() if e.status != FITTED)


def write_twin(twin: Twin, path: str | Path) -> Path:
    path = Path(path)
    with h5py.File(path, "w") as f:
        f.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, "family": twin.family,
                        "rows": twin.rows, "cols": twin.cols,
                        "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        f.create_dataset("sources", data=np.array(twin.sources, dtype=object), dtype=_STR)
        chip = f.create_group("chip")
        for name, e in twin.chip.items():
            ds = chip.create_dataset(name, data=e.value if not isinstance(e.value, str) else e.value,
                                     dtype=_STR if isinstance(e.value, str) else None)
            ds.attrs.update({"stderr": e.stderr, "low": e.low, "high": e.high, "n": e.n, "status": e.status,
                             "reason": e.reason, "sources": np.array(e.sources, np.int32), "unit": e.unit})
        devices = f.create_group("devices")
        for name, d in twin.devices.items():
            g = devices.create_group(name)
            g.create_dataset("value", data=d.value, compression="gzip")
            g.create_dataset("stderr", data=d.stderr, compression="gzip")
            g.create_dataset("sources", data=d.sources.astype(object), dtype=_STR)
            g.attrs["unit"] = d.unit
    return path


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load_twin(path: str | Path) -> Twin:
    """Read a twin file. :raises TwinFileError: naming the file and what is wrong with it."""
    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise TwinFileError(f"{path}: twin file not found (make one with `memlab twin fit`)") from None
    except OSError as exc:
        raise TwinFileError(f"{path}: not an HDF5 twin file ({exc})") from None
    try:
        with f:
            if _text(f.attrs.get("format", "")) != FORMAT:
                raise TwinFileError(f"{path}: not a memlab twin file (no format = {FORMAT!r} attribute)")
            version = int(f.attrs.get("format_version", -1))
            if version != FORMAT_VERSION:
                raise TwinFileError(f"{path}: twin format version {version}; this memlab reads {FORMAT_VERSION}")
            rows, cols = int(f.attrs["rows"]), int(f.attrs["cols"])
            twin = Twin(_text(f.attrs["family"]), rows, cols, path=path,
                        sources=[_text(s) for s in f["sources"][()]])
            for name, ds in f["chip"].items():
                raw = ds[()]
                value = _text(raw) if isinstance(raw, (bytes, str)) else float(raw)
                a = ds.attrs
                twin.chip[name] = ChipEstimate(value, float(a["stderr"]), float(a["low"]), float(a["high"]),
                                               int(a["n"]), _text(a["status"]), _text(a["reason"]),
                                               tuple(int(k) for k in a["sources"]), _text(a["unit"]))
            for name, g in f["devices"].items():
                value = np.asarray(g["value"][()], np.float64)
                if value.shape != (rows, cols):
                    raise TwinFileError(f"{path}: devices/{name} has shape {value.shape}, not the chip's "
                                        f"{(rows, cols)}")
                twin.devices[name] = DeviceEstimates(
                    value, np.asarray(g["stderr"][()], np.float64),
                    np.array([_text(s) for s in g["sources"][()].ravel()], dtype=object).reshape(rows, cols),
                    _text(g.attrs.get("unit", "")))
            return twin
    except TwinFileError:
        raise
    except (KeyError, OSError, ValueError, TypeError) as exc:
        raise TwinFileError(f"{path}: damaged twin file ({type(exc).__name__}: {exc})") from None
