"""Generic probes every assignment uses: run a module or function (forward and
backward), read its parameters, train it with the student's own training function."""

from __future__ import annotations

import contextlib
import types
from typing import Any, Callable, Iterator, Sequence

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook

from autograder.worker.probes import probe
from autograder.worker.spec import MODEL, Build, name_adopted_classes, resolve

#: The key of the marker a worker sends for a value that is not plain (`{NONTENSOR: "Liar"}`
#: for a tensor subclass, an nn.Module, a generator …): its type's name, never the value —
#: but for a numpy array or scalar of real numbers, whose numbers come along as a float64
#: tensor under `NUMBERS`, so that two of them can still be compared (`checks.modules.compare_nested`).
NONTENSOR = "__nontensor__"
NUMBERS = "numbers"


def describe(value: Any) -> str:
    """What a decoded reply's `value` is, in a few words for a message ("None", "a list",
    "an int", "a Liar (not a plain torch.Tensor)")."""
    if value is None:
        return "None"
    if isinstance(value, dict) and NONTENSOR in value:
        return f"{_article(str(value[NONTENSOR]))} (not a plain torch.Tensor)"
    kinds = (bool, int, float, str, list, tuple, dict)  # a reply's containers by their plain names
    return _article(next((kind.__name__ for kind in kinds if isinstance(value, kind)), type(value).__name__))


def _article(name: str) -> str:
    """`name` after "a" or "an"."""
    return f"{'an' if name[:1] in tuple('aeiouAEIOU') else 'a'} {name}"


def plain(value: Any) -> Any:
    """`value` with every tensor detached and copied; anything exotic becomes a marker.

    Only plain tensors, numbers, strings, None and containers of them leave a worker.
    """
    if isinstance(value, torch.Tensor):
        if type(value) is not torch.Tensor:  # a subclass could lie through __torch_function__
            return {NONTENSOR: type(value).__name__}
        return value.detach().clone()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        items = [plain(v) for v in value]
        return tuple(items) if type(value) is tuple else items
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if type(value).__module__ == "numpy" and getattr(getattr(value, "dtype", None), "kind", None) in tuple("biuf"):
        import numpy  # an ndarray or a scalar of real numbers (a np.float32 loss): its numbers, in float64

        return {NONTENSOR: type(value).__name__, NUMBERS: torch.from_numpy(numpy.array(value, dtype=numpy.float64))}
    return {NONTENSOR: type(value).__name__}


def tensors_in(value: Any) -> Iterator[torch.Tensor]:
    """Every tensor inside a (nested) output, in order."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from tensors_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from tensors_in(v)


def parameters_of(obj: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """`obj`'s parameters, each once, under its first name with no private part where it has
    one: a layer a private container owns first (`self._ff = nn.Sequential(...)`, then
    `self.linear1 = self._ff[0]`) is known by its public name, as it is when the container
    comes second — `named_parameters()` gives a shared parameter its first name only.

    Example:
        >>> m = torch.nn.Module(); m._ff = torch.nn.Sequential(torch.nn.Linear(2, 3)); m.linear1 = m._ff[0]
        >>> list(parameters_of(m)), [n for n, _ in m.named_parameters()]
        (['linear1.weight', 'linear1.bias'], ['_ff.0.weight', '_ff.0.bias'])
    """
    def private(name: str) -> bool:
        return any(part.startswith("_") for part in name.split("."))

    names: dict[int, str] = {}
    found: dict[int, torch.nn.Parameter] = {}
    for name, parameter in obj.named_parameters(remove_duplicate=False):
        key = id(parameter)
        if key not in names or (private(names[key]) and not private(name)):
            names[key] = name
        found.setdefault(key, parameter)
    return {names[key]: parameter for key, parameter in found.items()}


def build_model(module: Any, model: Build, state_dict: dict | None, dtype: torch.dtype | None, *,
                strict: bool = True) -> Any:
    """Construct `model` from `module` (trusted parts swapped in), cast it to `dtype`, load
    `state_dict`: every parameter the model has must be given, and a buffer not given keeps
    its own value (a private constant); strictly, no other entry may be given — with
    `strict=False` extra entries (e.g. a student's private buffers) are ignored."""
    obj = model.instantiate(module)
    name_adopted_classes(module, obj)
    if dtype is not None:
        obj.to(dtype)
    if state_dict is not None:
        own = obj.state_dict()
        parameters = set(parameters_of(obj))
        missing = sorted(k for k in set(own) - set(state_dict) if k in parameters)
        if missing:  # RuntimeError, as torch's own load_state_dict
            raise RuntimeError(f"Error(s) in loading state_dict for {type(obj).__name__}: Missing key(s) {missing[:3]} — the grader "
                               f"loads the reference's weights into your {type(obj).__name__}, which has parameters the "
                               "assignment's does not: keep exactly the parameters the assignment names")
        unexpected = sorted(set(state_dict) - set(own))
        if strict and unexpected:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(obj).__name__}: Unexpected key(s) {unexpected[:3]} — the "
                               f"grader loads the reference's weights into your {type(obj).__name__}, which lacks parameters the "
                               "assignment names")
        # a buffer of the student's own (a private constant) keeps its value
        obj.load_state_dict({k: state_dict[k] for k in own if k in state_dict}, strict=False)
    return obj


