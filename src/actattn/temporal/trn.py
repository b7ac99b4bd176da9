"""Multi-scale Temporal Relation Network (TRN), as the Dual Attention Network paper uses it.

An n-frame relation sums g_theta over temporally ordered n-tuples of frame features and maps
the sum through h_phi (eq. 3); the video is the sum of the 2-frame to T-frame relations (eq. 4).
DAN, Section 3.1: g is a two-layer MLP with 256 units per layer, h a two-layer MLP whose output
matches the number of classes, no dropout in the heads.

Where this differs from the reference code (zhoubolei/TRN-pytorch, REFERENCE_NOTES.md 5):
- The reference merges g and h into one MLP per scale (ReLU-Linear-ReLU-Linear) applied to each
  tuple, and sums the tuples' logits. Here g and h are separate two-layer MLPs and the sum over
  tuples is taken between them, h(sum g), as eq. 3 writes it.
- The reference draws the tuples of every scale but the largest at random on every forward
  pass, evaluation included, so its test outputs are not reproducible. That is not replicated:
  in training the tuples come from this module's own generator seeded with `seed`; in
  evaluation every tuple is used, in the expectation of the training draw (see
  `MultiScaleTRN.tuple_sum`).
"""
from __future__ import annotations

from itertools import combinations

import torch
from einops import rearrange
from torch import Tensor, nn

FrameTuple = tuple[int, ...]


class MultiScaleTRN(nn.Module):
    """Frame features (B, T, D) with T = `num_frames` -> class logits (B, num_classes).

    Scales n = 2 .. num_frames, each with its own g_theta (n*D -> 256 -> 256, ReLU after each
    layer) and h_phi (256 -> 256 -> num_classes, ReLU between), shared by the tuples of that
    scale. Tuples are `itertools.combinations` of frame indices: ordered, no repeats; the
    num_frames scale has a single tuple. The sum of eq. 3 runs over:
    - training: `num_tuples` tuples per scale (all of them where a scale has no more), drawn
      without replacement by a `torch.Generator` seeded with `seed`, which advances on every
      call, so each step sees new tuples and a run with the same seed sees the same sequence
      (the generator's state is in the state dict, so a resumed run goes on drawing what an
      unbroken one would);
    - evaluation: every tuple of the scale, averaged and multiplied by the number drawn in
      training. That is the expectation of the training sum over draws, deterministic, with the
      same magnitude as in training. h_phi is applied to that expectation, so the output is
      h_phi(E[sum g_theta]); E[h_phi(sum g_theta)] would need every subset of tuples (54,740 at
      scale 4 of TRN-8). The paper is silent on evaluation and the reference draws at random.
    Weight initialisation uses the global torch RNG as usual; `seed` only drives tuple sampling.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        num_frames: int,
        *,
        bottleneck: int = 256,
        num_tuples: int = 3,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if num_frames < 2:
            raise ValueError(f"MultiScaleTRN needs num_frames >= 2 for a 2-frame relation, got {num_frames}")
        if num_tuples < 1:
            raise ValueError(f"num_tuples must be >= 1, got {num_tuples}")
        self.num_frames = num_frames
        self.num_tuples = num_tuples
        self.scales = list(range(2, num_frames + 1))
        self.relation_tuples: dict[int, list[FrameTuple]] = {
            scale: list(combinations(range(num_frames), scale)) for scale in self.scales
        }
        self.g_theta = nn.ModuleDict({
            str(scale): nn.Sequential(
                nn.Linear(scale * in_features, bottleneck), nn.ReLU(),
                nn.Linear(bottleneck, bottleneck), nn.ReLU(),
            )
            for scale in self.scales
        })
        self.h_phi = nn.ModuleDict({
            str(scale): nn.Sequential(
                nn.Linear(bottleneck, bottleneck), nn.ReLU(),
                nn.Linear(bottleneck, num_classes),
            )
            for scale in self.scales
        })
        self.generator = torch.Generator().manual_seed(seed)

    def get_extra_state(self) -> Tensor:
        """The tuple generator's state, saved with the weights."""
        return self.generator.get_state()

    def set_extra_state(self, state: Tensor) -> None:
        self.generator.set_state(state.cpu())

    def sample_tuples(self, scale: int) -> list[FrameTuple]:
        """A training draw: `num_tuples` tuples of a scale (all where it has no more), advancing the generator."""
        tuples = self.relation_tuples[scale]
        if len(tuples) <= self.num_tuples:
            return tuples
        chosen = torch.randperm(len(tuples), generator=self.generator)[: self.num_tuples]
        return [tuples[i] for i in sorted(chosen.tolist())]

    def tuple_features(self, x: Tensor, scale: int, tuples: list[FrameTuple]) -> Tensor:
        """g_theta(f_k1, ..., f_kn) for each tuple; x (B, T, D) -> (B, len(tuples), bottleneck)."""
        index = torch.tensor(tuples, device=x.device)
        return self.g_theta[str(scale)](rearrange(x[:, index], "b m n d -> b m (n d)"))

    def tuple_sum(self, x: Tensor, scale: int) -> Tensor:
        """The sum inside h_phi in eq. 3, (B, bottleneck): over a training draw, or its expectation in eval."""
        if self.training:
            return self.tuple_features(x, scale, self.sample_tuples(scale)).sum(dim=1)
        tuples = self.relation_tuples[scale]
        drawn = min(self.num_tuples, len(tuples))
        return drawn * self.tuple_features(x, scale, tuples).mean(dim=1)

    def relation(self, x: Tensor, scale: int) -> Tensor:
        """R_n(V) = h_phi(sum over tuples of g_theta(f_k1, ..., f_kn)); x (B, T, D) -> (B, K)."""
        return self.h_phi[str(scale)](self.tuple_sum(x, scale))  # eq. 3

    def forward(self, x: Tensor) -> Tensor:
        """Frame features (B, T, D) -> logits (B, num_classes), summed over scales 2..T."""
        if x.ndim != 3 or x.shape[1] != self.num_frames:
            raise ValueError(f"MultiScaleTRN: expected (B, {self.num_frames}, D), got shape {tuple(x.shape)}")
        return sum(self.relation(x, scale) for scale in self.scales)  # eq. 4
