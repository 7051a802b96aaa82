"""nnzoo's autograder: load → sandbox → probe → judge → report.

A submission is loaded (`load`), its code runs only inside a sandboxed worker
(`sandbox`), which answers *probes* — small, trusted recipes such as "build this module,
load this state_dict, run forward and backward" (`probes`).  The judge (pytest with the
`judge` plugin, in a trusted process) compares what comes back with the reference using
the generic property checks in `checks`, and `report` turns the verdicts into a gradebook.
"""

__version__ = "0.1.0"
