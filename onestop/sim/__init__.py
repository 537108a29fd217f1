"""Simulation of dossier load driving the real Engine under a virtual clock (SimPy).

Example:
    >>> from onestop.sim import Scenario  # simulations/*.yaml, validated with precise errors
"""

from onestop.sim.executors import Workload, open_executor
from onestop.sim.model import RunResult, Simulation
from onestop.sim.runner import load_scenario, run_replications, write_outputs
from onestop.sim.scenario import Scenario

__all__ = [
    "RunResult",
    "Scenario",
    "Simulation",
    "Workload",
    "load_scenario",
    "open_executor",
    "run_replications",
    "write_outputs",
]
