"""The demonstration job: short campaigns over both device families on the simulated bench."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path

from memlab.instruments.bench import Bench, read_bench_config
from memlab.procedures.campaign import Campaign, CampaignListener, CampaignResult
from memlab.procedures.plan import parse_plan

# (plan, chip family, whether the chip starts unformed); plans sharing both share a bench.
DEMO_PLANS = (("demo-prgo.yaml", "prgo", True), ("demo-vmm.yaml", "prgo", True),
              ("demo-optomemristor.yaml", "optomemristor", False),
              ("demo-crossbar.yaml", "prgo", False), ("demo-maze.yaml", "optomemristor", False))


def demo_plan(name: str):
    text = resources.files("memlab.procedures.plans").joinpath(name).read_text()
    return parse_plan(text, f"procedures/plans/{name}")


def demo_bench(family: str, unformed: bool) -> Bench:
    """The built-in simulated bench with a chip of ``family``, small enough for a quick demo: 8 x 8,
    or 10 x 8 for the formed prGO chip (crossbar-train's 10 x 8 sub-array)."""
    config = read_bench_config(None, family=family)
    rows = 10 if family == "prgo" and not unformed else 8
    chip = dataclasses.replace(config.chip, rows=rows, cols=8, formed=not unformed)
    return Bench(dataclasses.replace(config, chip=chip))


def run_demo(out_dir: str | Path,
             listeners: Callable[[Campaign], Iterable[CampaignListener]] = lambda c: ()) -> list[CampaignResult]:
    """Run every demo plan into ``out_dir/<plan name>``; returns the campaigns' results."""
    out = Path(out_dir)
    results, benches = [], {}
    try:
        for plan_file, family, unformed in DEMO_PLANS:
            if (family, unformed) not in benches:
                benches[family, unformed] = demo_bench(family, unformed)
            plan = demo_plan(plan_file)
            campaign = Campaign(plan, benches[family, unformed], out / plan.name, operator="memlab demo")
            campaign.listeners.extend(listeners(campaign))
            results.append(campaign.run())
    finally:
        for bench in benches.values():
            bench.close()
    return results
