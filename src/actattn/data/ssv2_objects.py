"""Something-Something V2 object labels: placeholders -> noun clusters (+ a null label).

The Dual Attention Network (Xiao et al., ICCV 2019, Sec. 2.4 and 3.2) predicts the first and
second object of each video with two softmax classifiers, using the workers' placeholder texts
merged into 307 clusters (the paper's rule is in its supplementary material, not available here)
and a null label for one-object actions. This module rebuilds such a vocabulary:

1. :func:`normalise_phrase`: lowercase; punctuation other than word-internal ``'`` and ``-``
   becomes a space; possessives drop the possessor (``"my mom's phone"`` -> ``"phone"``,
   ``"mom's"`` -> ``"mom"``); leading determiners and quantities are stripped (``a an the some
   this my ... one two ... many few``, digits) together with partitives and their ``of``
   (``"a piece of paper"`` -> ``"paper"``, ``"one of many similar things"`` -> ``"similar
   things"``); the phrase is cut before its first post-modifier (``of on in with to ... that
   similar up down``: ``"box of juice"`` -> ``"box"``, ``"thumb up"`` -> ``"thumb"``); the last
   word is made singular by :func:`singular`. A phrase of determiners and numbers only
   (``"3"``, ``"three"``, the ``[number of]`` slot) normalises to ``""``: not an object.
2. :func:`cluster_name`: the head noun, i.e. the last word, or the last two words written as one
   when that word is known (``"tooth paste"`` -> ``"toothpaste"`` if ``"toothpaste"`` occurs),
   then mapped through the small synonym table ``SYNONYMS`` (``iphone``, ``cellphone`` ->
   ``phone``; ``quarter`` -> ``coin`` ...). So ``"a black phone"``, ``"mobile phone"`` and
   ``"iPhone"`` share the cluster ``phone``, as the paper's example asks; a hyphenated head not
   in the table keeps its last part (``plastic-container`` -> ``container``). The literal
   ``"something"`` keeps its own cluster.
3. :func:`build_object_vocabulary` counts the clusters of the labelled placeholders of the training
   split and, asked for ``num_clusters`` object clusters (307 for the paper), keeps the
   ``num_clusters - 1`` most frequent (ties by name) and merges the rest into ``"<other>"``, which
   is the last of the ``num_clusters``; the null label is not an object cluster, so the classifier
   has ``num_clusters + 1`` outputs. The paper says only that nouns "describing the same or
   similar objects" are merged "for a total of 307 object clusters" and that a null label stands in
   for the second object of one-object actions; it does not say whether the 307 count the null
   label. Counting it out, and merging the long tail by frequency, is this module's choice.

Labels (:meth:`ObjectVocabulary.labels`): the placeholders that normalise to ``""`` are skipped;
the first remaining one is the first object, the second the second object or ``"<null>"``; any
further one (394 of 24,777 validation entries have three placeholders, e.g. ``Tipping [something]
with [something in it] over, so [something in it] falls out``) is dropped; placeholders none of
which names an object give ``("<other>", "<null>")``. An unseen phrase gets its cluster by the
same rule, and ``"<other>"`` when that cluster is not in the vocabulary.

File (:meth:`ObjectVocabulary.save`, JSON, meant to be read and edited): ``"clusters"``: cluster
name -> id (``"<null>"`` and ``"<other>"`` included), and ``"phrases"``: normalised phrase ->
cluster name. :meth:`ObjectVocabulary.load` normalises the phrase keys again, so a key written as
raw text (``"A Black Phone"``) also works, and checks that every cluster has an id and the ids are
``0 .. n-1``.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from actattn.data.ssv2 import Entry

NULL = "<null>"
OTHER = "<other>"

NUMBERS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve dozen hundred first second third".split()
)
DETERMINERS = NUMBERS | frozenset(
    "a an the some any this that these those another other my your his her its our their "
    "many several few couple lots all both each every more most much multiple various of".split()
)
PARTITIVES = frozenset(
    "piece pieces bit bits pair pairs set sets sheet sheets handful bunch bunches lot lots kind kinds "
    "type types sort sorts number amount slice slices strip strips chunk chunks roll rolls stack pile".split()
)
POST_MODIFIERS = frozenset(
    "of on in with from for to into onto at by under inside near without that which who similar up down".split()
)
INVARIANT = frozenset(
    "glasses sunglasses scissors pants jeans trousers shorts pajamas pyjamas tongs pliers tweezers "
    "clothes lens news series species dice goggles binoculars canvas".split()
)
IRREGULAR = {
    "knives": "knife", "leaves": "leaf", "shelves": "shelf", "halves": "half", "loaves": "loaf",
    "wolves": "wolf", "feet": "foot", "teeth": "tooth", "mice": "mouse", "children": "child",
    "people": "person", "men": "man", "women": "woman", "tomatoes": "tomato", "potatoes": "potato",
    "mangoes": "mango",
}
SYNONYMS = {
    "cellphone": "phone", "smartphone": "phone", "iphone": "phone", "mobile": "phone", "telephone": "phone",
    "control": "remote",
    "tennisball": "ball", "football": "ball", "basketball": "ball", "baseball": "ball",
    "spectacles": "glasses", "eyeglasses": "glasses", "sunglasses": "glasses",
    "teaspoon": "spoon", "tablespoon": "spoon",
    "post-it": "note", "postit": "note",
    "quarter": "coin", "penny": "coin", "nickel": "coin", "dime": "coin",
    "sharpie": "marker", "highlighter": "marker",
    "biro": "pen", "ballpen": "pen",
    "t-shirt": "shirt", "tshirt": "shirt",
    "knapsack": "backpack", "rucksack": "backpack",
    "earphone": "headphone", "earbud": "headphone",
    "sellotape": "tape", "tumbler": "glass", "tv": "television", "kleenex": "tissue",
}


def singular(word: str) -> str:
    """English plural -> singular with a small rule set (only words of 4+ letters change).

    ``INVARIANT`` words stay (``glasses``, ``scissors``); ``IRREGULAR`` ones are looked up
    (``knives``); ``-ies`` -> ``-y`` (``diaries``; 5+ letters, so ``ties`` -> ``tie``);
    ``-ches -shes -xes -zes -sses`` drop ``es``; other ``-s`` drop it unless the word ends in
    ``ss``, ``us`` or ``is`` (``glass``, ``cactus``, ``tennis`` stay).
    """
    if len(word) < 4 or word in INVARIANT:
        return word
    if word in IRREGULAR:
        return IRREGULAR[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "zes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _drop_possessors(words: list[str]) -> list[str]:
    """Drop everything up to the last possessive (``mom's phone`` -> ``phone``); a final one loses 's."""
    for i in range(len(words) - 1, -1, -1):
        if words[i].endswith("'s"):
            if i < len(words) - 1:
                return words[i + 1:]
            return [*words[:-1], words[-1].removesuffix("'s")]
    return words


def _strip_quantities(words: list[str]) -> list[str]:
    """Drop leading determiners, numbers and partitives with their ``of``."""
    while words:
        if words[0] in DETERMINERS or words[0].isdigit():
            words = words[1:]
        elif words[0] in PARTITIVES and len(words) > 2 and words[1] == "of":
            words = words[2:]
        else:
            break
    return words


def normalise_phrase(text: str) -> str:
    """A placeholder text -> its normalised noun phrase (``""`` when it names no object).

    See the module docstring: lowercase, punctuation, possessives, determiners and quantities,
    post-modifiers cut, last word singular. ``"A pen"``, ``"pens"`` -> ``"pen"``.
    """
    text = re.sub(r"[^\w\s'-]|_", " ", text.lower().replace("\u2019", "'"))
    words = [word.strip("'-") for word in text.split()]
    words = _drop_possessors([word for word in words if word])
    words = _strip_quantities([word.replace("'", "") for word in words])
    for i, word in enumerate(words[1:], start=1):
        if word in POST_MODIFIERS:
            words = words[:i]
            break
    if not words:
        return ""
    return " ".join([*words[:-1], singular(words[-1])])


def cluster_name(phrase: str, known: Collection[str] = ()) -> str:
    """A normalised phrase -> its cluster: the head noun through ``SYNONYMS``.

    The head is the last word, or the last two written together when that word is in ``known``
    (``"tooth paste"`` -> ``"toothpaste"``); of a hyphenated head not in ``SYNONYMS`` (as
    ``post-it`` is) its last part (``"plastic-container"`` -> ``"container"``).
    """
    words = phrase.split()
    if not words:
        raise ValueError(f"cluster_name: empty phrase {phrase!r} names no object")
    head = words[-1]
    if len(words) > 1 and words[-2] + words[-1] in known:
        head = words[-2] + words[-1]
    if head not in SYNONYMS:
        head = head.split("-")[-1]
    return SYNONYMS.get(head, head)


def object_phrases(placeholders: Iterable[str]) -> list[str]:
    """The normalised placeholders that name objects, in order (``[number of]`` slots skipped)."""
    return [phrase for phrase in map(normalise_phrase, placeholders) if phrase]


@dataclass
class ObjectVocabulary:
    """Object clusters with ids, and the normalised phrases that map to them.

    ``clusters``: cluster name -> id, ids ``0 .. n-1``, with ``"<null>"`` and ``"<other>"``.
    ``phrases``: normalised phrase -> cluster name (a key of ``clusters``).
    ``len(vocabulary)`` counts every id, the null label included: the head's ``num_objects``.
    """

    clusters: dict[str, int]
    phrases: dict[str, str]

    def __post_init__(self) -> None:
        for name in (NULL, OTHER):
            if name not in self.clusters:
                raise ValueError(f"ObjectVocabulary: cluster {name!r} is missing")
        ids = list(self.clusters.values())
        if not all(type(i) is int for i in ids) or sorted(ids) != list(range(len(ids))):
            raise ValueError(f"ObjectVocabulary: cluster ids must be the integers 0..{len(ids) - 1}, each once; "
                             f"got {sorted(ids, key=str)}")
        missing = sorted({name for name in self.phrases.values() if name not in self.clusters})
        if missing:
            raise ValueError(f"ObjectVocabulary: phrases map to clusters without an id: {missing}")

    def __len__(self) -> int:
        return len(self.clusters)

    @property
    def null(self) -> int:
        """The id of the null label (second object of one-object actions)."""
        return self.clusters[NULL]

    @property
    def other(self) -> int:
        """The id of rare or unseen clusters."""
        return self.clusters[OTHER]

    @property
    def names(self) -> list[str]:
        """Cluster names in id order."""
        return sorted(self.clusters, key=self.clusters.__getitem__)

    def label(self, text: str) -> int:
        """One placeholder text -> its cluster id (``"<other>"`` for an unknown cluster)."""
        phrase = normalise_phrase(text)
        if not phrase:
            raise ValueError(f"ObjectVocabulary.label: {text!r} names no object (it normalises to '')")
        return self._phrase_id(phrase)

    def labels(self, placeholders: list[str]) -> tuple[int, int]:
        """An entry's placeholders -> (first object, second object or null); see the module docstring.

        Placeholders none of which names an object (``["some"]``) give ``("<other>", "<null>")``;
        an empty list (a test-split entry) raises ValueError.
        """
        if not placeholders:
            raise ValueError("ObjectVocabulary.labels: no placeholders (a test-split entry has none)")
        phrases = object_phrases(placeholders)
        first = self._phrase_id(phrases[0]) if phrases else self.other
        second = self._phrase_id(phrases[1]) if len(phrases) > 1 else self.null
        return first, second

    def _phrase_id(self, phrase: str) -> int:
        """A normalised phrase -> id: through ``phrases``, else by :func:`cluster_name`, else other."""
        name = self.phrases.get(phrase)
        if name is None:
            name = cluster_name(phrase, known=set(self.clusters) | set(self.phrases))
        return self.clusters.get(name, self.other)

    def save(self, path: str | Path) -> None:
        """Write the JSON file: clusters in id order, phrases grouped by cluster."""
        phrases = dict(sorted(self.phrases.items(), key=lambda item: (item[1], item[0])))
        data = {"clusters": {name: self.clusters[name] for name in self.names}, "phrases": phrases}
        Path(path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ObjectVocabulary:
        """Read a file written by :meth:`save`, possibly edited by hand; phrase keys are re-normalised."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not valid JSON ({err})") from err
        if not isinstance(data, dict) or not isinstance(data.get("clusters"), dict) \
                or not isinstance(data.get("phrases"), dict):
            raise ValueError(f"{path}: expected an object with 'clusters' (name -> id) and 'phrases' (phrase -> name)")
        phrases: dict[str, str] = {}
        for key, name in data["phrases"].items():
            phrase = normalise_phrase(key)
            if not phrase:
                raise ValueError(f"{path}: phrase {key!r} names no object (it normalises to '')")
            if phrases.get(phrase, name) != name:
                raise ValueError(f"{path}: phrase {key!r} (normalised {phrase!r}) maps to both "
                                 f"{phrases[phrase]!r} and {name!r}")
            phrases[phrase] = name
        try:
            return cls(dict(data["clusters"]), phrases)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