def _target(module: Any, obj: Any, call: str) -> Any:
    if call == "model":
        return obj
    if call.startswith("."):
        return getattr(obj, call[1:])
    return resolve(module, call)


@probe
def run(
    module: Any,
    *,
    model: Build | None = None,
    state_dict: dict | None = None,
    dtype: torch.dtype | None = None,
    call: str = "model",
    args: Sequence[Any] = (),
    kwargs: dict | None = None,
    grad_args: Sequence[int] = (),
    backward: bool = True,
    cotangent_seed: int = 1234,
    cotangent: torch.Tensor | None = None,
    inference: bool = False,
    calls_before: int = 0,
    args_after: bool = False,
) -> dict:
    """Call a module, one of its methods, or a function, then backpropagate.

    `call` is `"model"` (call the built model), `".name"` (a method of it) or the name of
    a function in `module`; `MODEL` in `args` stands for the built model.  The tensors
    at `grad_args` (or a tuple's tensors there: an LSTM's `(h, c)`) get `requires_grad`;
    the backward pass sends a fixed random cotangent through every floating output that
    requires grad — or `cotangent` for the first output and zeros for the others (e.g.
    one-hot at a position to get d out_i / d x).
    `inference`: the built model in eval mode and the call under `torch.no_grad()`, as a
    trained model predicts (no backward).  `calls_before`: the same call made that many
    times first, on copies of the same arguments — a model that keeps state from one
    call to the next (an RNN starting from the last call's state) answers differently.

    Returns `output`, `input_grads` (one per `grad_args`), `param_grads` (name → grad or
    None) and `param_shapes` (name → shape) of the built model; with `args_after`, the
    tensors (and tuples of tensors) among `args` as the call left them (`args_after`, None
    for the others), for the judge to see whether the call changed what it was given.
    """
    obj = build_model(module, model, state_dict, dtype) if model is not None else None
    call_args = []
    for i, a in enumerate(args):
        call_args.append(obj if isinstance(a, str) and a == MODEL else _copy(a, i in grad_args))
    if inference and isinstance(obj, torch.nn.Module):
        obj.eval()
    with torch.no_grad() if inference else contextlib.nullcontext():
        for _ in range(calls_before):
            _target(module, obj, call)(*[_copy(a, False) for a in call_args], **(kwargs or {}))
        out = _target(module, obj, call)(*call_args, **(kwargs or {}))

    params = parameters_of(obj) if isinstance(obj, torch.nn.Module) else {}
    if backward and not inference:
        outs = [t for t in tensors_in(out) if t.requires_grad and t.is_floating_point()]
        if outs:
            gen = torch.Generator().manual_seed(cotangent_seed)
            cots = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for t in outs]
            if cotangent is not None:
                cots = [cotangent.to(outs[0].dtype)] + [torch.zeros_like(c) for c in cots[1:]]
            torch.autograd.backward(outs, cots)
    return {
        "output": plain(out),
        "input_grads": [plain(_grad_of(call_args[i])) for i in grad_args],
        **({"args_after": [plain(a) if tensor_argument(a) else None for a in call_args]} if args_after else {}),
        "param_grads": {n: plain(p.grad) for n, p in params.items()},
        "param_shapes": {n: list(p.shape) for n, p in params.items()},
    }


def _copy(arg: Any, requires_grad: bool) -> Any:
    """A tensor argument, or a tuple of them (an LSTM's `(h, c)`), copied for the call; others as they are."""
    if isinstance(arg, torch.Tensor):
        return arg.detach().clone().requires_grad_(requires_grad)
    if tensor_argument(arg):
        return tuple(t.detach().clone().requires_grad_(requires_grad) for t in arg)
    return arg


def tensor_argument(arg: Any) -> bool:
    """A tensor, or a tuple of tensors (an LSTM's `(h, c)`): an argument the `run` probe copies and reports back."""
    return isinstance(arg, torch.Tensor) or isinstance(arg, tuple) and bool(arg) and all(isinstance(t, torch.Tensor) for t in arg)


