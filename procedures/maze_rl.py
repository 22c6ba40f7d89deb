"""maze-rl: reinforcement learning in a grid maze with action values held by optomemristors,
learned by the three-factor rule with light as the reward (GeSe3 optomemristors, Nat. Commun. 2022).

**Encoding.** Each (state, action) pair of the maze has one device: state ``s`` (cell index,
row-major) and action ``a`` (0 up, 1 right, 2 down, 3 left) use device number ``4 s + a``, laid out
row by row from chip (``row``, ``col``) over ``width`` columns. A device's conductance is that
action's value.

**One step.** Read the four devices of the current cell; take the action of the highest
conductance, or with probability ``epsilon`` a random one (exploration); fire one electrical pulse
(``pulse_v``, ``width_s``) on the chosen device. In the dark that pulse barely changes the device,
but it sets the device's eligibility trace, which decays with the device's pulse-then-light time
constant. A move into a wall leaves the agent where it is.

**Reward.** Reaching the goal triggers a light pulse (``reward_power_w`` for ``reward_width_s``)
on the chip: light converts every live eligibility trace into potentiation, so the actions taken
shortly before the reward gain the most. That is the three-factor rule in the order reward
learning needs: activity first, the third factor later. An episode that runs out of steps gets
no light. After each episode the agent rests ``rest_s`` in the dark, so neither the traces nor
the light's own enabling trace carry over into the next episode.

**The software baseline** runs the same rule on ideal weights beside it: each action value gains
``baseline_rate * exp(-(t_reward - t_action) / tau_s)`` at a reward, with ``baseline_tau_s`` the preset's
trace time constant, in an identical maze with its own random stream.

Streams: ``episodes`` (steps, reward, baseline steps), ``values`` (every device's conductance
after each episode, the per-episode checkpoint), ``policy`` (the greedy action of each cell at
the end). ``resume_from`` continues from a previous run's last episode, re-programming the
action values to their checkpoint first if the chip has changed.
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
from memlab.storage import Column, RunReader, StreamSpec

MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))  # up, right, down, left
MAX_SIZE = 8


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


def choose(values: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """Epsilon-greedy over four action values (ties broken at random)."""
    if rng.random() < epsilon:
        return int(rng.integers(4))
    best = np.flatnonzero(values >= values.max() - 1e-15)
    return int(rng.choice(best))


def stream_specs(size: int) -> tuple[StreamSpec, ...]:
    """The streams of a ``size`` x ``size`` maze (4 action values per cell)."""
    n = 4 * size ** 2
    return (
        StreamSpec("episodes", (
            Column("episode", "", "i4"), Column("steps", "", "i4"), Column("reward", "", "i1"),
            Column("baseline_steps", "", "i4"), Column("baseline_reward", "", "i1"),
            Column("epsilon", ""), Column("time", "s")), "one row per episode"),
        StreamSpec("values", (Column("episode", "", "i4"),
                              Column("conductance", "S", shape=(n,), description="device 4 s + a"),
                              Column("baseline", "", shape=(n,))),
                   "action values after each episode (the checkpoint)"),
        StreamSpec("policy", (Column("cell", "", "i4"),
                              Column("action", "", "i1", description="0 up, 1 right, 2 down, 3 left; -1 wall"),
                              Column("baseline_action", "", "i1")), "the greedy policy at the end"),
    )


@register
class MazeRL(Procedure):
    name = "maze-rl"
    version = "1"
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
        Parameter("episodes", int, 40, "", 1, 100_000, help="Training episodes"),
        Parameter("max_steps", int, 60, "", 1, 10_000, help="Steps before an episode ends without reward"),
        Parameter("epsilon", float, 0.3, "", 0.0, 1.0, help="Exploration probability at the first episode"),
        Parameter("epsilon_decay", float, 0.9, "", 0.0, 1.0, help="Exploration multiplied by this per episode"),
        Parameter("seed", int, 0, "", 0, 2**32 - 1, help="Seed of exploration"),
        Parameter("pulse_v", float, 1.6, "V", -20.0, 20.0, help="Eligibility pulse on the chosen action's device"),
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
        return p.episodes * (p.max_steps * (4 * 0.02 + 0.02 + p.step_s) + p.reward_width_s + p.rest_s)

    def _checkpoint(self) -> tuple[int, np.ndarray, np.ndarray] | None:
        if not self.p.resume_from:
            return None
        with RunReader(self.p.resume_from) as reader:
            if reader.procedure != self.name:
                raise ParameterError("resume_from", self.p.resume_from, f"a {self.name} run file")
            values = reader.stream("values")
            if len(values) == 0 or values.column("conductance").shape[1] != 4 * self.p.size ** 2:
                raise ParameterError("resume_from", self.p.resume_from,
                                     f"a maze-rl run of a {self.p.size} x {self.p.size} maze with a finished episode")
            return (int(values.column("episode")[-1]), np.asarray(values.column("conductance")[-1], float),
                    np.asarray(values.column("baseline")[-1], float))

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
            last, conductance, baseline = checkpoint
            first = last + 1
            self._restore(ctx, devices, conductance)
        rng = np.random.default_rng([p.seed, first])
        base_rng = np.random.default_rng([p.seed, first, 1])
        conductance = np.empty(n)
        for episode in range(first, first + p.episodes):
            ctx.check_abort()
            epsilon = p.epsilon * p.epsilon_decay ** episode
            steps, reached, conductance = self._episode(ctx, maze, devices, light, epsilon, rng)
            b_steps, b_reached = self._baseline_episode(maze, baseline, epsilon, base_rng, p.baseline_tau_s,
                                                        p.width_s + 4 * 0.015)
            ctx.append("episodes", {
                "episode": np.array([episode]), "steps": np.array([steps]), "reward": np.array([int(reached)]),
                "baseline_steps": np.array([b_steps]), "baseline_reward": np.array([int(b_reached)]),
                "epsilon": np.array([epsilon]), "time": np.array([ctx.elapsed_s])})
            ctx.append("values", {"episode": np.array([episode]), "conductance": conductance[None],
                                  "baseline": baseline[None]})
            ctx.progress(episode - first + 1, p.episodes)
            ctx.sleep(p.rest_s)
        cells = np.arange(p.size ** 2)
        action = np.array([-1 if (c // p.size, c % p.size) in maze.walls else int(np.argmax(conductance[4 * c:4 * c + 4]))
                           for c in cells])
        b_action = np.array([-1 if (c // p.size, c % p.size) in maze.walls else int(np.argmax(baseline[4 * c:4 * c + 4]))
                             for c in cells])
        ctx.append("policy", {"cell": cells, "action": action, "baseline_action": b_action})

    def _read(self, devices: list[Device], k: int) -> float:
        device = devices[k]
        g = device.read_conductance()
        device.release()
        return g

    def _episode(self, ctx: Any, maze: Maze, devices: list[Device], light: Light, epsilon: float,
                 rng: np.random.Generator) -> tuple[int, bool, np.ndarray]:
        p = self.p
        cell = maze.start
        steps = 0
        while cell != maze.goal and steps < p.max_steps:
            ctx.check_abort()
            s = maze.index(cell)
            values = np.array([self._read(devices, 4 * s + a) for a in range(4)])
            action = choose(values, epsilon, rng)
            device = devices[4 * s + action]
            device.pulse(p.pulse_v, p.width_s)  # sets the eligibility trace of the chosen action
            device.release()
            if p.step_s:
                ctx.sleep(p.step_s)
            cell = maze.step(cell, action)
            steps += 1
        reached = cell == maze.goal
        if reached and p.reward_power_w > 0:
            light.pulse(p.reward_power_w, p.reward_width_s)
        conductance = np.array([self._read(devices, k) for k in range(len(devices))])
        return steps, reached, conductance

    def _baseline_episode(self, maze: Maze, values: np.ndarray, epsilon: float, rng: np.random.Generator,
                          tau_s: float, step_s: float) -> tuple[int, bool]:
        """The same rule on ideal weights: traces decay with ``tau_s``, each step takes ``step_s``."""
        p = self.p
        cell, steps, taken = maze.start, 0, []
        while cell != maze.goal and steps < p.max_steps:
            s = maze.index(cell)
            action = choose(values[4 * s:4 * s + 4], epsilon, rng)
            taken.append((4 * s + action, steps))
            cell = maze.step(cell, action)
            steps += 1
        reached = cell == maze.goal
        if reached and p.reward_power_w > 0:
            for k, at in taken:
                values[k] += p.baseline_rate * np.exp(-(steps - at) * step_s / tau_s)
        return steps, reached

    def _restore(self, ctx: Any, devices: list[Device], target: np.ndarray) -> None:
        """Bring each device back to within 10 % of its checkpointed conductance (light-enabled
        pulses: the optomemristor programs only with light present)."""
        p = self.p
        light = Light(ctx)
        pulses = 0
        light.on(p.reward_power_w or 1e-4)
        try:
            for k, device in enumerate(devices):
                g = device.read_conductance()
                for _ in range(100):
                    if abs(g - target[k]) <= 0.1 * target[k]:
                        break
                    device.pulse(abs(p.pulse_v) if g < target[k] else -abs(p.pulse_v), p.width_s)
                    g = device.read_conductance()
                    pulses += 1
                device.release()
        finally:
            light.off()
        ctx.log(f"restored the checkpoint's action values ({pulses} pulses)")
