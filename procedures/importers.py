"""Bring other tools' measurements into memlab run files.

A lab's existing data (a CSV from a home-made script, an oscilloscope export, a Keithley
buffer saved to a USB stick, a Keysight EasyEXPERT export, an ArC ONE session) becomes one run
file per device in the streams the named procedure declares, so ``memlab analyze`` and
``memlab twin fit`` treat it like a run memlab recorded. Every imported file records where it
came from (``import_source``, ``import_tool``, ``import_mapping``, ``import_sha256``) and which
declared columns the source lacked (``import_filled``: NaN, or -1 for integer columns).

Formats (``--format``):

- ``delimited``: any CSV/TSV; the delimiter is sniffed unless given, the header is optional.
  Columns are mapped to quantities by name (``voltage=V1``) or by position when there is no
  header (``voltage=2``, 1-based). Units come from the header (``Voltage (V)``, ``I [mA]``) or
  are given (``current=mA``), and are converted to SI.
- ``keithley-2450``: a reading buffer saved with ``:TRACe:SAVE`` / ``buffer.save()``: one header
  line, then one line per reading with the reading, its unit, the source value and the time.
- ``easyexpert``: a Keysight EasyEXPERT (B1500/B2900) CSV export, whose data block is a
  ``DataName`` line followed by ``DataValue`` lines.
- ``arc1``: an ArC ONE session CSV (session name, date, header, then one line per operation:
  word line, bit line, resistance, amplitude, pulse width, tag, read tag, read voltage).

The current can also be computed from the voltage across a series resistor (oscilloscope
captures): ``series_resistor_ohm`` with a ``resistor_voltage`` column; the device voltage is then
the applied voltage minus the resistor's drop.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from memlab.errors import MemlabError
from memlab.storage import COMPLETED, ParameterRecord, RunWriter, StreamSpec

FORMATS = ("delimited", "keithley-2450", "easyexpert", "arc1")

#: the quantities a column can be mapped to, with their SI unit
QUANTITIES: dict[str, str] = {
    "time": "s", "voltage": "V", "current": "A", "conductance": "S", "resistance": "ohm",
    "pulse": "", "cycle": "", "amplitude": "V", "width": "s", "row": "", "col": "",
    "resistor_voltage": "V", "applied_voltage": "V",
}

#: procedures an import can produce, and the quantities each one needs (one of each tuple)
TARGETS: dict[str, tuple[tuple[str, ...], ...]] = {
    "iv-sweep": (("voltage", "applied_voltage"), ("current", "resistor_voltage")),
    "potentiation-depression": (("conductance", "resistance", "current"),),
    "retention": (("time",), ("conductance", "resistance", "current")),
}

MAX_IMPORT_ROWS = 50_000_000
_PREFIX = {"p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "m": 1e-3, "": 1.0,
           "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_BASE = {"v": "V", "volt": "V", "volts": "V", "a": "A", "amp": "A", "amps": "A", "s": "s",
         "sec": "s", "ohm": "ohm", "ohms": "ohm", "ω": "ohm", "Ω": "ohm", "w": "W", "siemens": "S",
         "S": "S", "min": "min", "h": "h"}
_TIME_UNITS = {"min": 60.0, "h": 3600.0}


class ImportFileError(MemlabError, ValueError):
    """A file to import is unreadable or does not hold what the mapping says; names the file,
    the line and the column."""

    def __init__(self, file: str | Path | None, message: str, *, line: int | None = None,
                 column: str | None = None) -> None:
        if file is None:
            super().__init__(message)
            return
        where = str(file)
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


def unit_scale(unit: str, quantity: str) -> float:
    """The factor turning ``unit`` into the SI unit of ``quantity`` (``mA`` for current: 1e-3).

    Raises ValueError naming what is allowed when the unit does not fit the quantity."""
    si = QUANTITIES[quantity]
    text = unit.strip()
    if text in ("", "1", "-") and si == "":
        return 1.0
    if si == "S" and text in ("S", "siemens"):
        return 1.0
    for prefix, factor in sorted(_PREFIX.items(), key=lambda kv: -len(kv[0])):
        if prefix and not text.startswith(prefix):
            continue
        rest = text[len(prefix):]
        base = _BASE.get(rest) or _BASE.get(rest.lower())
        if base is None and rest == "S":
            base = "S"
        if base is None:
            continue
        if si == "s" and base in _TIME_UNITS and prefix == "":
            return _TIME_UNITS[base]
        if base == si:
            return factor
    raise ValueError(f"unit {unit!r} is not a unit of {quantity} ({si or 'dimensionless'}, "
                     f"with a prefix p n u m k M G)")


_HEADER_UNIT = re.compile(r"^(?P<name>.*?)\s*[\(\[](?P<unit>[^\)\]]*)[\)\]]\s*$")


def split_header(name: str) -> tuple[str, str | None]:
    """``'Voltage (V)'`` -> ``('Voltage', 'V')``; a name without a unit -> ``(name, None)``."""
    match = _HEADER_UNIT.match(name.strip())
    if match:
        return match.group("name").strip(), match.group("unit").strip()
    return name.strip(), None


@dataclass
class Table:
    """Columns read from a source file: name -> float array, and the unit each header named."""

    source: Path
    columns: dict[str, np.ndarray]
    units: dict[str, str | None]
    first_data_line: int = 1
    text_columns: dict[str, list[str]] = field(default_factory=dict)

    def column(self, spec: str) -> tuple[str, np.ndarray]:
        """A column by header name (case-insensitive, units ignored) or 1-based position."""
        names = list(self.columns)
        if spec.isdigit():
            index = int(spec) - 1
            if not 0 <= index < len(names):
                raise ImportFileError(self.source, f"has {len(names)} columns; position {spec} "
                                      f"is not 1 .. {len(names)}", column=spec)
            return names[index], self.columns[names[index]]
        wanted = spec.strip().lower()
        for name in names:
            if name.lower() == wanted or split_header(name)[0].lower() == wanted:
                return name, self.columns[name]
        raise ImportFileError(self.source, f"no such column; the file has {names}", column=spec)


def _decode(path: Path, data: bytes) -> str:
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(path, "is not text")  # pragma: no cover - latin-1 decodes any bytes


def _number(path: Path, text: str, line: int, column: str) -> float:
    stripped = text.strip()
    if stripped == "" or stripped.lower() in ("nan", "na", "n/a"):
        return math.nan
    try:
        value = float(stripped)
    except ValueError:
        raise ImportFileError(path, f"{text!r} is not a number", line=line, column=column) from None
    if math.isinf(value):
        raise ImportFileError(path, f"{text!r} is not a finite number", line=line, column=column)
    return value


def read_delimited(path: str | Path, *, delimiter: str | None = None, header: bool | None = None,
                   skip_lines: int = 0, text_columns: Sequence[str] = ()) -> Table:
    """Read a delimited text file into float columns; ``header=None`` detects a header line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    text = _decode(path, raw)
    lines = text.splitlines()[skip_lines:]
    content = [(n, line) for n, line in enumerate(lines, start=skip_lines + 1)
               if line.strip() and not line.lstrip().startswith("#")]
    if not content:
        raise ImportFileError(path, "holds no data lines")
    if delimiter is None:
        sample = "\n".join(line for _, line in content[:20])
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t| ").delimiter
        except csv.Error:
            delimiter = ","
    rows = list(csv.reader((line for _, line in content), delimiter=delimiter,
                           skipinitialspace=True))
    if header is None:
        header = any(_not_number(cell) for cell in rows[0])
    names = [c.strip() for c in rows[0]] if header else [f"column{i + 1}" for i in range(len(rows[0]))]
    if len(set(names)) != len(names):
        names = [name if names.count(name) == 1 else f"{name}#{i + 1}" for i, name in enumerate(names)]
    body = rows[1:] if header else rows
    line_numbers = [n for n, _ in content][1 if header else 0:]
    if len(body) > MAX_IMPORT_ROWS:
        raise ImportFileError(path, f"has {len(body)} data lines; at most {MAX_IMPORT_ROWS} are imported")
    data = {name: np.empty(len(body)) for name in names}
    texts: dict[str, list[str]] = {name: [] for name in names if name in text_columns}
    for index, (row, line) in enumerate(zip(body, line_numbers)):
        if len(row) != len(names):
            raise ImportFileError(path, f"has {len(row)} fields where the header has {len(names)}",
                                  line=line)
        for name, cell in zip(names, row):
            if name in texts:
                texts[name].append(cell.strip())
                data[name][index] = math.nan
            else:
                data[name][index] = _number(path, cell, line, name)
    units = {name: split_header(name)[1] for name in names}
    return Table(path, data, units, line_numbers[0] if line_numbers else 1, texts)


