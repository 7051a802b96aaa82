"""A quiet stand-in for IPython's shell, for notebook code graded as a file.

IPython's input transformer (`autograder.load.notebook`) turns `%magic`, `%%cell magic`,
`name?` and `!command` into calls on `get_ipython()`.  In a worker there is no IPython:
`get_ipython()` returns this stand-in, which ignores line magics, help and shell commands
(no shell runs in the sandbox) and runs the body of the cell magics that only observe their
cell (`%%time`, `%%timeit`, `%%capture`), as Jupyter would, in the student's module.
"""

from __future__ import annotations

from typing import Any

#: cell magics whose body Jupyter runs unchanged (they only time or capture it)
RUN_BODY = frozenset({"time", "timeit", "capture"})


class QuietShell:
    """`get_ipython()` for a module: `namespace` is where cell bodies run."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace

    def run_line_magic(self, name: str, line: str, *args: Any, **kwargs: Any) -> None:
        return None

    def run_cell_magic(self, name: str, line: str, cell: str, *args: Any, **kwargs: Any) -> None:
        if name in RUN_BODY:
            exec(compile(cell, self.namespace.get("__file__", "<cell>"), "exec"), self.namespace)

    def system(self, command: str, *args: Any, **kwargs: Any) -> None:
        return None

    def getoutput(self, command: str, *args: Any, **kwargs: Any) -> list[str]:
        return []


def display(*objects: Any, **kwargs: Any) -> None:
    """Jupyter's `display()`, a builtin in every notebook: a worker has nowhere to show anything."""


def install(namespace: dict[str, Any]) -> None:
    """Give `namespace` (a module's globals) what a notebook's code finds there without an
    import: a `get_ipython` returning a `QuietShell`, and `display`."""
    shell = QuietShell(namespace)
    namespace.setdefault("get_ipython", lambda: shell)
    namespace.setdefault("display", display)
