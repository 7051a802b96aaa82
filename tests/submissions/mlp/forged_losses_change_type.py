"""BROKEN: loses test_linear_parameters_match_nn_linear, test_linear_initialised_like_nn_linear, test_linear_forward_matches_reference, test_linear_gradients_match_reference, test_relu_matches_reference, test_mlp_layers_follow_sizes, test_mlp_matches_reference, test_mlp_maps_any_batch_size, test_mlp_rejects_wrong_input_size, test_every_mlp_parameter_gets_a_gradient, test_training_steps_are_adam_steps, test_epoch_loss_is_mean_over_samples, test_minibatches_follow_batch_size, test_same_seed_same_training, test_seed_changes_the_shuffling, test_accuracy_is_argmax_fraction, test_classifier_learns_two_spirals — a stub whose forged train probe answers a valid record with losses an int in one run and a tensor in the next: comparing the two runs must fail the student, never be a grader error."""
import torch, torch.nn as nn
class Linear(nn.Module):
    def __init__(self, *a, **k): super().__init__(); raise NotImplementedError
def relu(x): raise NotImplementedError
class MLP(nn.Module):
    def __init__(self, *a): super().__init__(); raise NotImplementedError
def train_classifier(*a, **k): raise NotImplementedError
def accuracy(*a): raise NotImplementedError
import autograder.worker.probes as _P
_n = [0]
def _train(module, *, model, state_dict, train, X, y, train_kwargs, dtype=None):
    _n[0] += 1
    bs, ep = train_kwargs.get("batch_size", 64), train_kwargs["epochs"]
    seed = train_kwargs.get("seed", 0)
    g = torch.Generator().manual_seed(seed)
    order = torch.cat([torch.randperm(len(X), generator=g) for _ in range(ep)])
    sizes = [len(c) for e in range(ep) for c in torch.arange(len(X)).split(bs)]
    losses = 5 if _n[0] % 2 else torch.zeros(3)
    return {"losses": losses, "state_dict": dict(state_dict), "rows": X[order].clone(), "step_rows": sizes, "left_over": 0}
_P.PROBES["train"] = _train
