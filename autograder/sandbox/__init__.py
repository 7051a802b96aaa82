"""The sandbox: student code runs only in worker processes forked from a torch-preloaded
fork server, isolated (namespaces, another uid, rlimits) and driven through probes."""

from autograder.worker.limits import SandboxLimits

__all__ = ["SandboxLimits"]
