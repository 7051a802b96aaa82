"""CORRECT: relu compiled with torch.compile (the worker then imports the real torch._dynamo), else as correct_sequential."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        bound = in_features ** -0.5
        self.weight = nn.Parameter(torch.rand(out_features, in_features) * 2 * bound - bound)
        self.bias = nn.Parameter(torch.rand(out_features) * 2 * bound - bound) if bias else None

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        if self.bias is None:
            out = torch.matmul(flat, self.weight.t())
        else:
            out = torch.addmm(self.bias, flat, self.weight.t())
        return out.reshape(*x.shape[:-1], self.weight.shape[0])


@torch.compile(backend="eager", dynamic=True)  # no C compiler needed: dynamo traces, eager runs
def relu(x):
    return x.clamp_min(0)


class ReLU(nn.Module):
    def forward(self, x):
        return relu(x)


class MLP(nn.Module):
    def __init__(self, in_features, hidden_sizes, out_features):
        super().__init__()
        self.in_features = in_features
        mods = []
        prev = in_features
        for h in hidden_sizes:
            mods.append(Linear(prev, h))
            prev = h
        mods.append(Linear(prev, out_features))
        self.layers = nn.Sequential(*mods)

    def forward(self, x):
        if x.size(-1) != self.in_features:
            raise ValueError(f"expected {self.in_features} features")
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = relu(x)
        return x


def train_classifier(model, X, y, *, epochs, lr, batch_size=64, seed=0):
    loader = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    out = []
    for _ in range(epochs):
        running, seen = 0.0, 0
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += loss.item() * xb.shape[0]
            seen += xb.shape[0]
        out.append(running / seen)
    return out


def accuracy(model, X, y):
    model_out = model(X).detach()
    return (model_out.argmax(dim=-1) == y).float().mean().item()
