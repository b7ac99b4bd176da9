"""Conjugate samples for ActX (Wang et al., BMVC 2021, Sec. 3.1-3.2 and 4; supplement Sec. 1): clips of
the same context without the action, mined, cached and inspectable (``actattn conjugates SOURCE``).

- :mod:`~actattn.conjugates.miners`: the three ways, on arrays: before and after the action
  (:func:`outside_action`), nearest negatives (:func:`nearest_negatives`), still images with the
  actors removed (:func:`remove_actor`, :func:`poisson_blend`).
- :mod:`~actattn.conjugates.sources`: the same on datasets: SynthHOI's lead-in and tail, any
  format with segments, feature maps of ``actattn extract``, VOC's still images (:class:`Mined`).
- :mod:`~actattn.conjugates.cache`: the JSON cache the training paths read (:class:`Conjugate`,
  :func:`save_pairs`, :func:`load_pairs`).
- :mod:`~actattn.conjugates.figure`: a picture of some pairs; :mod:`~actattn.conjugates.command`:
  the ``actattn conjugates`` command.
"""
from actattn.conjugates.cache import KINDS, Conjugate, load_pairs, relative_to, save_pairs
from actattn.conjugates.command import add_conjugates_parser
from actattn.conjugates.figure import pairs_figure
from actattn.conjugates.miners import BLEND_MARGIN, nearest_negatives, outside_action, poisson_blend, remove_actor
from actattn.conjugates.sources import (
    Mined,
    SampleClip,
    from_neighbours,
    from_segments,
    from_stills,
    from_synthhoi,
)
from actattn.data.records import sample_key

__all__ = ["BLEND_MARGIN", "KINDS", "Conjugate", "Mined", "SampleClip", "add_conjugates_parser", "from_neighbours",
           "from_segments", "from_stills", "from_synthhoi", "load_pairs", "nearest_negatives",
           "outside_action", "pairs_figure", "poisson_blend", "relative_to", "remove_actor", "sample_key", "save_pairs"]
