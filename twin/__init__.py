"""The digital twin of a measured chip: fit the chip model to run files, load the fit as the
simulated chip of a bench, validate it on held-out runs (docs/twin.md)."""

from memlab.twin.file import ChipEstimate, DeviceEstimates, Twin, TwinFileError, load_twin, write_twin
from memlab.twin.fit import TwinFitError, fit_twin
from memlab.twin.validate import Validation, ks_two_sample, validate_twin

__all__ = ["ChipEstimate", "DeviceEstimates", "Twin", "TwinFileError", "TwinFitError", "fit_twin",
           "load_twin", "write_twin", "Validation", "ks_two_sample", "validate_twin"]
