"""Offline analysis of memlab run files: load runs, compute figures of merit, plot, report.

Depends on storage, numpy, pandas, matplotlib and dask only; never on instruments, procedures
or Qt, so a laptop without a bench can analyse files. Plots (:mod:`memlab.analysis.plots`), reports
(:mod:`memlab.analysis.report`) and Dask (:mod:`memlab.analysis.parallel`) are imported when used, keeping
``import memlab.analysis`` light.
"""

from memlab.analysis.errors import AnalysisError, FigureWarning, MissingStreamError, SkippedRunWarning
from memlab.analysis.loading import Run, RunFilter, RunSet, find_run_files, load_runs, open_run
from memlab.analysis.parallel import Summary, summarize
from memlab.analysis.summary import device_table, run_table, summarize_file, summarize_run

__all__ = [
    "AnalysisError", "FigureWarning", "MissingStreamError", "SkippedRunWarning",
    "Run", "RunFilter", "RunSet", "find_run_files", "load_runs", "open_run",
    "device_table", "run_table", "summarize_file", "summarize_run", "Summary", "summarize",
    "write_report",
]


def __getattr__(name: str) -> object:
    # write_report pulls in matplotlib; import it on first use only
    if name == "write_report":
        from memlab.analysis.report import write_report
        return write_report
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
