"""Tap-unfolded conv factors (mode S alternative) against the DC reduction."""

import numpy as np
import pytest
import torch

from lsa.gsa.factors import conv_dc, conv_taps, interfaces, static_factors, tap_channel_energies
from lsa.models.resnet import ResNet


def test_dc_is_taps_applied_to_a_constant_field_and_energies_sum_to_one():
    w = torch.randn(5, 4, 3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    T = conv_taps(w)
    E = np.kron(np.eye(4), np.ones((9, 1)))  # channel i -> every tap of channel i
    np.testing.assert_allclose(T @ E, conv_dc(w), atol=1e-13)
    _, _, Vt = np.linalg.svd(T, full_matrices=False)
    e = tap_channel_energies(Vt, 4, 9)
    np.testing.assert_allclose(e.sum(axis=1), 1.0, atol=1e-12)
    w1 = w[:, :, :1, :1]  # a 1 x 1 conv: the two reductions coincide
    np.testing.assert_allclose(conv_taps(w1), conv_dc(w1), atol=0)
    with pytest.raises(ValueError, match="c_in \\* taps"):
        tap_channel_energies(Vt, 3, 9)


def test_taps_factors_form_no_interface_but_dc_factors_do():
    torch.manual_seed(0)
    net = ResNet(in_channels=1, num_classes=3, widths=(8,), blocks=1).eval()
    dc, taps = static_factors(net), static_factors(net, conv="taps")
    assert [f.shape[1] for f in taps] == [f.shape[1] * 9 for f in dc]
    assert interfaces(dc)
    with pytest.raises(ValueError, match="no consecutive factors share a space"):
        interfaces(taps)
    with pytest.raises(ValueError, match="conv must be"):
        static_factors(net, conv="unfold")
