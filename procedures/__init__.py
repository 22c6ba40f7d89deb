"""What is run on a chip: the Procedure base, parameters, the runner and each procedure."""

from procedures.base import PlotHint, Procedure
from procedures.parameters import Parameter, ParameterError
from procedures.recorder import Recorder, RunListener
from procedures.registry import all_procedures, get_procedure, register
from procedures.runner import AbortRequested, RunContext, RunHandle, RunResult, run_procedure, start_run

__all__ = [
    "PlotHint", "Procedure", "Parameter", "ParameterError", "Recorder", "RunListener",
    "all_procedures", "get_procedure", "register", "AbortRequested", "RunContext", "RunHandle",
    "RunResult", "run_procedure", "start_run",
]
