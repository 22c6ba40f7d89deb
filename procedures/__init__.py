"""What is run on a chip: the Procedure base, parameters, the runner and each procedure."""

from memlab.procedures.base import PlotHint, Procedure
from memlab.procedures.context import BenchContext, ExecutionContext
from memlab.procedures.parameters import Parameter, ParameterError
from memlab.procedures.recorder import Recorder, RunListener
from memlab.procedures.registry import all_procedures, get_procedure, register
from memlab.procedures.runner import AbortRequested, RunContext, RunHandle, RunResult, run_procedure, start_run

__all__ = [
    "BenchContext", "ExecutionContext", "PlotHint", "Procedure", "Parameter", "ParameterError", "Recorder",
    "RunListener", "all_procedures", "get_procedure", "register", "AbortRequested", "RunContext", "RunHandle",
    "RunResult", "run_procedure", "start_run",
]