def _grad_of(arg: Any) -> Any:
    """The gradient an argument received: a tensor's `.grad`, or a tuple of its tensors'."""
    return tuple(t.grad for t in arg) if isinstance(arg, tuple) else arg.grad


@probe
def state_dict(module: Any, *, model: Build, dtype: torch.dtype | None = None) -> dict:
    """The freshly built model's `state_dict` and its submodules' class names."""
    obj = build_model(module, model, None, dtype)
    return {
        "state_dict": plain(dict(obj.state_dict())),
        "param_shapes": {n: list(p.shape) for n, p in parameters_of(obj).items()},
        "submodules": {n: type(m).__name__ for n, m in obj.named_modules() if n},
    }


def _outside_vmap(tensor: torch.Tensor, batch_first: bool = True) -> torch.Tensor:
    """`tensor` as the code around a `torch.func.vmap` sees it: inside, a forward's input and
    output are per-sample views of a batch outside, and only that tensor is in the graph a
    backward runs through (`batch_first`: its batch dimension moved to the front, a copy
    outside that graph)."""
    while torch._C._functorch.is_batchedtensor(tensor):
        dim = torch._C._functorch.maybe_get_bdim(tensor)
        tensor = torch._C._functorch.get_unwrapped(tensor)
        tensor = tensor.movedim(dim, 0) if batch_first else tensor
    return tensor


