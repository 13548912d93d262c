"""The 8x8 digits split and the MLP that ``train_mlp`` trains on it."""

import numpy as np
import pytest
import torch

from npdehw.models.digits import accuracy, load_digits_split, predict, train_mlp

N_SAMPLES = 1797
SHORT = 3  # Epochs for the seeding tests, which do not check accuracy.


@pytest.fixture(scope="module")
def split():
    """The default digits split."""
    return load_digits_split()


@pytest.fixture(scope="module")
def trained(split):
    """An MLP trained with the defaults on the training split."""
    x_train, _, y_train, _ = split
    return train_mlp(x_train, y_train)


def weights(module):
    """Return the module's parameters as a list of tensors."""
    return [parameter.detach().clone() for parameter in module.parameters()]


def test_split_sizes(split):
    """The split keeps every sample and at least 300 for testing."""
    x_train, x_test, y_train, y_test = split
    assert len(x_train) + len(x_test) == N_SAMPLES
    assert len(x_test) >= 300
    assert len(y_train) == len(x_train)
    assert len(y_test) == len(x_test)
    assert x_train.shape[1] == 64


def test_split_stratified(split):
    """Each class's share of the test set is within one sample of its share overall."""
    _, _, y_train, y_test = split
    labels = np.concatenate([y_train, y_test])
    expected = np.bincount(labels.astype(int)) * len(y_test) / len(labels)
    counts = np.bincount(y_test.astype(int), minlength=10)
    assert np.all(np.abs(counts - expected) <= 1.0)


def test_inputs_unit_range(split):
    """Inputs are float64 in [0, 1] and reach both ends."""
    x_train, x_test, _, _ = split
    inputs = np.concatenate([x_train, x_test])
    assert inputs.dtype == np.float64
    assert inputs.min() == 0.0
    assert inputs.max() == 1.0


def test_held_out_accuracy(split, trained):
    """The trained MLP classifies at least 95 % of the test split correctly."""
    _, x_test, _, y_test = split
    score = accuracy(trained, x_test, y_test)
    print(f"held-out accuracy {score:.4f}")
    assert score >= 0.95


def test_trained_module_form(trained):
    """The trained module is a float64 Linear, Tanh, Linear stack in eval mode."""
    assert [type(layer) for layer in trained] == [torch.nn.Linear, torch.nn.Tanh,
                                                  torch.nn.Linear]
    assert all(parameter.dtype == torch.float64 for parameter in trained.parameters())
    assert not trained.training


def test_predict_numpy_callable(split, trained):
    """A numpy callable predicts the same classes as the module it wraps."""
    _, x_test, _, _ = split

    def scores(inputs):
        with torch.no_grad():
            return trained(torch.as_tensor(inputs)).numpy()

    assert np.array_equal(predict(scores, x_test), predict(trained, x_test))


def test_same_seed_same_weights(split):
    """Two runs with the same seed give identical weights."""
    x_train, _, y_train, _ = split
    first = weights(train_mlp(x_train, y_train, epochs=SHORT, seed=5))
    second = weights(train_mlp(x_train, y_train, epochs=SHORT, seed=5))
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_other_seed_differs(split):
    """Runs with different seeds give different weights."""
    x_train, _, y_train, _ = split
    first = weights(train_mlp(x_train, y_train, epochs=SHORT, seed=5))
    second = weights(train_mlp(x_train, y_train, epochs=SHORT, seed=6))
    assert not torch.equal(first[0], second[0])


def test_global_rng_untouched(split):
    """Training leaves the global torch RNG state as it found it."""
    x_train, _, y_train, _ = split
    before = torch.get_rng_state()
    train_mlp(x_train, y_train, epochs=SHORT)
    assert torch.equal(torch.get_rng_state(), before)


def test_thread_count_restored(split):
    """Training leaves the torch thread count as it found it."""
    x_train, _, y_train, _ = split
    before = torch.get_num_threads()
    train_mlp(x_train, y_train, epochs=SHORT)
    assert torch.get_num_threads() == before


def test_weight_limit_clips(split):
    """With a weight limit, no weight or bias exceeds it."""
    x_train, _, y_train, _ = split
    module = train_mlp(x_train, y_train, epochs=SHORT, weight_limit=0.2)
    assert max(parameter.abs().max().item() for parameter in module.parameters()) <= 0.2


def test_unknown_activation_raises(split):
    """An unknown activation name raises ValueError."""
    x_train, _, y_train, _ = split
    with pytest.raises(ValueError, match="activation"):
        train_mlp(x_train, y_train, activation="swish")
