"""An overnight campaign on the simulated bench: 24 h retention plus 10^6-cycle endurance on
16 devices of a 32 x 32 chip. Prints wall time against instrument (virtual) time.

    python benchmarks/bench_campaign.py [--json] [--devices N] [--cycles N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memlab.instruments.bench import Bench, read_bench_config  # noqa: E402
from memlab.procedures.campaign import Campaign  # noqa: E402
from memlab.procedures.plan import parse_plan  # noqa: E402

PLAN = """
name: overnight
devices:
  - {{rows: [0, {last}], cols: [0, 3]}}
steps:
  - procedure: retention
    params: {{program: target, target_s: 5.0e-6, duration_s: 86400, points: 40}}
  - procedure: endurance
    params: {{cycles: {cycles}}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--devices", type=int, default=16, help="multiple of 4")
    parser.add_argument("--cycles", type=int, default=1_000_000)
    args = parser.parse_args()
    config = read_bench_config(None)
    config = dataclasses.replace(config, chip=dataclasses.replace(config.chip, rows=32, cols=32))
    plan = parse_plan(PLAN.format(last=args.devices // 4 - 1, cycles=args.cycles))
    with tempfile.TemporaryDirectory() as out, Bench(config) as bench:
        campaign = Campaign(plan, bench, out)
        t_wall, t_clock = time.perf_counter(), bench.clock.now()
        result = campaign.run()
        wall, clock = time.perf_counter() - t_wall, bench.clock.now() - t_clock
    fig = {"devices": float(args.devices), "endurance_cycles": float(args.cycles),
           "campaign_wall_s": wall, "campaign_instrument_s": clock,
           "campaign_instrument_h": clock / 3600, "speedup_instrument_over_wall": clock / wall,
           "runs_completed": float(sum(a["status"] == "completed" for a in result.manifest["attempts"]))}
    if args.json:
        print(json.dumps(fig))
        return
    print(result.summary)
    for key, value in fig.items():
        print(f"{key:<34} {value:>12.4g}" + ("   target < 60" if key == "campaign_wall_s" else ""))


if __name__ == "__main__":
    main()
