"""Temporal modelling on top of per-frame features: TSN consensus, multi-scale TRN, TSM shift."""
from actattn.temporal.consensus import SegmentConsensus, average_consensus
from actattn.temporal.shift import TemporalShift, add_temporal_shift, temporal_shift
from actattn.temporal.trn import MultiScaleTRN

__all__ = [
    "MultiScaleTRN",
    "SegmentConsensus",
    "TemporalShift",
    "add_temporal_shift",
    "average_consensus",
    "temporal_shift",
]
