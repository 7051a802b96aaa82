"""Static scan of a student's source, run in the judge (never executes it).

Finds uses of forbidden built-ins (SPEC §2), resolving import aliases
(`import torch.nn.functional as F`, `from torch import nn`), and calls that deserve a
human look (`ctypes`, `gc`, `sys._getframe`, `exec`, ...).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

SUSPICIOUS = ("ctypes", "gc", "sys._getframe", "inspect.currentframe", "exec", "eval", "compile",
              "__import__", "importlib", "os.system", "subprocess", "socket", "builtins", "signal")


@dataclass
class ScanResult:
    """Dotted names the source refers to (aliases resolved), plus a parse error if any."""

    names: set[str] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    syntax_error: str = ""

    def uses(self, qualified: str) -> bool:
        """True when `qualified` (e.g. "torch.nn.Linear") or a prefix-qualified use occurs."""
        return qualified in self.names or any(n.startswith(qualified + ".") for n in self.names)

    def forbidden(self, qualified_names: list[str]) -> list[str]:
        return [q for q in qualified_names if self.uses(q)]

    def suspicious(self) -> list[str]:
        hits = [s for s in SUSPICIOUS if self.uses(s)]
        if {"getattr"} & self.names and self.strings & {"Linear", "linear", "MultiheadAttention"}:
            hits.append("getattr with a forbidden name")
        return hits


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def scan_source(source: str) -> ScanResult:
    result = ScanResult()
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        result.syntax_error = f"line {exc.lineno}: {exc.msg}" if exc.lineno else str(exc.msg)
        return result
    except (RecursionError, MemoryError):  # Python's own compiler gives up on it as well
        result.syntax_error = "it nests too deeply for Python to compile"
        return result
    except ValueError as exc:  # e.g. a null byte
        result.syntax_error = str(exc)[:200]
        return result
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
                result.names.add(a.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                result.names.add(f"{node.module}.{a.name}")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node)
            if dotted:
                head, _, rest = dotted.partition(".")
                full = aliases.get(head, head)
                result.names.add(f"{full}.{rest}" if rest else full)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            result.strings.add(node.value)
    return result
