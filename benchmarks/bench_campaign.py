"""An overnight campaign on the simulated bench: 24 h retention plus 10^6-cycle endurance on
16 devices of a 32 x 32 chip, interleaved (the default schedule) and one run after another.
Prints, for each, wall time against instrument (virtual) time, and how late the interleaved
retention reads were taken (from each run file's time - planned_time).

    python benchmarks/bench_campaign.py [--json] [--devices N] [--cycles N] [--only interleaved|sequential]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memlab.instruments.bench import Bench, read_bench_config  # noqa: E402
from memlab.procedures.campaign import ON_TIME_S, Campaign  # noqa: E402
from memlab.procedures.plan import parse_plan  # noqa: E402
from memlab.storage import RunReader  # noqa: E402

PLAN = """
name: overnight
schedule: {schedule}
devices:
  - {{rows: [0, {last}], cols: [0, 3]}}
steps:
  - procedure: retention
    params: {{program: target, target_s: 5.0e-6, duration_s: 86400, points: 40}}
  - procedure: endurance
    params: {{cycles: {cycles}}}
"""


def run_campaign(config, schedule: str, devices: int, cycles: int) -> dict[str, float]:
    plan = parse_plan(PLAN.format(last=devices // 4 - 1, cycles=cycles, schedule=schedule))
    with tempfile.TemporaryDirectory() as out, Bench(config) as bench:
        campaign = Campaign(plan, bench, out)
        planned = campaign.planned_total_s()
        t_wall, t_clock = time.perf_counter(), bench.clock.now()
        result = campaign.run()
        wall, clock = time.perf_counter() - t_wall, bench.clock.now() - t_clock
        late = []
        for attempt in result.manifest["attempts"]:
            if attempt["procedure"] == "retention" and attempt["file"]:
                with RunReader(Path(out) / attempt["file"]) as reader:
                    reads = reader.stream("retention")
                    late.append(np.asarray(reads["time"]) - np.asarray(reads["planned_time"]))
        late_s = np.concatenate(late) if late else np.zeros(1)
    return {f"{schedule}_wall_s": wall, f"{schedule}_instrument_s": clock,
            f"{schedule}_instrument_h": clock / 3600, f"{schedule}_planned_instrument_h": planned / 3600,
            f"{schedule}_runs_completed": float(sum(a["status"] == "completed"
                                                    for a in result.manifest["attempts"])),
            f"{schedule}_read_late_median_s": float(np.median(late_s)),
            f"{schedule}_read_late_max_s": float(np.max(late_s))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--devices", type=int, default=16, help="multiple of 4")
    parser.add_argument("--cycles", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("interleaved", "sequential"), help="run one schedule only")
    args = parser.parse_args()
    config = read_bench_config(None)
    config = dataclasses.replace(config, chip=dataclasses.replace(config.chip, rows=32, cols=32))
    fig: dict[str, float] = {"devices": float(args.devices), "endurance_cycles": float(args.cycles)}
    for schedule in ("interleaved", "sequential"):
        if args.only in (None, schedule):
            fig.update(run_campaign(config, schedule, args.devices, args.cycles))
    if args.json:
        print(json.dumps(fig))
        return
    targets = {"interleaved_instrument_h": "   target <= 26", "interleaved_wall_s": "   target < 60",
               "interleaved_read_late_max_s": f"   tolerance {ON_TIME_S:g}"}
    for key, value in fig.items():
        print(f"{key:<38} {value:>12.4g}{targets.get(key, '')}")


if __name__ == "__main__":
    main()
