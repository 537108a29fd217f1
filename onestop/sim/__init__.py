"""Simulation of dossier load driving the real Engine under a virtual clock."""

from onestop.sim.workload import WorkloadResult, WorkloadSpec, run_workload

__all__ = ["WorkloadResult", "WorkloadSpec", "run_workload"]
