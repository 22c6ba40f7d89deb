"""pyvisa backend ``@memsim``: memlab's simulated instruments behind the VISA API.

pyvisa finds a backend named ``@memsim`` by importing this package and reading
:data:`WRAPPER_CLASS`::

    import pyvisa
    rm = pyvisa.ResourceManager("@memsim")              # the built-in simulated bench
    rm = pyvisa.ResourceManager("my_bench.toml@memsim") # the simulated instruments of a bench file
    rm.list_resources()
    smu = rm.open_resource("USB0::0x05E6::0x2450::04512345::INSTR")

Any VISA client can then talk to the twins, including drivers written by other projects
(pymeasure's ``Keithley2450("USB0::...", visa_library="@memsim")``). Instruments opened through
one library path (one bench) share one simulated chip and one clock: ``rm.visalib.world``.
"""

from pyvisa_memsim.highlevel import MemsimVisaLibrary

WRAPPER_CLASS = MemsimVisaLibrary

__all__ = ["MemsimVisaLibrary", "WRAPPER_CLASS"]
