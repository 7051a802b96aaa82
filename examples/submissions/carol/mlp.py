"""Carol: a submission that crashes when imported (a leftover debugging line)."""

import torch
import torch.nn as nn

data = torch.load("/home/carol/Downloads/spirals.pt")  # only exists on Carol's laptop


class Linear(nn.Module):
    pass
