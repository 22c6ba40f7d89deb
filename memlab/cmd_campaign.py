"""`memlab campaign PLAN --bench FILE --out DIR`: run a plan unattended, resumably."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tqdm import tqdm

from memlab.arguments import check_in_path, check_out_folder, check_text
from memlab.cmd_run import report_safety_failures
from memlab.procedures.campaign import Campaign, CampaignListener
from memlab.procedures.plan import load_plan
from memlab.storage import RunWriteError


class CampaignProgress(CampaignListener):
    """One bar over the whole campaign in estimated instrument seconds; tqdm's time left comes
    from the measured rate, so it is instrument time in simulation and real rates on hardware.
    Interleaved, the bar is the bench clock against the planned schedule's total, and the text
    says how many runs are open at once."""

    def __init__(self, campaign: Campaign, disable: bool | None = None) -> None:
        self.campaign = campaign
        self.scheduled = campaign.scheduled
        total = campaign.planned_total_s() if self.scheduled else sum(campaign.estimate_s(t) for t in campaign.tasks)
        mode = "interleaved" if self.scheduled else "sequential"
        self.bar = tqdm(total=total, unit="s", unit_scale=True, file=sys.stderr, disable=disable,
                        desc=f"{campaign.plan.name} ({mode})", dynamic_ncols=True,
                        bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.4g}/{total:.4g} instrument-s "
                                   "[{elapsed}<{remaining}] {postfix}")
        self.base = 0.0
        self.current = 0.0
        self.t0 = campaign.bench.clock.now()
        self.open: set[str] = set()

    def _clock_to_bar(self) -> None:
        self.bar.n = min(self.bar.total, self.campaign.bench.clock.now() - self.t0)
        self.bar.refresh()

    def on_task_start(self, task, index: int, total: int, estimate_s: float) -> None:
        self.current = estimate_s
        self.open.add(task.key)
        opened = f", {len(self.open)} runs open" if self.scheduled else ""
        self.bar.set_postfix_str(f"run {index + 1}/{total}: {task.step.name} on "
                                 f"({task.device[0]},{task.device[1]}){opened}", refresh=False)
        self.bar.refresh()

    def on_progress(self, done: float, total: float, eta_s: float | None) -> None:
        if self.scheduled:
            self._clock_to_bar()
        elif total > 0:
            self.bar.n = self.base + self.current * min(1.0, done / total)
            self.bar.refresh()

    def on_task_end(self, task, record: dict[str, Any]) -> None:
        self.open.discard(task.key)
        if self.scheduled:
            self._clock_to_bar()
            return
        self.base += self.campaign.estimate_s(task)
        self.bar.n = self.base
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaign", help="run a campaign plan (YAML) unattended",
                       description="Run a campaign plan: each run is its own file in --out, with a "
                                   "manifest and a log file; --resume continues an interrupted one.")
    p.add_argument("plan", help="the plan (YAML); see docs/campaigns.md")
    p.add_argument("--bench", help="bench file (TOML); default: the built-in simulated bench")
    p.add_argument("--family", choices=_chip_families(),
                   help="put a chip of this family on the bench instead of the file's")
    p.add_argument("--out", default=None, help="output folder (default: runs/<plan name>)")
    p.add_argument("--resume", action="store_true", help="continue the campaign already in --out")
    p.add_argument("--dry-run", action="store_true", help="print what would run and the estimated time")
    p.add_argument("--operator", help="who ran it (default: the plan's operator, else the login name)")
    p.set_defaults(func=run, progress_bar=True)


def run(args: argparse.Namespace) -> int:
    from memlab.instruments.bench import load_bench

    check_text("--operator", args.operator)
    check_in_path("PLAN", args.plan)
    if args.bench is not None:
        check_in_path("--bench", args.bench)
    plan = load_plan(args.plan)
    out = args.out if args.out is not None else f"runs/{plan.name}"
    check_out_folder("--out", out)
    with load_bench(args.bench, family=args.family) as bench:
        campaign = Campaign(plan, bench, out, resume=args.resume, operator=args.operator)
        if args.dry_run:
            print(campaign.dry_run())
            return 0
        progress = CampaignProgress(campaign)
        campaign.listeners.append(progress)
        try:
            result = campaign.run()
        except RunWriteError as exc:  # the manifest could not be written: said in one line
            print(f"memlab campaign: failed: {exc}", file=sys.stderr)
            return 1
        finally:
            progress.close()
    print(result.summary)
    print(f"instrument time: {result.instrument_s:.4g} s ({result.instrument_s / 3600:.3g} h), schedule "
          f"{'interleaved' if campaign.scheduled else 'sequential'}")
    print(f"campaign {result.status}: run files, manifest.json and campaign.log are in {out}")
    report_safety_failures("campaign", result.safety_failures)
    if campaign.manifest_error:
        print(f"memlab campaign: failed: {campaign.manifest_error}", file=sys.stderr)
    return 0 if result.ok else 1


def _chip_families() -> tuple[str, ...]:
    from memlab.instruments.bench_file import chip_families  # the preset registry: one entry per family

    return chip_families()
