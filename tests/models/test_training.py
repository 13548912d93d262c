"""Each optimizer must learn, early stopping must stop, and a stopped run must resume."""

import numpy as np
import pytest
import torch

from npdehw.errors import SpecError
from npdehw.models.parametrize import BoundedPositive
from npdehw.models.training import TrainingError, TrainSpec, epoch_order, fit

# A least-squares problem with known weights: y = X w_true, 40 samples, 3 weights.
_RNG = np.random.default_rng(3)
_X = torch.from_numpy(_RNG.normal(size=(40, 3)))
_W_TRUE = torch.tensor([0.5, -1.5, 2.0], dtype=torch.float64)
_Y = _X @ _W_TRUE


def _problem(spec):
    weight = torch.zeros(3, dtype=torch.float64, requires_grad=True)

    def batches(epoch):
        for index in epoch_order(len(_X), spec, epoch):
            yield lambda index=index: torch.mean((_X[index] @ weight - _Y[index]) ** 2)

    return weight, batches


@pytest.mark.parametrize("optimizer, rate, epochs, batch", [
    ("sgd", 0.05, 200, 8), ("adam", 0.05, 300, 0), ("lbfgs", 1.0, 5, 0)])
def test_optimizer_recovers_known_weights(optimizer, rate, epochs, batch):
    spec = TrainSpec(optimizer=optimizer, learning_rate=rate, epochs=epochs, batch_size=batch)
    weight, batches = _problem(spec)
    history = fit([weight], batches, spec, progress=False)
    assert history.loss[-1] < 1e-3 * history.loss[0]
    assert torch.allclose(weight.detach(), _W_TRUE, atol=1e-2)


def test_same_seed_gives_same_weights():
    results = []
    for _ in range(2):
        spec = TrainSpec(optimizer="sgd", learning_rate=0.05, epochs=20, batch_size=5, seed=7)
        weight, batches = _problem(spec)
        fit([weight], batches, spec, progress=False)
        results.append(weight.detach().clone())
    assert torch.equal(results[0], results[1])


def test_early_stopping_keeps_best_parameters():
    # The validation value is lowest after epoch 3 and rises afterwards.
    weight = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    spec = TrainSpec(optimizer="sgd", learning_rate=0.1, momentum=0.0, epochs=50, patience=4)
    history = fit([weight], lambda e: [lambda: -weight.sum()], spec,
                  validate=lambda: float((weight - 0.3) ** 2), progress=False)
    assert history.stopped_early
    assert len(history.loss) == 7
    assert history.best_epoch == 3
    assert weight.item() == pytest.approx(0.3)


def test_interrupted_run_resumes_and_matches_uninterrupted(tmp_path):
    spec = TrainSpec(optimizer="adam", learning_rate=0.05, epochs=30, batch_size=8, seed=2)
    weight, batches = _problem(spec)
    whole = fit([weight], batches, spec, progress=False)
    expected = weight.detach().clone()

    weight, batches = _problem(spec)
    checkpoint = tmp_path / "train.pt"

    def stopping(epoch):
        if epoch == 12:
            raise KeyboardInterrupt
        return batches(epoch)

    with pytest.raises(KeyboardInterrupt):
        fit([weight], stopping, spec, checkpoint=checkpoint, fingerprint="a", progress=False)
    weight, batches = _problem(spec)
    resumed = fit([weight], batches, spec, checkpoint=checkpoint, fingerprint="a",
                  progress=False)
    assert resumed.resumed_at == 12
    assert resumed.loss == pytest.approx(whole.loss, rel=1e-12)
    assert torch.allclose(weight.detach(), expected, rtol=1e-12, atol=1e-15)


def test_checkpoint_of_other_settings_is_ignored(tmp_path):
    spec = TrainSpec(optimizer="adam", learning_rate=0.05, epochs=5)
    weight, batches = _problem(spec)
    fit([weight], batches, spec, checkpoint=tmp_path / "c.pt", fingerprint="a", progress=False)
    weight, batches = _problem(spec)
    history = fit([weight], batches, spec, checkpoint=tmp_path / "c.pt", fingerprint="b",
                  progress=False)
    assert history.resumed_at == 0
    assert len(history.loss) == 5


def test_diverging_loss_is_reported():
    spec = TrainSpec(optimizer="sgd", learning_rate=1e3, momentum=0.0, epochs=50)
    weight, batches = _problem(spec)
    with pytest.raises(TrainingError, match="learning_rate"):
        fit([weight], batches, spec, progress=False)


@pytest.mark.parametrize("field, value", [("optimizer", "rmsprop"), ("learning_rate", 0.0),
                                          ("epochs", 0), ("patience", -1)])
def test_bad_spec_names_the_key(field, value):
    with pytest.raises(SpecError) as info:
        TrainSpec(**{field: value})
    assert info.value.key == field


def test_bounded_values_stay_in_range_under_any_step():
    values = BoundedPositive([1e-5, 5e-5], 1e-6, 1e-4)
    with torch.no_grad():
        values.raw.add_(torch.tensor([1e6, -1e6], dtype=torch.float64))
    result = values().detach().numpy()
    assert result.min() >= 1e-6
    assert result.max() <= 1e-4
    values.set_values([2e-6, 7e-5])
    assert values().detach().numpy() == pytest.approx([2e-6, 7e-5], rel=1e-9)


def test_resume_after_early_stop(tmp_path):
    weight = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    spec = TrainSpec(optimizer="sgd", learning_rate=0.1, momentum=0.0, epochs=50, patience=4)

    def train():
        return fit([weight], lambda e: [lambda: -weight.sum()], spec,
                   validate=lambda: float((weight - 0.3) ** 2),
                   checkpoint=tmp_path / "c.pt", progress=False)

    first = train()
    again = train()
    assert again.stopped_early
    assert len(again.loss) == len(first.loss) == 7
    assert weight.item() == pytest.approx(0.3)
