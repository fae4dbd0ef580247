"""The paper CNN's architecture: parameter counts, output shape, L2 as in Keras."""

from __future__ import annotations

import pytest
import torch

from wimpsift.errors import ConfigError
from wimpsift.models.cnn import CNNArchitecture, PaperCNN, count_parameters
from wimpsift.models.seeded import Dropout


def test_paper_configuration_parameter_count_75x75():
    # The paper's final model: 1 conv block, 16 filters 3x3, 2x2 pooling that halves.
    # conv:   3*3*1*16 + 16           =     160
    # 75 -> 73 (3x3, no padding) -> 36 (pool 2, stride 2); flatten 36*36*16 = 20,736
    # dense:  20,736*32 + 32          = 663,584
    # output: 32*1 + 1                =      33
    # total                           = 663,777
    model = PaperCNN((1, 75, 75))
    assert count_parameters(model) == 160 + 663_584 + 33 == 663_777


def test_parameter_count_other_settings():
    # hit/peak images, 50 x 100 (H x W): 48x98 -> 24x49; 24*49*16 = 18,816
    assert count_parameters(PaperCNN((1, 50, 100))) == 160 + (18_816 * 32 + 32) + 33
    # notebook pooling (stride 1) on 75x75: 73 -> 72; 72*72*16 = 82,944
    arch = CNNArchitecture(pool_stride=1)
    assert count_parameters(PaperCNN((1, 75, 75), arch)) == 160 + (82_944 * 32 + 32) + 33
    # three blocks, halving: 75->73->36->34->17->15->7; 7*7*16 = 784
    arch = CNNArchitecture(n_conv_layers=3)
    convs = 160 + 2 * (3 * 3 * 16 * 16 + 16)
    assert count_parameters(PaperCNN((1, 75, 75), arch)) == convs + (784 * 32 + 32) + 33


def test_forward_shape_and_l2_penalty_is_keras_sum_of_squares():
    model = PaperCNN((3, 20, 20), CNNArchitecture(n_conv_layers=2))
    assert model(torch.rand(5, 3, 20, 20)).shape == (5,)
    convs = sum(c.weight.pow(2).sum() for c in model.convs)
    dense = model.dense.weight.pow(2).sum() + model.dense.bias.pow(2).sum()
    expected = 0.005 * convs + 0.001 * dense
    assert torch.allclose(model.l2_penalty(), expected)


def test_keras_initialisation_zero_biases():
    model = PaperCNN((1, 20, 20))
    assert torch.count_nonzero(model.dense.bias) == 0
    assert torch.count_nonzero(model.output.bias) == 0


@pytest.mark.parametrize("shape", [(75, 75), (0, 75, 75), (1, -1, 5)])
def test_bad_input_shape(shape):
    with pytest.raises(ConfigError, match="input_shape"):
        PaperCNN(shape)


def test_image_too_small_for_three_blocks():
    with pytest.raises(ConfigError, match="too small"):
        PaperCNN((1, 8, 8), CNNArchitecture(n_conv_layers=3))


def test_architecture_rejects_unknown_and_out_of_range_settings():
    with pytest.raises(ValueError):
        CNNArchitecture(n_conv_layers=4)
    with pytest.raises(ValueError):
        CNNArchitecture(filters=16)  # typo: extra="forbid"


def test_dropout_draws_from_its_own_generator():
    before = torch.get_rng_state()
    x = torch.ones(200_000)
    drop = Dropout(0.25, torch.Generator().manual_seed(1))
    out = drop(x)
    assert torch.equal(torch.get_rng_state(), before)
    # inverted dropout: kept values scaled by 1/(1-p), a fraction 1-p kept, mean preserved
    assert out.unique().tolist() == [0.0, pytest.approx(4 / 3)]
    assert abs(float((out > 0).float().mean()) - 0.75) < 5 * (0.75 * 0.25 / x.numel()) ** 0.5
    assert torch.equal(out, Dropout(0.25, torch.Generator().manual_seed(1))(x))
    assert not torch.equal(out, drop(x))  # the generator moved on
    assert torch.equal(drop.eval()(x), x)


def test_initial_weights_come_from_the_generator():
    before = torch.get_rng_state()
    a = PaperCNN((1, 20, 20), generator=torch.Generator().manual_seed(4))
    b = PaperCNN((1, 20, 20), generator=torch.Generator().manual_seed(4))
    c = PaperCNN((1, 20, 20), generator=torch.Generator().manual_seed(5))
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a.dense.weight, b.dense.weight)
    assert not torch.equal(a.dense.weight, c.dense.weight)
    # Keras' Glorot-uniform: |w| <= sqrt(6 / (fan_in + fan_out)), zero biases
    fan_in, fan_out = a.dense.weight.shape[1], a.dense.weight.shape[0]
    assert float(a.dense.weight.detach().abs().max()) <= (6 / (fan_in + fan_out)) ** 0.5
    assert float(a.dense.bias.detach().abs().max()) == 0.0
