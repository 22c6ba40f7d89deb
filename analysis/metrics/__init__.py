"""Figures of merit: documented functions that take numpy arrays and return
:class:`~memlab.analysis.metrics.fom.FigureOfMerit` values (value, interval, points, quality,
or "not determined" with the reason).

One module per kind of measurement; each module's docstring states its definitions.
"""

from memlab.analysis.fitting import coefficient_of_variation
from memlab.analysis.metrics.fom import (
    CONFIDENCE,
    MAX_EXTRAPOLATION,
    FigureOfMerit,
    cv_figure,
    fraction_figure,
    mean_figure,
    median_figure,
)
from memlab.analysis.metrics.endurance import EnduranceResult, cycles_to_failure, window_vs_cycle
from memlab.analysis.metrics.forming import FormingPoint, forming_point, forming_yield
from memlab.analysis.metrics.iv import (
    SWITCH_METHODS,
    IVSummary,
    iv_summary,
    on_off_ratio,
    resistance_states,
    set_reset_voltages,
    switching_summary,
)
from memlab.analysis.metrics.learning import (
    LearningBand,
    accuracy_gap,
    episodes_to_learn,
    failed_devices,
    learning_band,
    maze_shortest_path,
    paired_gap,
    pulse_energy_j,
    pulses_per_weight,
)
from memlab.analysis.metrics.optical import (
    MAX_RESIDUAL_FRACTION,
    PhotoResponseFit,
    StepResponse,
    ThreeFactorResult,
    TimeConstants,
    decay_time_constant,
    eligibility_soft_bound,
    eligibility_time_constant,
    gating_ratio,
    photoresponse_exponent,
    photoresponse_law,
    photoresponse_law_after_waits,
    relaxation_fit,
    step_response,
    rise_decay_time_constants,
    spectral_edge,
    spectral_edge_after_waits,
    three_factor,
)
from memlab.analysis.metrics.plasticity import (
    BranchFit,
    PlasticityResult,
    asymmetry,
    dynamic_range,
    fit_branch,
    nonlinearity_label,
    potentiation_depression,
    split_branches,
    step_noise,
)
from memlab.analysis.metrics.programming import (
    distinguishable_levels,
    final_error,
    level_intervals,
    pulses_per_level,
    write_verify_success_rate,
)
from memlab.analysis.metrics.retention import (
    DriftFit,
    RetentionResult,
    fit_log_drift,
    fit_power_law_drift,
    retention,
)
from memlab.analysis.metrics.vmm import VmmErrors, intended_outputs, vmm_errors, weight_error

__all__ = [
    "coefficient_of_variation",
    "CONFIDENCE", "MAX_EXTRAPOLATION", "FigureOfMerit", "cv_figure", "fraction_figure", "mean_figure",
    "median_figure", "SWITCH_METHODS",
    "EnduranceResult", "cycles_to_failure", "window_vs_cycle",
    "FormingPoint", "forming_point", "forming_yield",
    "IVSummary", "iv_summary", "on_off_ratio", "resistance_states", "set_reset_voltages",
    "switching_summary",
    "ThreeFactorResult", "TimeConstants", "decay_time_constant", "eligibility_soft_bound", "eligibility_time_constant",
    "gating_ratio", "photoresponse_exponent", "rise_decay_time_constants", "spectral_edge", "three_factor",
    "spectral_edge_after_waits",
    "photoresponse_law", "step_response", "relaxation_fit", "photoresponse_law_after_waits",
    "MAX_RESIDUAL_FRACTION", "PhotoResponseFit", "StepResponse",
    "BranchFit", "PlasticityResult", "asymmetry", "dynamic_range", "fit_branch",
    "nonlinearity_label", "potentiation_depression", "split_branches", "step_noise",
    "distinguishable_levels", "final_error", "level_intervals", "pulses_per_level",
    "write_verify_success_rate",
    "DriftFit", "RetentionResult", "fit_log_drift", "fit_power_law_drift", "retention",
    "VmmErrors", "vmm_errors", "weight_error", "intended_outputs",
    "LearningBand", "accuracy_gap", "episodes_to_learn", "failed_devices", "learning_band",
    "maze_shortest_path", "paired_gap", "pulse_energy_j", "pulses_per_weight",
]
