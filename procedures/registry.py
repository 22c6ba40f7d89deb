"""The procedures memlab knows, by name."""

from __future__ import annotations

from memlab.procedures.base import Procedure
from memlab.procedures.parameters import ParameterError

_REGISTRY: dict[str, type[Procedure]] = {}


def register(cls: type[Procedure]) -> type[Procedure]:
    """Class decorator: make a procedure available to the CLI, campaigns and dashboard."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two procedures are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


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
