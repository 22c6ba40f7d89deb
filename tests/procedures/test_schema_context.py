"""The typed bench Protocol: the real bench satisfies it, and procedures use it instead of probing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import memlab.procedures.base
import memlab.procedures.common
from memlab.instruments.bench import load_bench, read_bench_config
from memlab.procedures import ParameterError, get_procedure
from memlab.procedures.context import ROLE_NAMES, BenchContext, RunnableBench, instrument_for
from memlab.procedures.docgen import builtin_procedures

PROBE = re.compile(r"\b(hasattr|getattr)\((bench|ctx|self\.bench|ctx\.bench|ctx\.clock)\b")


def test_the_simulated_bench_is_a_bench_context():
    with load_bench(None) as bench:
        assert isinstance(bench, BenchContext) and isinstance(bench, RunnableBench)
        assert set(ROLE_NAMES) == {"smu", "pulser", "laser", "switch", "power_meter"}
        assert instrument_for(bench, "smu") is bench.smu
        assert instrument_for(bench, "power_meter") is bench.power_meter
        with pytest.raises(KeyError, match="no instrument role 'scope'"):
            instrument_for(bench, "scope")


def test_a_missing_role_is_refused_naming_the_bench():
    config = read_bench_config(None)
    with load_bench(None) as bench:
        bench.pulser = None  # as a bench whose pulse generator did not open
        with pytest.raises(ParameterError, match=rf"bench={config.name!r}.*needs the roles \['smu', 'pulser'\]; "
                                                 r"missing \['pulser'\]"):
            get_procedure("potentiation-depression")().check(bench)


def test_procedures_do_not_probe_the_bench():
    modules = {memlab.procedures.base, memlab.procedures.common}
    modules |= {__import__(cls.__module__, fromlist=["_"]) for cls in builtin_procedures().values()}
    for module in modules:
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert not PROBE.findall(source), f"{module.__name__} probes the bench: {PROBE.findall(source)}"