def _not_number(cell: str) -> bool:
    try:
        float(cell)
        return False
    except ValueError:
        return cell.strip() != ""


def read_keithley_2450(path: str | Path) -> tuple[Table, dict[str, str]]:
    """A 2450 reading buffer saved to CSV: header line with ``Reading``, ``Unit``, a source value
    and a time column; returns the table and the mapping to quantities it implies."""
    table = read_delimited(path, delimiter=",", header=True,
                           text_columns=("Unit", "Source Unit", "Date", "Time"))
    names = {name.lower(): name for name in table.columns}
    if "reading" not in names:
        raise ImportFileError(path, f"is not a 2450 buffer export: no 'Reading' column in {list(table.columns)}")
    unit_col = names.get("unit")
    measured = "current"
    if unit_col is not None and table.text_columns.get(unit_col):
        kinds = {u.lower() for u in table.text_columns[unit_col]}
        if all("volt" in k for k in kinds):
            measured = "voltage"
        elif not all("amp" in k for k in kinds):
            raise ImportFileError(path, f"mixes reading units {sorted(kinds)}; import one function at a time",
                                  column=unit_col)
    mapping = {measured: names["reading"]}
    source = names.get("source value") or names.get("source")
    if source is not None:
        mapping["voltage" if measured == "current" else "current"] = source
    time_col = names.get("relative time") or names.get("seconds") or names.get("timestamp")
    if time_col is not None:
        mapping["time"] = time_col
    return table, mapping


