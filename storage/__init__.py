"""The memlab HDF5 run-file format: streaming writer and reader (h5py and numpy only)."""

from memlab.storage.format import (
    ABORTED,
    COMPLETED,
    FAILED,
    FORMAT_NAME,
    FORMAT_VERSION,
    INTERRUPTED,
    RUNNING,
    STATUSES,
    Column,
    StreamSpec,
)
from memlab.storage.reader import RunFileError, RunReader, Stream
from memlab.storage.writer import ParameterRecord, RunWriteError, RunWriter

__all__ = [
    "ABORTED", "COMPLETED", "FAILED", "FORMAT_NAME", "FORMAT_VERSION", "INTERRUPTED", "RUNNING",
    "STATUSES", "Column", "StreamSpec", "RunFileError", "RunReader", "Stream", "ParameterRecord",
    "RunWriteError", "RunWriter",
]
