"""The Procedure base: what is run on a chip, with declared parameters, streams and plots."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, ClassVar

from memlab.procedures.context import BenchContext, ExecutionContext, Role, instrument_for
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.storage import ParameterRecord, StreamSpec


@dataclass(frozen=True)
class PlotHint:
    """What the dashboard plots live: ``y`` against ``x`` of ``stream``.

    ``group_by`` draws one curve per value of that column (e.g. one I-V loop per cycle);
    ``kind`` is "line", "scatter" or "image" (a 2-D column shown as a map).
    """

    stream: str
    x: str
    y: str
    title: str = ""
    kind: str = "line"
    group_by: str | None = None
    log_x: bool = False
    log_y: bool = False
    abs_y: bool = False


@dataclass(frozen=True)
class Wait:
    """Yielded by a procedure that mostly waits (:meth:`Procedure.segments`): it needs the
    instruments again at bench-clock time ``until_s``, then for about ``busy_s``. Until then a
    campaign's scheduler lets other runs use the instruments."""

    until_s: float
    busy_s: float = 0.0


@dataclass(frozen=True)
class Checkpoint:
    """Yielded between two pieces of work that could run at once: a scheduler may first serve
    another run whose read is due. ``busy_s`` is the instrument time of the next piece, so the
    scheduler resumes it only when it ends before the next due read."""

    busy_s: float


Pause = Wait | Checkpoint


class Procedure(ABC):
    """Base of every procedure.

    Subclasses declare ``name``, ``version``, ``title``, ``parameters``, ``streams``, ``plots``
    and ``requires`` (the bench roles they use) and implement :meth:`execute`. Parameters are
    validated when the procedure is made, :meth:`check` validates them against the bench before
    anything is switched on, and the runner calls :meth:`execute` with a run context
    (:class:`~memlab.procedures.context.ExecutionContext`; the runner's ``RunContext``). The
    bench they get is a :class:`~memlab.procedures.context.BenchContext`.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    parameters: ClassVar[tuple[Parameter, ...]] = ()
    streams: ClassVar[tuple[StreamSpec, ...]] = ()
    plots: ClassVar[tuple[PlotHint, ...]] = ()
    requires: ClassVar[tuple[Role, ...]] = ()

    def __init__(self, **values: Any) -> None:
        declared = {p.name: p for p in self.parameters}
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise ParameterError(unknown[0], values[unknown[0]],
                                 f"{self.name} has parameters {sorted(declared)}")
        self.values: dict[str, Any] = {
            name: param.validate(values.get(name, param.default)) for name, param in declared.items()
        }
        self.p = SimpleNamespace(**self.values)
        self.validate()

    @classmethod
    def parameter(cls, name: str) -> Parameter:
        for p in cls.parameters:
            if p.name == name:
                return p
        raise KeyError(f"{cls.name} has no parameter {name!r}")

    def validate(self) -> None:
        """Checks between parameters (e.g. start < stop); raise ParameterError. No bench yet."""

    def check(self, bench: BenchContext) -> None:
        """Checks against the bench (limits, chip size, roles present) before anything runs."""
        missing = [role for role in self.requires if instrument_for(bench, role) is None]
        if missing:
            raise ParameterError("bench", bench.config.name,
                                 f"{self.name} needs the roles {list(self.requires)}; missing {missing}")
        chip = bench.chip_info()
        rows, cols = chip.get("rows"), chip.get("cols")
        for row, col in self.devices():
            if rows is not None and not 0 <= row < rows:
                raise ParameterError("row", row, f"0 <= row < {rows} (the chip's rows)")
            if cols is not None and not 0 <= col < cols:
                raise ParameterError("col", col, f"0 <= col < {cols} (the chip's columns)")

    def devices(self) -> list[tuple[int, int]]:
        """The (row, col) of each device the run touches, for the file and the chip map."""
        if "row" in self.values and "col" in self.values:
            return [(self.values["row"], self.values["col"])]
        return []

    def stream_specs(self, chip: Mapping[str, Any]) -> tuple[StreamSpec, ...]:
        """The streams this run writes on ``chip`` (a bench's ``chip_info()``): the declared
        :attr:`streams`, unless a procedure's column shapes follow the chip (readout's map)."""
        return self.streams

    def parameter_records(self) -> dict[str, ParameterRecord]:
        """Every parameter as run, with its declared unit and help, as the run file records it."""
        declared = {p.name: p for p in self.parameters}
        return {name: ParameterRecord(value, declared[name].unit, declared[name].help)
                for name, value in self.values.items()}

    def estimate_s(self, bench: BenchContext) -> float | None:
        """Instrument time the run will take, if it can be told in advance (for progress)."""
        return None

    @abstractmethod
    def execute(self, ctx: ExecutionContext) -> None:
        """Drive the instruments through ``ctx.bench`` and record through ``ctx``."""

    def segments(self, ctx: ExecutionContext) -> Iterator[Pause]:
        """The run as cooperative segments for a campaign's scheduler: the generator yields a
        :class:`Wait` before each wait and may yield a :class:`Checkpoint` between pieces of
        work. Procedures that mostly wait (or that can fill others' waits) override it and
        implement :meth:`execute` as :meth:`run_segments`. By default the whole run is one step."""
        self.execute(ctx)
        yield from ()

    @classmethod
    def cooperative(cls) -> bool:
        """Whether the procedure declares its waits (overrides :meth:`segments`)."""
        return cls.segments is not Procedure.segments

    def run_segments(self, ctx: ExecutionContext) -> None:
        """Run :meth:`segments` alone on the bench: sleep through each Wait, go on at a Checkpoint."""
        for pause in self.segments(ctx):
            if isinstance(pause, Wait):
                ctx.sleep(max(0.0, pause.until_s - ctx.clock.now()))

    def busy_estimate_s(self, bench: BenchContext) -> float | None:
        """Instrument time the run holds the instruments, without its declared waits: what
        other runs cannot overlap. The same as :meth:`estimate_s` for a run that never waits."""
        return self.estimate_s(bench)

    @classmethod
    def describe(cls) -> Mapping[str, Any]:
        return {"name": cls.name, "version": cls.version, "title": cls.title,
                "description": cls.description, "requires": list(cls.requires),
                "parameters": [p.__dict__ for p in cls.parameters],
                "streams": [s.name for s in cls.streams]}