def read_easyexpert(path: str | Path) -> Table:
    """A Keysight EasyEXPERT CSV export: the ``DataName`` line names the columns, each
    ``DataValue`` line holds one point; setup lines before them are kept as provenance only."""
    path = Path(path)
    try:
        text = _decode(path, path.read_bytes())
    except OSError as exc:
        raise ImportFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    names: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        cells = [c.strip() for c in next(csv.reader([line]), [])]
        if not cells:
            continue
        if cells[0] == "DataName":
            if names is not None:
                break  # a second data block: import the first one only
            names = cells[1:]
        elif cells[0] == "DataValue":
            if names is None:
                raise ImportFileError(path, "has DataValue before any DataName line", line=number)
            rows.append((number, cells[1:]))
    if names is None or not rows:
        raise ImportFileError(path, "is not an EasyEXPERT export: no DataName/DataValue lines")
    data = {name: np.empty(len(rows)) for name in names}
    for index, (number, cells) in enumerate(rows):
        if len(cells) != len(names):
            raise ImportFileError(path, f"has {len(cells)} values where DataName has {len(names)}",
                                  line=number)
        for name, cell in zip(names, cells):
            data[name][index] = _number(path, cell, number, name)
    return Table(path, data, {name: None for name in names}, rows[0][0])


ARC1_COLUMNS = ("Wordline", "Bitline", "Resistance", "Amplitude (V)", "Pulse width (s)", "Tag",
                "ReadTag", "ReadVoltage")


def read_arc1(path: str | Path) -> Table:
    """An ArC ONE session CSV: two lines of session name and date, the header line, then one
    line per operation (word and bit lines count from 1)."""
    path = Path(path)
    table = read_delimited(path, delimiter=",", header=True, skip_lines=2,
                           text_columns=("Tag", "ReadTag"))
    missing = [c for c in ARC1_COLUMNS if c not in table.columns]
    if missing:
        raise ImportFileError(path, f"is not an ArC ONE session: missing columns {missing}")
    return table


