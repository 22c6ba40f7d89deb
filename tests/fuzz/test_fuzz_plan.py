"""Fuzz campaign plans: random bytes, and mutations of valid plans (hostile values, YAML aliases,
deep nesting, duplicated and deleted lines, flipped bytes).

Every input must either load as a plan whose runs are within the limit, or be refused with one
PlanError line naming the file and a line; never another exception, and never slowly.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from memlab.procedures.plan import MAX_RUNS, PlanError, load_plan, resolve_devices

DEFAULT_INPUTS = 300
LARGE_INPUTS = 5000
PER_INPUT_S = 5.0

VALID = [
    "name: p\ndevices: [[0, 0], [1, 1]]\nsteps:\n  - procedure: readout\n",
    "name: grid\ndevices:\n  - {rows: [0, 2], cols: [0, 3]}\n  - [5, 5]\nrepeat: 2\nsteps:\n"
    "  - procedure: forming\n    name: form\n    params: {compliance_a: 1e-4}\n    retries: 1\n"
    "    on_failure: skip_device\n  - procedure: iv-sweep\n    params: {cycles: 2, v_max: 1.0}\n"
    "    only_if: {step: form, status: completed}\n",
    "name: cond\ndevices: [[0, 1]]\noperator: me\nnotify: echo done\nsteps:\n"
    "  - procedure: readout\n  - procedure: retention\n"
    "    only_if: {step: readout, column: conductance, above: 1e-6}\n",
    "name: anchors\ndevices: [[2, 2]]\nsteps:\n  - procedure: iv-sweep\n    params: &p {cycles: 3}\n"
    "  - procedure: iv-sweep\n    name: again\n    params: *p\n",
]
HOSTILE_VALUES = [
    ".inf", "-.inf", ".nan", "9" * 400, "1e400", "-1", "0", "[]", "{}", "[[]]", "{a: 1}", "~", "''",
    "!!binary aGk=", "!!python/object:os.system {}", "&x [*x]", "*nowhere", "[" * 100, "{" * 50,
    "? [a]\n: b", "'\u0661\u0660'", "\"\\x00\"", "\t", "1_000", "0x10", "0o17", "1e6", "yes", "no",
    "2026-01-01", "../../../../X", "{rows: [0, 1000000], cols: [0, 1000000]}", "100000000000",
    "[1, 2, 3]", "!!set {a, b}", "!!omap [a: 1]", "<<: {a: 1}", "\"" + "x" * 10000 + "\"",
]


def laughs(levels: int) -> str:
    text = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, levels):
        text += f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n"
    return text


def mutate(rng: random.Random, text: str) -> bytes:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        i = rng.randrange(len(lines)) if lines else 0
        if kind < 0.35 and lines:  # replace a value with a hostile one
            key, sep, _ = lines[i].partition(": ")
            if sep:
                lines[i] = f"{key}: {rng.choice(HOSTILE_VALUES)}"
            else:
                lines[i] = lines[i] + " " + rng.choice(HOSTILE_VALUES)
        elif kind < 0.45 and lines:
            lines.insert(i, lines[i])  # a duplicated line: often a duplicate key
        elif kind < 0.55 and lines:
            del lines[i]
        elif kind < 0.62:
            lines.insert(i, laughs(rng.randint(2, 9)).rstrip("\n"))
        elif kind < 0.68:
            depth = rng.choice([10, 40, 1000, 20000])
            lines.insert(i, "deep: " + "[" * depth + "]" * depth)
        elif kind < 0.74 and lines:  # re-indent a line
            lines[i] = " " * rng.randint(0, 8) + lines[i].lstrip()
        else:
            pass
    raw = bytearray("\n".join(lines).encode("utf-8", "surrogatepass"))
    if raw and rng.random() < 0.3:  # flip a few bytes (invalid UTF-8, control characters)
        for _ in range(rng.randint(1, 3)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def judge(path: Path, raw: bytes) -> tuple[str, str]:
    path.write_bytes(raw)
    t0 = time.monotonic()
    try:
        plan = load_plan(path)
        devices = resolve_devices(plan, {"rows": 8, "cols": 8}, formed=set())
        runs = len(devices) * plan.repeat * len(plan.steps)
        if runs > MAX_RUNS:
            return "failure", f"{raw[:200]!r}: accepted {runs} runs"
        verdict = "clean"
        why = ""
    except PlanError as exc:
        message = str(exc)
        verdict, why = "clean", ""
        if "\n" in message or not message.startswith(str(path)) or len(message) > 2000:
            verdict, why = "failure", f"{raw[:200]!r}: message not one line naming the file: {message[:300]!r}"
    except BaseException as exc:  # noqa: BLE001 - the very thing the fuzz looks for
        return "failure", f"{raw[:200]!r}: {type(exc).__name__}: {str(exc)[:200]}"
    if time.monotonic() - t0 > PER_INPUT_S:
        return "failure", f"{raw[:200]!r}: took {time.monotonic() - t0:.1f} s"
    return verdict, why


def fuzz(tmp_path: Path, count: int, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "plan.yaml"
    failures = []
    for n in range(count):
        if n % 10 == 0:  # random bytes
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        else:
            raw = mutate(rng, rng.choice(VALID))
        verdict, why = judge(path, raw)
        if verdict == "failure":
            failures.append(why)
    print(f"\nfuzz plan: {count} inputs tried, {count - len(failures)} clean, {len(failures)} failures")
    assert not failures, "\n".join(failures[:20])


def test_valid_plans_load(tmp_path):
    for text in VALID:
        assert judge(tmp_path / "plan.yaml", text.encode()) == ("clean", "")
        load_plan(tmp_path / "plan.yaml")


def test_fuzz_plan_default(tmp_path):
    fuzz(tmp_path, DEFAULT_INPUTS, seed=12)


@pytest.mark.fuzz_large
def test_fuzz_plan_large(tmp_path):
    fuzz(tmp_path, LARGE_INPUTS, seed=1212)
