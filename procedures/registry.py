"""The procedures memlab knows, by name."""

from __future__ import annotations

from memlab.procedures.base import Procedure
from memlab.procedures.context import ROLE_NAMES
from memlab.procedures.parameters import ParameterError

_REGISTRY: dict[str, type[Procedure]] = {}


def register(cls: type[Procedure]) -> type[Procedure]:
    """Class decorator: make a procedure available to the CLI, campaigns and dashboard, once its
    declaration is consistent (see :func:`declaration_problems`)."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two procedures are named {cls.name!r}")
    problems = declaration_problems(cls)
    if problems:
        raise ValueError(f"procedure {cls.name!r}: " + "; ".join(problems))
    _REGISTRY[cls.name] = cls
    return cls


def declaration_problems(cls: type[Procedure]) -> list[str]:
    """What is inconsistent in a procedure's declaration: unknown roles, a parameter or stream
    declared twice, a plot of an undeclared stream or column. Empty when it is sound."""
    problems = []
    unknown_roles = [role for role in cls.requires if role not in ROLE_NAMES]
    if unknown_roles:
        problems.append(f"requires unknown roles {unknown_roles}; the roles are {list(ROLE_NAMES)}")
    for kind, names in (("parameter", [p.name for p in cls.parameters]), ("stream", [s.name for s in cls.streams])):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"declares the {kind}s {twice} more than once")
    streams = {s.name: s for s in cls.streams}
    for hint in cls.plots:
        if hint.stream not in streams:
            problems.append(f"plots the undeclared stream {hint.stream!r}")
            continue
        columns = streams[hint.stream].column_names
        missing = [c for c in (hint.x, hint.y, hint.group_by) if c and c not in columns]
        if missing:
            problems.append(f"plots the undeclared columns {missing} of stream {hint.stream!r}")
    return problems


def _load_builtin() -> None:
    import memlab.procedures.library  # noqa: F401  (registers the built-in procedures)


def all_procedures() -> dict[str, type[Procedure]]:
    _load_builtin()
    return dict(sorted(_REGISTRY.items()))


def get_procedure(name: str) -> type[Procedure]:
    procs = all_procedures()
    if name not in procs:
        raise ParameterError("procedure", name, f"one of {list(procs)}")
    return procs[name]
