"""Generated hostile bench files: every one loads, or is refused with one BenchFileError line.

Each input is the built-in bench (or a small one-SMU bench) with one or two hostile edits: a value of
the wrong type or out of any range (NaN, inf, 1e300, 2**70, NUL bytes, 10 kB strings, deep
nesting), a deleted or unknown key, a hostile driver path; or the raw bytes broken (invalid UTF-8,
truncation, deep brackets). Anything but success or BenchFileError, from reading the file or from
opening the simulated bench (files with real instruments are only read), fails the test with the input that caused it.
"""

from __future__ import annotations

import copy
import json
import math
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest

from memlab.instruments.bench import Bench, BenchFileError, read_bench_config
from memlab.instruments.bench_file import DEFAULT_BENCH

SMALL = {
    "chip": {"rows": 4, "cols": 4, "faults": [{"row": 1, "col": 1, "kind": "stuck", "value": 1e-6}]},
    "instruments": {"smu": {"driver": "Keithley2600B", "model": "2636B", "options": {"channel": "a"}}},
    "wiring": {"direct": {"smu": [1, 2]}},
}

HOSTILE: list[Any] = [
    "", " ", "\x00", "a\x00b", "x" * 10_000, "é", "../../etc/passwd", ":", ".keithley:Keithley2450",
    "os:system", "memlab.instruments.keithley:Keithley707B", "Keithley2450", "KeysightB2900", "prgo",
    -1, 0, 1, 2, 7, 2**31, 2**70, -(2**70), 1e300, -1e300, 1e-320, math.nan, math.inf, -math.inf, 0.5,
    True, False, [], [0], [0, 0], [-1, 99], [1, 2, 3], ["A", "A"], {}, {"x": 1}, {"smu": [0, 0]},
    {"smux": [0, 0]}, {"channel": 2}, {"channel": "c"}, {"termination_ohm": 0}, {"sensor": "S999X"},
]


def deep(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(data: dict[str, Any]) -> str:
    lines = []
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append(f"[{json.dumps(str(key))}]")
            lines += [f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()]
        else:
            lines.insert(0, f"{json.dumps(str(key))} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in the document (tables and arrays), the root excluded."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found.append(prefix + (key,))
        found += paths(item, prefix + (key,))
    return found


def mutate(data: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    data = json.loads(json.dumps(data))  # a deep copy (the documents hold no NaN)
    for _ in range(rng.choice((1, 1, 2))):
        path = rng.choice([p for p in paths(data) if len(p) <= 5])  # edit the schema, not a nest we made
        parent: Any = data
        for key in path[:-1]:
            parent = parent[key]
        action = rng.random()
        if action < 0.15 and isinstance(parent, dict):
            del parent[path[-1]]
        elif action < 0.25 and isinstance(parent, dict):
            parent[rng.choice(("colour", "g_maxx_s", "smu", "driver", "faults"))] = copy.deepcopy(rng.choice(HOSTILE))
        elif action < 0.3:
            parent[path[-1]] = deep(rng.choice((20, 60)))
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(HOSTILE))  # a copy: HOSTILE must stay as it is
    return data


def break_bytes(raw: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        cut = rng.randrange(len(raw))
        return raw[:cut] + bytes([rng.choice((0xFF, 0xC3, 0x80, 0xFE))]) + raw[cut:]
    if kind == 1:
        return raw[: rng.randrange(len(raw))]
    if kind == 2:
        return raw + b"\nx = " + b"[" * 2000 + b"]" * 2000 + b"\n"
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))


def outcome(path: Path) -> str:
    """'ok' or 'refused'; anything else raises, naming the input."""
    try:
        config = read_bench_config(path)
        if all(instrument.simulated for instrument in config.instruments.values()):
            # Builds the simulated chip and twins (chip faults are checked here). A file that makes an
            # instrument real would open hardware: reading it is the fuzz's business, not connecting.
            Bench(config).close()
    except BenchFileError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ") and "\n" not in message, message
        return "refused"
    return "ok"


def run_fuzz(tmp_path: Path, count: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    bases = [tomllib.loads(DEFAULT_BENCH.read_text()), SMALL]
    counts = {"ok": 0, "refused": 0}
    for index in range(count):
        path = tmp_path / f"bench-{index}.toml"
        base = bases[index % 2]
        if rng.random() < 0.2:
            path.write_bytes(break_bytes(toml_document(base).encode(), rng))
        else:
            path.write_text(toml_document(mutate(base, rng)))
        try:
            counts[outcome(path)] += 1
        except Exception as exc:
            pytest.fail(f"input {index} ({path.read_bytes()[:300]!r}...) raised {type(exc).__name__}: {exc}")
    return counts


def test_hostile_bench_files_load_or_are_refused_in_one_line(tmp_path: Path) -> None:
    counts = run_fuzz(tmp_path, count=120, seed=12)
    assert counts["refused"] > 50 and counts["ok"] > 0  # the generator reaches both outcomes


@pytest.mark.fuzz_large
def test_hostile_bench_files_large(tmp_path: Path) -> None:
    counts = run_fuzz(tmp_path, count=3000, seed=1212)
    print(f"bench-file fuzz: {sum(counts.values())} inputs, {counts['ok']} loaded, {counts['refused']} refused, "
          "0 other exceptions")
