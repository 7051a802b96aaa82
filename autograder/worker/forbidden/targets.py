"""What the run-time watch looks for: each forbidden SPEC name → the functions, operators,
module classes and packages that are that built-in, whatever name reaches them; and the
exception raised at a forbidden call (see `autograder.worker.forbidden.watch`)."""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.util
import inspect
import os
import sys
import types
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

# -- what to watch ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """What the watch looks for when a SPEC name is forbidden.

    functions: dotted paths of callables the function mode sees (a `torch.X` builtin
        also covers `torch._C._VariableFunctionsClass.X`, the object the mode receives).
    ops: operator names ("aten::linear") matched on calls through `torch.ops` (seen by
        the function mode as OpOverload / OpOverloadPacket / HigherOrderOperator);
        a trailing "*" makes a prefix.
    dispatch_ops: operator names watched after autograd by the dispatch mode — only ops
        that are *distinctive* of the built-in (never produced by an allowed
        implementation); backward ops are never watched.
    classes: dotted paths of module classes; their subclasses are covered too.
    packages: top-level package names (import, namespace and code of the package).
    """

    spec: str
    functions: tuple[str, ...] = ()
    ops: tuple[str, ...] = ()
    dispatch_ops: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()


_SDPA_KERNELS = (
    "torch._scaled_dot_product_attention_math", "torch._scaled_dot_product_flash_attention_for_cpu",
    "torch._scaled_dot_product_flash_attention", "torch._scaled_dot_product_efficient_attention",
    "torch._scaled_dot_product_cudnn_attention", "torch._scaled_dot_product_attention_math_for_mps",
    "torch._flash_attention_forward_no_dropout_inplace", "torch._triton_scaled_dot_attention",
)
_SDPA_OPS = (
    "aten::scaled_dot_product_attention", "aten::_scaled_dot_product_*", "aten::_flash_attention_forward*",
    "aten::_efficient_attention_forward", "aten::_cudnn_attention_forward", "aten::_triton_scaled_dot_attention",
    "higher_order::flex_attention",
)
_RECURRENT = ("lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell",
              "quantized_lstm", "quantized_gru", "quantized_lstm_cell", "quantized_gru_cell",
              "quantized_rnn_tanh_cell", "quantized_rnn_relu_cell", "mkldnn_rnn_layer", "_cudnn_rnn", "miopen_rnn",
              "_lstm_mps")
_QD = "torch.ao.nn.quantized.dynamic"


def _cell(kind: str) -> Target:
    """`torch.lstm_cell` and friends: the kernel, its quantized twins, the fused kernels."""
    name = f"{kind}_cell"
    fused = {"lstm": ("aten::_thnn_fused_lstm_cell",), "gru": ("aten::_thnn_fused_gru_cell",)}.get(kind, ())
    return Target(f"torch.{name}", functions=(f"torch.{name}", f"torch.quantized_{name}"),
                  ops=(f"aten::{name}", f"aten::quantized_{name}", f"quantized::quantized_{name}_dynamic", *fused))


#: Curated targets of the SPEC names the hidden tests forbid (plus near relatives).  Any
#: other dotted name gets a generic target from `target_for`.
FORBIDDEN_TARGETS: dict[str, Target] = {t.spec: t for t in (
    # mlp
    Target("torch.nn.Linear", classes=("torch.nn.Linear", "torch.ao.nn.quantized.Linear")),
    Target("torch.nn.functional.linear", functions=("torch._C._nn.linear", "torch._C._nn.mkldnn_linear"),
           ops=("aten::linear", "aten::mkldnn_linear", "quantized::linear*", "_quantized::linear*",
                "onednn::linear*", "mkl::_mkl_linear")),
    # attention
    Target("torch.nn.functional.scaled_dot_product_attention",
           functions=("torch._C._nn.scaled_dot_product_attention", *_SDPA_KERNELS,
                      "torch.nn.attention.flex_attention.flex_attention"),
           ops=_SDPA_OPS, dispatch_ops=_SDPA_OPS),
    Target("torch.nn.MultiheadAttention", classes=("torch.nn.MultiheadAttention",),
           functions=("torch._native_multi_head_attention", "torch._triton_multi_head_attention"),
           ops=("aten::_native_multi_head_attention", "aten::_triton_multi_head_attention")),
    Target("torch.nn.functional.multi_head_attention_forward",
           functions=("torch.nn.functional.multi_head_attention_forward", "torch._native_multi_head_attention"),
           ops=("aten::_native_multi_head_attention",)),
    Target("torch.nn.TransformerEncoderLayer", classes=("torch.nn.TransformerEncoderLayer",),
           functions=("torch._transformer_encoder_layer_fwd",), ops=("aten::_transformer_encoder_layer_fwd",)),
    Target("torch.nn.TransformerEncoder", classes=("torch.nn.TransformerEncoder",)),
    # rnn: classes
    Target("torch.nn.RNNCell", classes=("torch.nn.RNNCell", f"{_QD}.RNNCell")),
    Target("torch.nn.LSTMCell", classes=("torch.nn.LSTMCell", "torch.ao.nn.quantizable.LSTMCell", f"{_QD}.LSTMCell")),
    Target("torch.nn.GRUCell", classes=("torch.nn.GRUCell", f"{_QD}.GRUCell")),
    Target("torch.nn.RNNCellBase", classes=("torch.nn.RNNCellBase", f"{_QD}.modules.rnn.RNNCellBase",
                                            "torch.ao.nn.quantizable.LSTMCell")),
    Target("torch.nn.RNN", classes=("torch.nn.RNN",)),
    Target("torch.nn.LSTM", classes=("torch.nn.LSTM", "torch.ao.nn.quantizable.LSTM", f"{_QD}.LSTM")),
    Target("torch.nn.GRU", classes=("torch.nn.GRU", f"{_QD}.GRU")),
    Target("torch.nn.RNNBase", classes=("torch.nn.RNNBase", f"{_QD}.modules.rnn.RNNBase", "torch.ao.nn.quantizable.LSTM")),
    # rnn: kernels
    _cell("rnn_tanh"), _cell("rnn_relu"), _cell("lstm"), _cell("gru"),
    Target("torch._VF", functions=tuple(f"torch.{n}" for n in _RECURRENT),
           ops=(*(f"aten::{n}" for n in _RECURRENT), "aten::_thnn_fused_*", "quantized::quantized_*_dynamic")),
    Target("torch.nn.modules.rnn", classes=(
        "torch.nn.RNNBase", "torch.nn.RNNCellBase", f"{_QD}.modules.rnn.RNNBase", f"{_QD}.modules.rnn.RNNCellBase",
        "torch.ao.nn.quantizable.LSTM", "torch.ao.nn.quantizable.LSTMCell")),
    # gnn
    Target("torch_geometric", packages=("torch_geometric",)),
    Target("torch_scatter", packages=("torch_scatter",)),
    Target("torch_sparse", packages=("torch_sparse",)),
)}


def resolve_loaded(path: str) -> Any:
    """The object a dotted path names among the modules already imported, importing nothing
    and running no module's `__getattr__` (PEP 562; torch's lazy submodules); None when it
    is not there.  For the judge's static scan: a name in a student's source must never
    import a module in the judge (`torch.utils.model_dump.__main__` exits at import)."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        obj: Any = sys.modules.get(".".join(parts[:i]))
        if obj is None:
            continue
        for attr in parts[i:]:
            namespace = vars(obj) if isinstance(obj, types.ModuleType) else None
            if namespace is not None:
                if attr not in namespace:
                    return None
                obj = namespace[attr]
            else:
                try:
                    obj = inspect.getattr_static(obj, attr)
                except AttributeError:
                    return None
                if isinstance(obj, staticmethod):  # `torch._C._VariableFunctions.lstm_cell` is `torch.lstm_cell`
                    obj = obj.__func__
        return obj
    return None


