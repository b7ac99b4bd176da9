import pytest
import torch

from actattn.temporal import SegmentConsensus, average_consensus


def test_consensus_is_the_mean_over_segments():
    x = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [5.0, 1.0]]])  # (B=1, T=3, K=2)
    assert torch.equal(average_consensus(x), torch.tensor([[3.0, 3.0]]))


def test_consensus_keeps_trailing_dims():
    x = torch.randn(2, 4, 3, 5)
    assert average_consensus(x).shape == (2, 3, 5)
    assert torch.allclose(SegmentConsensus()(x), x.sum(dim=1) / 4)


def test_consensus_needs_a_segment_dim():
    with pytest.raises(ValueError, match=r"\(B, T, ...\)"):
        average_consensus(torch.randn(5))
