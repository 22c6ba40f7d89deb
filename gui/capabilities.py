"""What a procedure needs of the bench and the chip, and why it cannot run on the connected one.

Roles come from the procedure's own ``requires``. That a procedure using the laser needs a chip
that responds to light is read from the chip family's preset (the preset registry of the
simulated chip: photoconductance or three-factor programming), so a new family is judged by
its own parameters, not by a list here.
"""

from __future__ import annotations

from typing import Any

from memlab.procedures import Procedure


def families() -> list[str]:
    """The chip families of the preset registry."""
    from memlab.instruments.sim.chip.presets import PRESETS

    return list(PRESETS)


def responds_to_light(family: str, overrides: dict[str, Any] | None = None) -> bool | None:
    """Whether chips of ``family`` respond to light (None: a family the registry does not know)."""
    from memlab.instruments.sim.chip.presets import resolve_params

    try:
        params = resolve_params(family, dict(overrides or {}))
    except ValueError:
        return None
    return bool(params.get("three_factor")) or float(params.get("g_ph_ref_s") or 0.0) > 0.0


def missing_for(procedure: type[Procedure], bench: Any) -> str | None:
    """Why ``procedure`` cannot run on ``bench`` (None: nothing is missing)."""
    if bench is None:
        return None
    missing = [role for role in procedure.requires if getattr(bench, role, None) is None]
    if missing:
        return f"{procedure.name} needs the bench's {', '.join(missing)}, which this bench lacks"
    if "laser" in procedure.requires:
        chip = bench.chip_info() if hasattr(bench, "chip_info") else {}
        family = chip.get("family")
        if family and responds_to_light(family, chip.get("overrides")) is False:
            return (f"{procedure.name} needs a chip that responds to light (an optomemristor); "
                    f"this bench's chip is {family}, which does not")
    return None
