"""BROKEN: loses test_linear_parameters_match_nn_linear, test_linear_initialised_like_nn_linear, test_linear_forward_matches_reference, test_linear_gradients_match_reference, test_relu_matches_reference, test_mlp_layers_follow_sizes, test_mlp_matches_reference, test_mlp_maps_any_batch_size, test_mlp_rejects_wrong_input_size, test_every_mlp_parameter_gets_a_gradient, test_training_steps_are_adam_steps, test_epoch_loss_is_mean_over_samples, test_minibatches_follow_batch_size, test_same_seed_same_training, test_seed_changes_the_shuffling, test_accuracy_is_argmax_fraction, test_classifier_learns_two_spirals — Linear registers empty parameters (a lazy initialisation never done), everything else a stub: the initialisation test must fail on their shape, never be a grader error."""
import torch, torch.nn as nn
class Linear(nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(0))
        self.bias = nn.Parameter(torch.empty(0)) if bias else None
    def forward(self, x):
        raise NotImplementedError
def relu(x): raise NotImplementedError
class MLP(nn.Module):
    def __init__(self, *a): super().__init__(); raise NotImplementedError
def train_classifier(*a, **k): raise NotImplementedError
def accuracy(*a): raise NotImplementedError