class StepRecorder:
    """Records, while a training loop runs on `model`, which rows of its input every
    optimiser step trained on and, when asked, the trainable weights after every step.

    Every forward of the model whose output later receives a gradient contributes its
    input rows to the next optimiser step, whatever the loop does besides (extra forwards
    for logging, a forward per sample, `no_grad` evaluation).  The model's own `forward`
    is wrapped, not hooked: `model.forward(x)` skips the hooks, and a loop that calls it is
    as correct as one that calls `model(x)`; it is bound to the instance, so that a
    `copy.deepcopy(model)` records its own forwards.  A loop may also never call the
    model as a whole — `model.head(features)` on features it computed once, `for layer in
    model: h = layer(h)` — so the submodules holding trained parameters are wrapped too,
    and a step none of whose rows came through the model records the rows of the first
    such submodule (`step_entry` names it; the judge maps its inputs back to rows of X).

    Args:
        model: the model the loop trains.
        X: its inputs `(N, ...)` (for an empty first record of the right shape).
        trajectory: record the weights after each of the first `trajectory` steps (None:
            none) — the parameters that require a gradient when the loop starts, flattened
            in `named_parameters` order, one row per step, read from the model whose output
            the step's backward reached (the model, or a copy of it the loop trains) — for
            the judge to check each step against its own optimiser step from the weights
            the step before left.
    """

    def __init__(self, model: torch.nn.Module, X: torch.Tensor, trajectory: int | None = None) -> None:
        self.model, self.X, self.most = model, X, trajectory
        self.names = [n for n, p in parameters_of(model).items() if p.requires_grad]
        #: the model and the submodules that hold trained parameters, in `named_modules` order ("" the model)
        self.entries = [(name, module) for name, module in model.named_modules()
                        if not name or any(p.requires_grad for p in module.parameters())]
        self.trained_on = model  # the model, or the copy of it, whose output a backward last reached
        self.inside = 0  # how many calls of the model's own forward are running
        self.pending: list[tuple[int, torch.nn.Module, torch.Tensor]] = []
        self.steps: list[torch.Tensor] = []
        self.step_entry: list[str] = []
        self.weights: list[torch.Tensor] = []

    def _recorder_for(self, rank: int) -> Callable[..., Any]:
        def recording(module: Any, *args: Any, **kwargs: Any) -> Any:
            if rank and self.inside:  # a submodule called by the model's own forward: the model records
                return type(module).forward(module, *args, **kwargs)
            self.inside += rank == 0
            try:
                out = type(module).forward(module, *args, **kwargs)
            finally:
                self.inside -= rank == 0
            first = next((a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
            if isinstance(out, torch.Tensor) and first is not None:
                seen, rows = _outside_vmap(out, batch_first=False), _outside_vmap(first).detach().clone()
                if rank == 0 and rows.shape == self.X.shape[1:]:  # a forward per sample: one row
                    rows = rows.unsqueeze(0)
                if seen.requires_grad:  # only if a backward reaches `out`
                    seen.register_hook(lambda grad: self.pending.append((rank, module, rows)))
            return out
        return recording

    def _stepped(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        rank = min((r for r, _, _ in self.pending), default=0)  # the model itself, else the first submodule
        chosen = [(module, rows) for r, module, rows in self.pending if r == rank]
        self.steps.append(torch.cat([rows for _, rows in chosen]) if chosen else self.X[:0].clone())
        self.step_entry.append(self.entries[rank][0])
        if rank == 0 and chosen:
            self.trained_on = chosen[-1][0]
        self.pending.clear()
        if self.most is not None and len(self.weights) < self.most:
            # the weights of the model the step trained: a loop may train a copy and load it back at the end
            params = parameters_of(self.trained_on)
            self.weights.append(torch.cat([params[n].detach().reshape(-1) for n in self.names if n in params]))

    def __enter__(self) -> "StepRecorder":
        for rank, (_, module) in enumerate(self.entries):
            module.forward = types.MethodType(self._recorder_for(rank), module)
        self.handle = register_optimizer_step_post_hook(self._stepped)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.handle.remove()
        for _, module in self.entries:
            vars(module).pop("forward", None)

    def record(self) -> dict:
        """`rows` (every row trained on, step after step, concatenated), `step_rows` (how
        many rows each optimiser step trained on), `step_entry` (whose input those rows
        are: "" the model's, else a submodule's name), `left_over` (rows whose gradient no
        step used) and, when asked, `trajectory` (steps × trained weights)."""
        steps = self.steps
        if len({tuple(rows.shape[1:]) for rows in steps}) > 1:  # steps through different entries: X's rows only
            steps = [rows if rows.shape[1:] == self.X.shape[1:] else self.X[:0] for rows in steps]
        out = {
            "rows": torch.cat(steps) if steps else self.X[:0].clone(),
            "step_rows": [len(rows) for rows in steps],
            "step_entry": list(self.step_entry),
            "left_over": sum(len(rows) for _, _, rows in self.pending),
        }
        if self.most is not None:
            width = sum(p.numel() for n, p in parameters_of(self.model).items() if n in self.names)
            whole = self.weights and all(w.shape == (width,) for w in self.weights)  # a copy may lack a parameter
            out["trajectory"] = torch.stack(self.weights) if whole else torch.zeros(0, width)
        return out


@probe
def train(
    module: Any,
    *,
    model: Build,
    state_dict: dict | None,
    train: str,
    X: torch.Tensor,
    y: torch.Tensor,
    train_kwargs: dict,
    dtype: torch.dtype | None = None,
    trajectory: int | None = None,
) -> dict:
    """Train the built model with the module's own `train` function.

    Returns `losses` (what `train` returned) and the trained `state_dict` — the judge
    evaluates the weights itself (`predict` on a trusted model), so held-out inputs and
    their labels never reach the worker — and what the loop did, for the judge to check
    the arguments were honoured and the steps taken (`autograder.checks.replay`): the
    `StepRecorder`'s record, with the weights after each of the first `trajectory` steps
    when asked.
    """
    obj = build_model(module, model, state_dict, dtype)
    with StepRecorder(obj, X, trajectory) as recorder:
        losses = resolve(module, train)(obj, X, y, **train_kwargs)
    return {"losses": plain(losses), "state_dict": plain(dict(obj.state_dict())), **recorder.record()}


def adam_on_random_batches(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *, steps: int,
                            lr: float, batch_size: int, seed: int,
                            loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> dict:
    """The grader's own training loop for a student's model: `steps` Adam steps, each on
    `batch_size` rows of `inputs` (N, ...) / `targets` (N, ...) drawn with replacement from
    `seed`, minimising `loss(model(rows), their targets)`.  Returns the trained `state_dict`
    (the judge evaluates it on a trusted model, with held-out data)."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        rows = torch.randint(0, len(inputs), (batch_size,), generator=gen)
        logits, wanted = model(inputs[rows]), tuple(targets[rows].shape)
        if not isinstance(logits, torch.Tensor) or logits.dim() != len(wanted) + 1 or tuple(logits.shape[:-1]) != wanted:
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise ValueError(f"the model's output for a batch of {batch_size} is {shape}, not {wanted} + (classes,): the grader's "
                             "training loop takes one row of logits per target")  # (not the loss's own error, which names no model)
        batch_loss = loss(logits, targets[rows])
        optimizer.zero_grad()
        batch_loss.backward()
        optimizer.step()
    return {"state_dict": plain(dict(model.state_dict()))}


@probe
def predict(module: Any, *, model: Build, state_dict: dict, args: Sequence[Any], dtype: torch.dtype | None = None) -> dict:
    """The built model's output in eval mode, without a graph, given trained weights (every
    entry the model has must be there; extra ones are ignored).  Run by the judge on a
    trusted model to evaluate weights trained in a worker."""
    obj = build_model(module, model, state_dict, dtype, strict=False)
    obj.eval()
    with torch.no_grad():
        return {"output": plain(obj(*args))}