@dataclass
class ImportOptions:
    """What a delimited file holds and where it goes."""

    procedure: str
    mapping: dict[str, str] = field(default_factory=dict)   # quantity -> column name or position
    units: dict[str, str] = field(default_factory=dict)     # quantity -> unit of that column
    delimiter: str | None = None
    header: bool | None = None
    device: tuple[int, int] = (0, 0)
    read_v: float | None = None
    series_resistor_ohm: float | None = None
    operator: str = ""

    def check(self) -> None:
        if self.procedure not in TARGETS:
            raise ImportFileError(None, f"procedure {self.procedure!r} cannot be imported; "
                                  f"allowed: {sorted(TARGETS)}")
        for quantity in (*self.mapping, *self.units):
            if quantity not in QUANTITIES:
                raise ImportFileError(None, f"quantity {quantity!r} is not one of {sorted(QUANTITIES)}")
        if self.read_v is not None and (not math.isfinite(self.read_v) or self.read_v == 0):
            raise ImportFileError(None, f"read_v={self.read_v!r}: a finite, non-zero voltage")
        if self.series_resistor_ohm is not None and not (
                math.isfinite(self.series_resistor_ohm) and self.series_resistor_ohm > 0):
            raise ImportFileError(None, f"series_resistor_ohm={self.series_resistor_ohm!r}: "
                                  "a finite resistance > 0 ohm")
        row, col = self.device
        if row < 0 or col < 0:
            raise ImportFileError(None, f"device={self.device}: row and column >= 0")


def quantities(table: Table, options: ImportOptions) -> dict[str, np.ndarray]:
    """The mapped columns in SI units, with the current derived from a series resistor and
    conductance from resistance or from current at the read voltage where needed."""
    out: dict[str, np.ndarray] = {}
    for quantity, spec in options.mapping.items():
        name, values = table.column(spec)
        unit = options.units.get(quantity, table.units.get(name))
        try:
            scale = 1.0 if unit is None else unit_scale(unit, quantity)
        except ValueError as exc:
            raise ImportFileError(table.source, str(exc), column=name) from None
        out[quantity] = values * scale
    if "resistor_voltage" in out:
        if options.series_resistor_ohm is None:
            raise ImportFileError(table.source, "a resistor_voltage column needs series_resistor_ohm")
        out["current"] = out["resistor_voltage"] / options.series_resistor_ohm
        if "applied_voltage" in out:
            out["voltage"] = out["applied_voltage"] - out["resistor_voltage"]
    elif "applied_voltage" in out and "voltage" not in out:
        out["voltage"] = out["applied_voltage"]
    if "conductance" not in out:
        if "resistance" in out:
            with np.errstate(divide="ignore"):
                out["conductance"] = np.where(out["resistance"] > 0, 1.0 / out["resistance"], np.nan)
        elif "current" in out and options.procedure != "iv-sweep":
            if options.read_v is None:
                raise ImportFileError(table.source, "conductance from current needs the read voltage (read_v)")
            out["conductance"] = out["current"] / options.read_v
    for needed in TARGETS[options.procedure]:
        if not any(q in out for q in needed):
            raise ImportFileError(table.source, f"{options.procedure} needs a column for one of "
                                  f"{list(needed)}; map it, e.g. {needed[0]}=<column>")
    return out