def resolve_path(path: str) -> Any:
    """The object a dotted path names, importing modules as needed; None when missing."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def target_for(name: str) -> Target:
    """The curated target of a SPEC name, or one derived from what the name resolves to:
    a package outside torch (blocked as a package, installed or not), a torch module
    (its module classes), a module class, or a callable (and its `aten::` operator)."""
    if name in FORBIDDEN_TARGETS:
        return FORBIDDEN_TARGETS[name]
    top = name.partition(".")[0]
    if top == "autograder":  # the grader's own code runs here: only the static scan can tell a student's use of it
        return Target(name)
    if top != "torch":
        return Target(name, packages=(top,))
    obj = resolve_path(name)
    if isinstance(obj, types.ModuleType):
        classes = tuple(f"{name}.{n}" for n, v in vars(obj).items()
                        if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == obj.__name__)
        return Target(name, classes=classes)
    if isinstance(obj, type):
        return Target(name, classes=(name,))
    if callable(obj):
        short = name.rsplit(".", 1)[-1]
        return Target(name, functions=(name,), ops=(f"aten::{short}",) if f"aten::{short}" in _aten_names() else ())
    return Target(name)


@functools.lru_cache(maxsize=1)
def _aten_names() -> frozenset[str]:
    return frozenset(torch._C._dispatch_get_all_op_names())


# -- the exception ---------------------------------------------------------------------------

def short_name(spec: str) -> str:
    """"torch.nn.functional.linear" → "F.linear", "torch.nn.Linear" → "nn.Linear"."""
    return spec.replace("torch.nn.functional.", "F.").replace("torch.nn.", "nn.")


class ForbiddenCall(Exception):
    """A forbidden built-in was reached while the student's code ran.

    `spec` is the forbidden SPEC name, `via` what the watch saw, `filename`/`lineno` the
    student's line (None when only grader code is on the stack: the built-in was reached
    through an object the student's module provides)."""

    def __init__(self, spec: str, via: str, filename: str | None = None, lineno: int | None = None) -> None:
        self.spec, self.via, self.filename, self.lineno = spec, via, filename, lineno
        if filename is not None:
            where = f"{os.path.basename(filename)}, line {lineno}"
        else:
            where = "an object your module provides, called by the grader"
        super().__init__(f"forbidden built-in: your code uses {short_name(spec)} ({via}) at {where}; "
                         "this task asks you to write it yourself")

    def __reduce__(self) -> tuple:
        return (type(self), (self.spec, self.via, self.filename, self.lineno))


