"""maze-rl: reinforcement learning in a grid maze with action values held by optomemristors,
learned by the three-factor rule with light as the reward (GeSe3 optomemristors, Nat. Commun. 2022).

**Encoding.** Each (state, action) pair of the maze has one device: state ``s`` (cell index,
row-major) and action ``a`` (0 up, 1 right, 2 down, 3 left) use device number ``4 s + a``, laid out
row by row from chip (``row``, ``col``) over ``width`` columns. An action's value is its device's
conductance less the ``reference`` read before any learning (devices differ by ~10 % from
birth; learning, not birth, should set preferences).

**One step.** Read the four devices of the current cell; take the action of the highest value,
values within ``tie_s`` of the best counting as ties broken at random, or with probability
``epsilon`` a random action (exploration, ``epsilon * epsilon_decay ** episode``, never below
``epsilon_min``). If the move enters a cell not yet visited in this episode, fire one electrical
pulse (``pulse_v``, ``width_s``) on the chosen device: in the dark it barely changes the device
but sets its eligibility trace, which decays with the device's pulse-then-light time constant.
Moves into walls and back into visited cells fire nothing, so loops are never reinforced (with
positive-only reward, a loop just before the goal would otherwise be rewarded for every lap).
The pulse's amplitude and width are the learning rate: they set the trace's size.

**Reward.** Reaching the goal triggers a light pulse (``reward_power_w`` for ``reward_width_s``)
on the chip: light converts every live eligibility trace into potentiation, so the actions taken
shortly before the reward gain the most. That is the three-factor rule in the order reward
learning needs: activity first, the third factor later. An episode that runs out of steps gets
no light. After each episode the agent rests ``rest_s`` in the dark, so neither the traces nor
the light's own enabling trace (nor its photoconductance) carry over, then reads every device.

**The software baseline** runs the same rule on ideal weights beside it: each tagged action
gains ``baseline_rate * exp(-(t_reward - t_action) / baseline_tau_s)`` at a reward, with the
chip episode's measured time per step, in an identical maze with its own random stream.

Streams: ``episodes`` (steps, reward, baseline steps), ``values`` (every device's conductance
after each episode and the reference: the per-episode checkpoint), ``policy`` (the greedy action
of each cell at the end). ``resume_from`` continues from a previous run's last episode,
re-programming by the same rule any device that moved away from its checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.common import (
    COMPLIANCE_A, NPLC, READ_V, WIDTH_S, Device, check_compliance, check_pulse_amplitudes, check_voltages,
)
from memlab.procedures.optical import Light, check_laser_power
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.registry import register
from memlab.storage import Column, RunFileError, RunReader, StreamSpec

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left
MAX_SIZE = 8
RESTORE_ROUNDS = 40  # light-converted pulse rounds at most when restoring a checkpoint


def parse_walls(text: str, size: int) -> set[tuple[int, int]]:
    """``"1,1;2,3"`` -> wall cells; refuses cells outside the maze."""
    walls: set[tuple[int, int]] = set()
    allowed = f"wall cells 'r,c;r,c' inside the {size} x {size} maze, or empty"
    for part in text.split(";"):
        if not part.strip():
            continue
        try:
            r, c = (int(x) for x in part.split(","))
        except ValueError:
            raise ParameterError("walls", text, allowed) from None
        if not (0 <= r < size and 0 <= c < size):
            raise ParameterError("walls", text, allowed)
        walls.add((r, c))
    return walls


class Maze:
    """A square grid maze: start top-left, goal bottom-right unless placed elsewhere."""

    def __init__(self, size: int, walls: set[tuple[int, int]], goal: tuple[int, int]) -> None:
        self.size, self.walls, self.goal = size, walls, goal
        self.start = (0, 0)

    def step(self, cell: tuple[int, int], action: int) -> tuple[int, int]:
        r, c = cell[0] + MOVES[action][0], cell[1] + MOVES[action][1]
        if not (0 <= r < self.size and 0 <= c < self.size) or (r, c) in self.walls:
            return cell
        return (r, c)

    def shortest_path(self) -> int | None:
        """Moves on the shortest path from start to goal (breadth-first), None if unreachable."""
        frontier, seen, steps = [self.start], {self.start}, 0
        while frontier:
            if self.goal in frontier:
                return steps
            nxt = []
            for cell in frontier:
                for a in range(4):
                    n = self.step(cell, a)
                    if n not in seen:
                        seen.add(n)
                        nxt.append(n)
            frontier, steps = nxt, steps + 1
        return None

    def index(self, cell: tuple[int, int]) -> int:
        return cell[0] * self.size + cell[1]


def choose(values: np.ndarray, epsilon: float, tie: float, rng: np.random.Generator) -> int:
    """Epsilon-greedy over four action values; values within ``tie`` of the best are ties, broken
    at random (on the chip, differences the reads cannot resolve are no preference)."""
    if rng.random() < epsilon:
        return int(rng.integers(4))
    best = np.flatnonzero(values >= values.max() - tie)
    return int(rng.choice(best))


def stream_specs(size: int) -> tuple[StreamSpec, ...]:
    """The streams of a ``size`` x ``size`` maze (4 action values per cell)."""
    n = 4 * size ** 2
    return (
        StreamSpec("episodes", (
            Column("episode", "", "i4"), Column("steps", "", "i4"), Column("reward", "", "i1"),
            Column("baseline_steps", "", "i4"), Column("baseline_reward", "", "i1"),
            Column("epsilon", ""), Column("pulses", "", "i4", description="eligibility pulses fired"),
            Column("time", "s")), "one row per episode"),
        StreamSpec("values", (Column("episode", "", "i4"),
                              Column("conductance", "S", shape=(n,), description="device 4 s + a"),
                              Column("reference", "S", shape=(n,),
                                     description="conductance before learning: the zero of each action value"),
                              Column("baseline", "", shape=(n,))),
                   "action values after each episode (the checkpoint)"),
        StreamSpec("policy", (Column("cell", "", "i4"),
                              Column("action", "", "i1", description="0 up, 1 right, 2 down, 3 left; -1 wall"),
                              Column("baseline_action", "", "i1")), "the greedy policy at the end"),
    )


@register
class MazeRL(Procedure):
    name = "maze-rl"
    version = "2"
    title = "Maze reinforcement learning"
    description = ("A grid-maze agent whose action values are optomemristor conductances, learned by the "
                   "three-factor rule: each action's pulse sets an eligibility trace, a light pulse at the goal "
                   "converts it. A software agent with the same rule on ideal weights runs alongside.")
    parameters = (
        Parameter("row", int, 0, "", 0, 4095, help="First chip row of the action-value devices"),
        Parameter("col", int, 0, "", 0, 4095, help="First chip column of the action-value devices"),
        Parameter("size", int, 5, "", 2, MAX_SIZE, help="Maze side (cells)"),
        Parameter("walls", str, "1,1;1,3;3,1;3,3", "", help="Wall cells 'r,c;r,c'"),
        Parameter("goal", str, "", "", help="Goal cell 'r,c' (empty: the bottom-right corner)"),
        Parameter("episodes", int, 30, "", 1, 100_000, help="Training episodes"),
        Parameter("max_steps", int, 100, "", 1, 10_000, help="Steps before an episode ends without reward"),
        Parameter("epsilon", float, 0.5, "", 0.0, 1.0, help="Exploration probability at the first episode"),
        Parameter("epsilon_decay", float, 0.85, "", 0.0, 1.0, help="Exploration multiplied by this per episode"),
        Parameter("epsilon_min", float, 0.0, "", 0.0, 1.0, help="Exploration never decays below this"),
        Parameter("tie_s", float, 1e-8, "S", 0.0, 1e-3,
                  help="Action values closer than this to the best are ties (a few read-noise sigmas)"),
        Parameter("seed", int, 0, "", 0, 2**32 - 1, help="Seed of exploration"),
        Parameter("pulse_v", float, 2.0, "V", -20.0, 20.0, help="Eligibility pulse on the chosen action's device"),
        WIDTH_S,
        Parameter("reward_power_w", float, 1e-3, "W", 0.0, 1.0, help="Reward light power (0: no reward light)"),
        Parameter("reward_width_s", float, 0.05, "s", 1e-4, 100.0, help="Reward light pulse width"),
        Parameter("rest_s", float, 10.0, "s", 0.0, 1e5, help="Dark rest after each episode"),
        Parameter("step_s", float, 0.0, "s", 0.0, 100.0, help="Extra wait per step (slows the agent)"),
        Parameter("baseline_rate", float, 0.1, "", 0.0, 10.0, help="Software agent: value gain per reward"),
        Parameter("baseline_tau_s", float, 0.5, "s", 1e-4, 1e4,
                  help="Software agent: eligibility time constant (the preset's pulse-then-light one)"),
        Parameter("width", int, 16, "", 4, 4096, help="Chip columns the devices are laid over"),
        Parameter("resume_from", str, "", "", help="A maze-rl run file to continue from (empty: start afresh)"),
        READ_V, COMPLIANCE_A, NPLC,
        Parameter("reads", int, 1, "", 1, 100, help="Readings averaged per action-value read"),
    )
    plots = (PlotHint("episodes", "episode", "steps", "Steps per episode (chip)"),
             PlotHint("episodes", "episode", "baseline_steps", "Steps per episode (software)"))
    requires = ("smu", "pulser", "laser")

    streams = stream_specs(5)  # the default maze's; each instance has its own size

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self.streams = stream_specs(self.p.size)

    def maze(self) -> Maze:
        p = self.p
        walls = parse_walls(p.walls, p.size)
        if p.goal.strip():
            try:
                goal = tuple(int(x) for x in p.goal.split(","))
            except ValueError:
                raise ParameterError("goal", p.goal, f"a cell 'r,c' of the {p.size} x {p.size} maze") from None
            if len(goal) != 2 or not all(0 <= x < p.size for x in goal):
                raise ParameterError("goal", p.goal, f"a cell 'r,c' of the {p.size} x {p.size} maze")
        else:
            goal = (p.size - 1, p.size - 1)
        maze = Maze(p.size, walls, goal)  # type: ignore[arg-type]
        if goal in walls or maze.start in walls:
            raise ParameterError("walls", p.walls, "walls on neither the start (0,0) nor the goal")
        if goal == maze.start:
            raise ParameterError("goal", p.goal, "a cell other than the start (0,0)")
        if maze.shortest_path() is None:
            raise ParameterError("walls", p.walls, "walls that leave a path from the start to the goal")
        return maze

    def validate(self) -> None:
        p = self.p
        self.maze()
        if p.read_v == 0:
            raise ParameterError("read_v", 0.0, "a non-zero voltage (conductance is I / V)")
        if 4 * p.size ** 2 > p.width * 4096:
            raise ParameterError("width", p.width, "wide enough for 4 devices per cell")
        if p.resume_from and not Path(p.resume_from).is_file():
            raise ParameterError("resume_from", p.resume_from, "an existing maze-rl run file")
        self._checkpoint()  # a file that is no usable checkpoint is refused before the run

    def device_position(self, k: int) -> tuple[int, int]:
        return self.p.row + k // self.p.width, self.p.col + k % self.p.width

    def devices(self) -> list[tuple[int, int]]:
        return [self.device_position(k) for k in range(4 * self.p.size ** 2)]

    def check(self, bench: Any) -> None:
        super().check(bench)
        p = self.p
        chip = bench.chip_info()
        if p.col + p.width > chip.get("cols", p.col + p.width):
            raise ParameterError("width", p.width, f"col + width <= {chip['cols']} (the chip's columns)")
        check_pulse_amplitudes(bench, "pulse_v", p.pulse_v)
        check_voltages(bench, "read_v", p.read_v)
        check_compliance(bench, p.compliance_a)
        check_laser_power(bench, "reward_power_w", p.reward_power_w)

    def estimate_s(self, bench: Any) -> float:
        p = self.p
        # per step: four reads and a pulse; per episode: the reward, the rest and a read of every device
        per_episode = p.max_steps * (4 * 0.02 + 0.02 + p.step_s) + p.reward_width_s + p.rest_s + 4 * p.size ** 2 * 0.02
        return 4 * p.size ** 2 * 0.02 + p.episodes * per_episode

    def _checkpoint(self) -> tuple[int, np.ndarray, np.ndarray, np.ndarray] | None:
        if not self.p.resume_from:
            return None
        try:
            reader = RunReader(self.p.resume_from)
        except RunFileError as exc:
            raise ParameterError("resume_from", self.p.resume_from, f"a readable maze-rl run file ({exc})") from None
        with reader:
            if reader.procedure != self.name:
                raise ParameterError("resume_from", self.p.resume_from, f"a {self.name} run file")
            values = reader.stream("values")
            if "reference" not in values.columns:  # version 1 learned on raw conductances
                raise ParameterError("resume_from", self.p.resume_from,
                                     "a maze-rl run of version 2 or later (with each device's reference conductance)")
            if len(values) == 0 or values.column("conductance").shape[1] != 4 * self.p.size ** 2:
                raise ParameterError("resume_from", self.p.resume_from,
                                     f"a maze-rl run of a {self.p.size} x {self.p.size} maze with a finished episode")
            return (int(values.column("episode")[-1]), np.asarray(values.column("conductance")[-1], float),
                    np.asarray(values.column("reference")[-1], float), np.asarray(values.column("baseline")[-1], float))

    def execute(self, ctx: Any) -> None:
        p = self.p
        maze = self.maze()
        n = 4 * p.size ** 2
        devices = [Device(ctx, *self.device_position(k), read_v=p.read_v, compliance_a=p.compliance_a,
                          nplc=p.nplc, reads=p.reads) for k in range(n)]
        light = Light(ctx)
        light.off()
        checkpoint = self._checkpoint()
        first = 0
        baseline = np.zeros(n)
        if checkpoint is not None:
            last, conductance, reference, baseline = checkpoint
            first = last + 1
            self._restore(ctx, devices, conductance, reference)
        else:
            reference = np.array([self._read(devices, k) for k in range(n)])
        rng = np.random.default_rng([p.seed, first])
        base_rng = np.random.default_rng([p.seed, first, 1])
        conductance = np.empty(n)
        for episode in range(first, first + p.episodes):
            ctx.check_abort()
            epsilon = max(p.epsilon * p.epsilon_decay ** episode, p.epsilon_min)
            started = ctx.elapsed_s
            steps, reached, pulses = self._episode(ctx, maze, devices, light, reference, epsilon, rng)
            # the software agent's traces decay over the chip's own measured time per step
            step_time = (ctx.elapsed_s - started - (p.reward_width_s if reached else 0.0)) / max(steps, 1)
            b_steps, b_reached = self._baseline_episode(maze, baseline, epsilon, base_rng, p.baseline_tau_s,
                                                        step_time)
            ctx.append("episodes", {
                "episode": np.array([episode]), "steps": np.array([steps]), "reward": np.array([int(reached)]),
                "baseline_steps": np.array([b_steps]), "baseline_reward": np.array([int(b_reached)]),
                "epsilon": np.array([epsilon]), "pulses": np.array([pulses]), "time": np.array([ctx.elapsed_s])})
            # read after the dark rest: the reward light's photoconductance has decayed by then
            ctx.sleep(p.rest_s)
            conductance = np.array([self._read(devices, k) for k in range(n)])
            ctx.append("values", {"episode": np.array([episode]), "conductance": conductance[None],
                                  "reference": reference[None], "baseline": baseline[None]})
            ctx.progress(episode - first + 1, p.episodes)
        cells = np.arange(p.size ** 2)
        learned = conductance - reference
        action = np.array([-1 if (c // p.size, c % p.size) in maze.walls else int(np.argmax(learned[4 * c:4 * c + 4]))
                           for c in cells])
        b_action = np.array([-1 if (c // p.size, c % p.size) in maze.walls else int(np.argmax(baseline[4 * c:4 * c + 4]))
                             for c in cells])
        ctx.append("policy", {"cell": cells, "action": action, "baseline_action": b_action})

    def _read(self, devices: list[Device], k: int) -> float:
        device = devices[k]
        g = device.read_conductance()
        device.release()
        return g

    def _episode(self, ctx: Any, maze: Maze, devices: list[Device], light: Light, reference: np.ndarray,
                 epsilon: float, rng: np.random.Generator) -> tuple[int, bool, int]:
        p = self.p
        cell = maze.start
        steps = pulses = 0
        visited = {cell}
        while cell != maze.goal and steps < p.max_steps:
            ctx.check_abort()
            s = maze.index(cell)
            values = np.array([self._read(devices, 4 * s + a) for a in range(4)]) - reference[4 * s:4 * s + 4]
            action = choose(values, epsilon, p.tie_s, rng)
            after = maze.step(cell, action)
            if after not in visited:  # tag only moves into new cells: loops and wall bumps earn no credit
                device = devices[4 * s + action]
                device.pulse(p.pulse_v, p.width_s)  # sets the eligibility trace of the chosen action
                device.release()
                pulses += 1
            if p.step_s:
                ctx.sleep(p.step_s)
            visited.add(after)
            cell = after
            steps += 1
        reached = cell == maze.goal
        if reached and p.reward_power_w > 0:
            light.pulse(p.reward_power_w, p.reward_width_s)
        return steps, reached, pulses

    def _baseline_episode(self, maze: Maze, values: np.ndarray, epsilon: float, rng: np.random.Generator,
                          tau_s: float, step_s: float) -> tuple[int, bool]:
        """The same rule on ideal weights: traces decay with ``tau_s``, each step takes ``step_s``."""
        p = self.p
        cell, steps, taken = maze.start, 0, []
        visited = {cell}
        while cell != maze.goal and steps < p.max_steps:
            s = maze.index(cell)
            action = choose(values[4 * s:4 * s + 4], epsilon, 1e-12, rng)
            after = maze.step(cell, action)
            if after not in visited:
                taken.append((4 * s + action, steps))
            visited.add(after)
            cell = after
            steps += 1
        reached = cell == maze.goal
        if reached and p.reward_power_w > 0:
            for k, at in taken:
                values[k] += p.baseline_rate * np.exp(-(steps - at) * step_s / tau_s)
        return steps, reached

    def _restore(self, ctx: Any, devices: list[Device], target: np.ndarray, reference: np.ndarray) -> None:
        """Bring every device back to its checkpointed conductance by the rule that learned it:
        rounds of dark pulses (up or down) on the devices out of tolerance, one light pulse that
        converts their traces, and a dark rest before the next read (a read under light would
        see the photoconductance). Tolerance: ``tie_s`` or a tenth of the learned change,
        whichever is larger. The chip kept its state when only the software stopped, so usually
        nothing is out of tolerance."""
        p = self.p
        light = Light(ctx)
        tolerance = np.maximum(p.tie_s, 0.1 * np.abs(target - reference))
        pending = list(range(len(devices)))
        pulses = rounds = 0
        for rounds in range(RESTORE_ROUNDS + 1):
            g = {k: self._read(devices, k) for k in pending}
            pending = [k for k in pending if abs(g[k] - target[k]) > tolerance[k]]
            if not pending or rounds == RESTORE_ROUNDS or p.reward_power_w == 0:
                break
            for k in pending:
                ctx.check_abort()
                devices[k].pulse(abs(p.pulse_v) if g[k] < target[k] else -abs(p.pulse_v), p.width_s)
                devices[k].release()
                pulses += 1
            light.pulse(p.reward_power_w, p.reward_width_s)
            ctx.sleep(p.rest_s)
        ctx.log(f"restored the checkpoint's action values: {pulses} pulses in {rounds} rounds")
        if pending:
            ctx.log(f"{len(pending)} device(s) stayed out of tolerance of the checkpoint"
                    + (" (no reward light to program with)" if p.reward_power_w == 0 else ""), 30)
