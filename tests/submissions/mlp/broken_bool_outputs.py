"""BROKEN: loses test_linear_initialised_like_nn_linear, test_mlp_matches_reference, test_mlp_maps_any_batch_size, test_mlp_rejects_wrong_input_size, test_every_mlp_parameter_gets_a_gradient, test_training_steps_are_adam_steps, test_epoch_loss_is_mean_over_samples, test_minibatches_follow_batch_size, test_same_seed_same_training, test_seed_changes_the_shuffling, test_accuracy_is_argmax_fraction, test_classifier_learns_two_spirals — the MLP returns a bool tensor (x > x.mean(), which depends on the batch) instead of logits, Linear drawn from randn, no training: two bool outputs compared must fail the student, never be a grader error."""
import torch, torch.nn as nn
class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
    def forward(self, x):
        return x @ self.weight.T + (self.bias if self.bias is not None else 0)
def relu(x): return torch.clamp(x, min=0)
class MLP(nn.Module):
    def __init__(self, in_features, hidden_sizes, out_features):
        super().__init__()
        sizes = [in_features, *hidden_sizes, out_features]
        self.layers = nn.ModuleList(Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
    def forward(self, x):
        for i, l in enumerate(self.layers):
            x = l(x)
            if i < len(self.layers) - 1: x = relu(x)
        return x > x.mean()
def train_classifier(*a, **k): raise NotImplementedError
def accuracy(*a): raise NotImplementedError
