"""`memlab demo`: the main job on the built-in simulated bench."""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from memlab.arguments import check_out_folder
from memlab.cmd_campaign import CampaignProgress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the demonstration campaigns on the built-in simulated bench",
                       description="Run short campaigns on simulated prGO and optomemristor chips "
                                   "(forming, I-V, multi-level programming, retention, "
                                   "potentiation/depression, VMM, optical, three-factor, XOR), "
                                   "print their summaries and where the run files are.")
    p.add_argument("--out", default="runs", help="folder for the run files (default: runs); "
                                                 "its demo sub-folders are replaced")
    p.set_defaults(func=run, progress_bar=True)


def run(args: argparse.Namespace) -> int:
    from memlab.procedures.demo import DEMO_PLANS, demo_plan, run_demo

    out = check_out_folder("--out", args.out)
    for plan_file, _, _ in DEMO_PLANS:  # a demo always starts afresh
        shutil.rmtree(out / demo_plan(plan_file).name, ignore_errors=True)
    bars: list[CampaignProgress] = []

    def progress(campaign):
        bars.append(CampaignProgress(campaign))
        return [bars[-1]]

    t0 = time.monotonic()
    try:
        results = run_demo(out, progress)
    finally:
        for bar in bars:
            bar.close()
    for result in results:
        print(f"\n== {result.manifest['campaign']}: {result.status} ({result.out_dir})")
        print(result.summary)
    files = sorted(out.glob("*/*.h5"))
    print(f"\n{len(files)} run files in {out.resolve()} ({time.monotonic() - t0:.0f} s)")
    print(f"next: memlab analyze {out} --report {out}/report")
    return 0 if all(r.ok for r in results) else 1