def build_object_vocabulary(entries: Iterable[Entry], num_clusters: int | None = None) -> ObjectVocabulary:
    """Cluster the first two object placeholders of labelled entries (see the module docstring).

    ``num_clusters``: object clusters to keep, ``"<other>"`` included and ``"<null>"`` not: the
    ``num_clusters - 1`` most frequent clusters (equal counts in name order) keep their own id and
    the others map to ``"<other>"``; fewer seen clusters are all kept. ``None`` keeps every
    cluster. Ids: ``"<null>"`` 0, ``"<other>"`` 1, then the kept clusters in alphabetical order.
    An entry without placeholders (a test-split entry) raises ValueError with its id.
    """
    if num_clusters is not None and num_clusters < 1:
        raise ValueError(f"build_object_vocabulary: num_clusters must be >= 1 ('<other>' is one), got {num_clusters}")
    phrase_counts: Counter[str] = Counter()
    for entry in entries:
        if not entry.placeholders:
            raise ValueError(f"build_object_vocabulary: entry id {entry.id} has no placeholders (test split?)")
        phrase_counts.update(object_phrases(entry.placeholders)[:2])
    known = {phrase for phrase in phrase_counts if " " not in phrase}
    phrase_cluster = {phrase: cluster_name(phrase, known) for phrase in phrase_counts}
    cluster_counts: Counter[str] = Counter()
    for phrase, count in phrase_counts.items():
        cluster_counts[phrase_cluster[phrase]] += count
    by_frequency = sorted(cluster_counts, key=lambda name: (-cluster_counts[name], name))
    kept = sorted(by_frequency if num_clusters is None else by_frequency[: num_clusters - 1])
    clusters = {NULL: 0, OTHER: 1, **{name: i for i, name in enumerate(kept, start=2)}}
    phrases = {phrase: name if name in clusters else OTHER for phrase, name in phrase_cluster.items()}
    return ObjectVocabulary(clusters, phrases)
