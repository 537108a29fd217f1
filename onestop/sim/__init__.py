"""Simulation of dossier load under the engine's law and a virtual clock (SimPy).

By default a simulation's commands run on :class:`Kernel`: the engine's own plans and
lifecycle applied to rows in memory, its events sealed and written in bulk; the whole engine,
over memory or over SQL, writes the same events (``Simulation(..., path=...)``).

Example:
    >>> from onestop.sim import Scenario  # simulations/*.yaml, validated with precise errors
"""

from onestop.sim.executors import Workload, open_executor
from onestop.sim.kernel import Kernel
from onestop.sim.model import RunResult, Simulation
from onestop.sim.runner import load_scenario, run_replications, write_outputs
from onestop.sim.scenario import Scenario

__all__ = [
    "Kernel",
    "RunResult",
    "Scenario",
    "Simulation",
    "Workload",
    "load_scenario",
    "open_executor",
    "run_replications",
    "write_outputs",
]