def _stream_rows(spec: StreamSpec, values: Mapping[str, np.ndarray], n: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every declared column of ``spec``: from ``values`` where present, else filled (NaN, or
    -1 for integer columns) and named in the returned list."""
    data: dict[str, np.ndarray] = {}
    filled: list[str] = []
    for column in spec.columns:
        if column.shape:
            raise ImportFileError(None, f"stream {spec.name!r} has map columns; not importable")
        dtype = np.dtype(column.dtype)
        if column.name in values:
            array = np.asarray(values[column.name], dtype=float)
            if dtype.kind in "iu":
                if not np.all(np.isfinite(array)):
                    raise ImportFileError(None, f"column {column.name!r} must be whole numbers")
                array = np.round(array)
            data[column.name] = array.astype(dtype)
        else:
            data[column.name] = np.full(n, -1 if dtype.kind in "iu" else np.nan, dtype=dtype)
            filled.append(f"{spec.name}.{column.name}")
    return data, filled


def _iv_values(q: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    values = {"voltage": q["voltage"], "current": q["current"]}
    if "time" in q:
        values["time"] = q["time"]
    if "cycle" in q:
        values["cycle"] = q["cycle"]
    else:
        # a new loop starts where the voltage leaves 0 upwards after having been negative
        v = q["voltage"]
        neg_seen = np.maximum.accumulate(v < 0)
        starts = (v[1:] > 0) & (v[:-1] <= 0) & neg_seen[:-1]
        values["cycle"] = np.concatenate([[0], np.cumsum(starts)]).astype(float)
    return values


def _pulse_values(q: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = q["conductance"].size
    values: dict[str, np.ndarray] = {"conductance": q["conductance"]}
    if "amplitude" in q:
        values["amplitude"] = q["amplitude"]
        values["polarity"] = np.where(q["amplitude"] < 0, -1.0, 1.0)
    values["pulse"] = q["pulse"] if "pulse" in q else np.arange(n, dtype=float)
    values["repeat"] = q["cycle"] if "cycle" in q else np.zeros(n)
    if "time" in q:
        values["time"] = q["time"]
    return values


def _retention_values(q: Mapping[str, np.ndarray], device: tuple[int, int]) -> dict[str, np.ndarray]:
    n = q["conductance"].size
    return {"row": np.full(n, device[0], float), "col": np.full(n, device[1], float),
            "time": q["time"] - np.nanmin(q["time"]), "conductance": q["conductance"]}


def _declared(procedure: str):
    from memlab.procedures.registry import get_procedure
    return get_procedure(procedure)


def write_imported(out_dir: str | Path, table: Table, options: ImportOptions, *, tool: str,
                   q: Mapping[str, np.ndarray] | None = None, name_suffix: str = "") -> Path:
    """Write one run file of ``options.procedure`` from ``table``; returns its path."""
    options.check()
    q = quantities(table, options) if q is None else q
    n = next(iter(q.values())).size
    if n == 0:
        raise ImportFileError(table.source, "holds no data rows")
    cls = _declared(options.procedure)
    spec = cls.streams[0]
    if options.procedure == "iv-sweep":
        values = _iv_values(q)
    elif options.procedure == "potentiation-depression":
        values = _pulse_values(q)
    else:
        values = _retention_values(q, options.device)
    rows, filled = _stream_rows(spec, values, n)
    extra_specs = [s for s in cls.streams[1:]]
    out_dir = Path(out_dir)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", table.source.stem)[:80] or "import"
    path = out_dir / f"{options.procedure}_{stem}{name_suffix}.h5"
    digest = hashlib.sha256(table.source.read_bytes()).hexdigest()
    parameters: dict[str, ParameterRecord] = {
        "row": ParameterRecord(options.device[0], "", "device row"),
        "col": ParameterRecord(options.device[1], "", "device column"),
    }
    if options.read_v is not None:
        parameters["read_v"] = ParameterRecord(options.read_v, "V", "read voltage")
    extra = {
        "import_source": table.source.name,
        "import_tool": tool,
        "import_mapping": json.dumps({"columns": options.mapping, "units": options.units,
                                      "series_resistor_ohm": options.series_resistor_ohm}),
        "import_sha256": digest,
        "import_filled": json.dumps(filled),
    }
    chip = {"family": "imported", "rows": options.device[0] + 1, "cols": options.device[1] + 1,
            "simulated": False}
    with RunWriter(path, procedure=options.procedure, procedure_version=cls.version,
                   streams=[spec, *extra_specs], parameters=parameters, chip=chip,
                   devices=[options.device], operator=options.operator,
                   software_version=_software_version(), extra=extra) as writer:
        writer.append(spec.name, rows)
        writer.log(f"imported {n} rows from {table.source.name} ({tool})")
        if filled:
            writer.log(f"not in the source, filled: {', '.join(filled)}")
        writer.close(COMPLETED)
    return path


def _software_version() -> str:
    try:
        from importlib import metadata
        return metadata.version("memlab")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "unknown"


def import_file(path: str | Path, out_dir: str | Path, *, fmt: str, options: ImportOptions) -> list[Path]:
    """Import one file; returns the run files written (one per device for ArC ONE sessions)."""
    if fmt not in FORMATS:
        raise ImportFileError(path, f"format {fmt!r} is not one of {list(FORMATS)}")
    options.check()
    path = Path(path)
    if fmt == "delimited":
        if not options.mapping:
            raise ImportFileError(path, "name the columns, e.g. voltage=V1 current=I1 (or positions 1, 2, ...)")
        table = read_delimited(path, delimiter=options.delimiter, header=options.header)
        return [write_imported(out_dir, table, options, tool="delimited text")]
    if fmt == "keithley-2450":
        table, implied = read_keithley_2450(path)
        options.mapping = {**implied, **options.mapping}
        return [write_imported(out_dir, table, options, tool="Keithley 2450 buffer export")]
    if fmt == "easyexpert":
        table = read_easyexpert(path)
        if not options.mapping:
            raise ImportFileError(path, f"name the columns among {list(table.columns)}, "
                                  "e.g. voltage=V1 current=I1")
        return [write_imported(out_dir, table, options, tool="Keysight EasyEXPERT export")]
    return _import_arc1(path, out_dir, options)


def _import_arc1(path: Path, out_dir: str | Path, options: ImportOptions) -> list[Path]:
    """ArC ONE: one potentiation-depression (or retention) run per device from its pulse and
    read operations; read-only lines ('S R') between pulses are kept as reads at pulse 0."""
    table = read_arc1(path)
    if options.procedure == "iv-sweep":
        raise ImportFileError(path, "an ArC ONE session holds resistance readings; import it as "
                              "potentiation-depression or retention")
    word = table.columns["Wordline"]
    bit = table.columns["Bitline"]
    written: list[Path] = []
    for w, b in sorted({(int(x), int(y)) for x, y in zip(word, bit)}):
        mask = (word == w) & (bit == b)
        resistance = table.columns["Resistance"][mask]
        amplitude = table.columns["Amplitude (V)"][mask]
        read_v = table.columns["ReadVoltage"][mask]
        q = {"resistance": resistance, "amplitude": amplitude,
             "conductance": np.where(resistance > 0, 1.0 / np.where(resistance > 0, resistance, 1), np.nan),
             "pulse": np.cumsum(amplitude != 0).astype(float)}
        if options.procedure == "retention":
            q["time"] = np.arange(resistance.size, dtype=float)
        device_options = ImportOptions(
            procedure=options.procedure, mapping={"resistance": "Resistance", "amplitude": "Amplitude (V)"},
            device=(w - 1, b - 1), read_v=float(np.nanmedian(read_v)) if read_v.size else None,
            operator=options.operator)
        written.append(write_imported(out_dir, table, device_options, tool="ArC ONE session",
                                      q=q, name_suffix=f"_w{w}b{b}"))
    return written


def parse_pairs(items: Iterable[str], what: str) -> dict[str, str]:
    """``["voltage=V1", "current=2"]`` -> ``{"voltage": "V1", "current": "2"}``."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise ImportFileError(None, f"{what} {item!r}: write QUANTITY=VALUE")
        if key not in QUANTITIES:
            raise ImportFileError(None, f"{what} {item!r}: {key!r} is not one of {sorted(QUANTITIES)}")
        pairs[key] = value.strip()
    return pairs


def read_mapping_file(path: str | Path) -> dict[str, Any]:
    """A TOML mapping file: ``procedure``, ``format``, ``delimiter``, ``header``,
    ``series_resistor_ohm``, ``read_v``, ``device = [r, c]``, ``[columns]`` and ``[units]``."""
    import tomllib
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(path, f"cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ImportFileError(path, f"is not valid TOML: {exc}") from None
    allowed = {"procedure", "format", "delimiter", "header", "series_resistor_ohm", "read_v",
               "device", "columns", "units"}
    unknown = set(data) - allowed
    if unknown:
        raise ImportFileError(path, f"unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    for table_key in ("columns", "units"):
        section = data.get(table_key, {})
        if not isinstance(section, dict) or not all(isinstance(v, (str, int)) for v in section.values()):
            raise ImportFileError(path, f"[{table_key}] maps quantities to column names or units")
        data[table_key] = {str(k): str(v) for k, v in section.items()}
    return data
