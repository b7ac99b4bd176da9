"""actattn.data.ssv2_objects on the real Something-Something V2 validation excerpt."""
import json
from collections import Counter
from pathlib import Path

import pytest

from actattn.data.ssv2 import Entry, read_labels, read_split
from actattn.data.ssv2_objects import (
    NULL,
    OTHER,
    ObjectVocabulary,
    build_object_vocabulary,
    cluster_name,
    normalise_phrase,
    singular,
)

EXCERPT = Path(__file__).resolve().parents[3] / "shared" / "annotations" / "something-something-v2"
LABELS = EXCERPT / "something-something-v2-labels.json"
VALIDATION = EXCERPT / "something-something-v2-validation.json"


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    if not VALIDATION.is_file():
        pytest.skip(f"the shared SSv2 excerpt is not at {EXCERPT}")
    return read_split(VALIDATION, read_labels(LABELS))


@pytest.fixture(scope="module")
def vocabulary(entries: list[Entry]) -> ObjectVocabulary:
    return build_object_vocabulary(entries)


def raw_phrases(entries: list[Entry]) -> set[str]:
    return {text for entry in entries for text in entry.placeholders}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a pen", "pen"),
        ("Pens", "pen"),
        ("the match box", "match box"),
        ("a piece of paper", "paper"),
        ("pieces of paper towel", "paper towel"),
        ("a box of juice", "box"),
        ("my mom's phone", "phone"),
        ("two toy cars!", "toy car"),
        ("yellow colour pen of many similar colour pens on the table", "yellow colour pen"),
        ("one of many similar things on the table", "similar thing"),
        ("thumb up", "thumb"),
        ("3", ""),
        ("three", ""),
        ("glasses", "glasses"),
        ("diaries", "diary"),
        ("banana leaves", "banana leaf"),
        ("boxes", "box"),
    ],
)
def test_normalise_phrase(text: str, expected: str) -> None:
    assert normalise_phrase(text) == expected


def test_singular_rules() -> None:
    assert [singular(w) for w in ("ties", "glass", "cactus", "tennis", "scissors", "knives", "matches")] == [
        "tie", "glass", "cactus", "tennis", "scissors", "knife", "match"
    ]


def test_cluster_name_head_noun_synonyms_and_compounds() -> None:
    assert cluster_name("mobile phone") == cluster_name("iphone") == cluster_name("black phone") == "phone"
    assert cluster_name("tooth paste", known={"toothpaste"}) == "toothpaste"
    assert cluster_name("tooth paste") == "paste"
    assert cluster_name("plastic-container") == "container"
    assert cluster_name("orange post-it") == "note"


def test_real_excerpt_shares_clusters(entries: list[Entry], vocabulary: ObjectVocabulary) -> None:
    raw = raw_phrases(entries)
    groups = (
        ["a pen", "pen", "colour pens"],
        ["a mug", "the mug"],
        ["iphone", "cellphone", "mobile phone", "phone"],
        ["remote", "remote control", "small remote"],
        ["a piece of paper", "paper", "a paper"],
        ["quarter", "coin", "a coin"],
    )
    for group in groups:
        assert set(group) <= raw
        assert len({vocabulary.label(text) for text in group}) == 1, group
    assert vocabulary.label("pens") == vocabulary.label("a pen") == vocabulary.clusters["pen"]
    assert vocabulary.label("glasses") != vocabulary.label("a glass")
    assert vocabulary.label("a cup") != vocabulary.label("a mug")
    distinct_raw = {text.lower() for text in raw if normalise_phrase(text)}
    assert len(vocabulary) - 2 < len(distinct_raw)  # 136 clusters (+ null, other) from 200 phrases
    assert len(vocabulary) == len(set(vocabulary.clusters.values()))


def test_every_real_entry_gets_valid_labels(entries: list[Entry], vocabulary: ObjectVocabulary) -> None:
    counts = {1: 0, 2: 0, 3: 0}
    for entry in entries:
        first, second = vocabulary.labels(entry.placeholders)
        assert 0 <= first < len(vocabulary) and 0 <= second < len(vocabulary)
        assert first not in (vocabulary.null, vocabulary.other)
        objects = [text for text in entry.placeholders if normalise_phrase(text)]
        counts[len(entry.placeholders)] += 1
        assert (second == vocabulary.null) == (len(objects) == 1), entry
    assert counts[1] > 0 and counts[2] > 0 and counts[3] > 0


def test_number_slot_skipped_and_third_object_dropped(vocabulary: ObjectVocabulary) -> None:
    # "Putting [number of] [something] onto [something]": ["3", "toy cars", "yellow note"]
    car, note = vocabulary.clusters["car"], vocabulary.clusters["note"]
    assert vocabulary.labels(["3", "toy cars", "yellow note"]) == (car, note)
    # "Tipping [something] with [something in it] over, so [something in it] falls out"
    assert vocabulary.labels(["jar", "hand", "charger"]) == (vocabulary.clusters["jar"], vocabulary.clusters["hand"])
    assert vocabulary.labels(["cube"]) == (vocabulary.clusters["cube"], vocabulary.null)
    assert vocabulary.labels(["some"]) == (vocabulary.other, vocabulary.null)
    assert vocabulary.label("a zeppelin") == vocabulary.other
    with pytest.raises(ValueError, match="no placeholders"):
        vocabulary.labels([])


def cluster_counts(entries: list[Entry], vocabulary: ObjectVocabulary) -> Counter[str]:
    """Occurrences of each cluster as first or second object, by the full vocabulary's labels."""
    ids = [i for entry in entries for i in vocabulary.labels(entry.placeholders) if i != vocabulary.null]
    return Counter(vocabulary.names[i] for i in ids)


def test_num_clusters_keeps_the_most_frequent_and_merges_the_rest(
    entries: list[Entry], vocabulary: ObjectVocabulary
) -> None:
    counts = cluster_counts(entries, vocabulary)
    merged = build_object_vocabulary(entries, num_clusters=40)
    assert len(merged) == 41 and merged.names[:2] == [NULL, OTHER]  # 39 named + other, and null
    kept, dropped = set(merged.names[2:]), set(counts) - set(merged.names[2:])
    cutoff = min(counts[name] for name in kept)
    assert cutoff >= max(counts[name] for name in dropped)
    tied = [name for name in counts if counts[name] == cutoff]
    assert max(n for n in tied if n in kept) < min(n for n in tied if n in dropped)  # ties by name
    assert {"bottle", "pen", "phone"} <= kept and "yoghurt" in dropped
    assert merged.phrases["yoghurt"] == OTHER and merged.label("yoghurt") == merged.other
    assert merged.label("mobile phone") == merged.clusters["phone"]
    others = sum(merged.labels(entry.placeholders)[k] == merged.other for entry in entries for k in (0, 1))
    assert others == sum(counts[name] for name in dropped)


def test_num_clusters_beyond_the_seen_ones_keeps_every_cluster(
    entries: list[Entry], vocabulary: ObjectVocabulary
) -> None:
    assert build_object_vocabulary(entries, num_clusters=307) == vocabulary
    assert build_object_vocabulary(entries, num_clusters=1).names == [NULL, OTHER]
    with pytest.raises(ValueError, match="num_clusters must be >= 1.*got 0"):
        build_object_vocabulary(entries, num_clusters=0)


def test_save_load_round_trip(tmp_path: Path, vocabulary: ObjectVocabulary, entries: list[Entry]) -> None:
    path = tmp_path / "objects.json"
    vocabulary.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["clusters"][NULL] == 0 and data["phrases"]["mobile phone"] == "phone"
    loaded = ObjectVocabulary.load(path)
    assert loaded == vocabulary
    assert [loaded.labels(e.placeholders) for e in entries] == [vocabulary.labels(e.placeholders) for e in entries]


def test_edited_file_changes_the_mapping(tmp_path: Path, vocabulary: ObjectVocabulary) -> None:
    path = tmp_path / "objects.json"
    vocabulary.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["phrases"]["paper"] = "book"  # merge paper into book
    del data["phrases"]["glass cup"]
    data["phrases"]["A Glass Cup"] = "glass"  # a raw-text key, re-normalised on load
    data["clusters"]["pen"], data["clusters"]["pencil"] = data["clusters"]["pencil"], data["clusters"]["pen"]
    path.write_text(json.dumps(data), encoding="utf-8")
    edited = ObjectVocabulary.load(path)
    assert edited.label("a piece of paper") == edited.clusters["book"] != vocabulary.label("a piece of paper")
    assert edited.label("glass cup") == edited.clusters["glass"] != vocabulary.label("glass cup")
    assert edited.label("a pen") == vocabulary.label("a pencil")


def test_load_rejects_bad_edits(tmp_path: Path, vocabulary: ObjectVocabulary) -> None:
    path = tmp_path / "objects.json"
    vocabulary.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = dict(data, phrases={**data["phrases"], "pen": "quill"})
    path.write_text(json.dumps(unknown), encoding="utf-8")
    with pytest.raises(ValueError, match=r"objects\.json.*'quill'"):
        ObjectVocabulary.load(path)
    duplicate = dict(data, clusters={**data["clusters"], "pen": 0})
    path.write_text(json.dumps(duplicate), encoding="utf-8")
    with pytest.raises(ValueError, match="ids must be"):
        ObjectVocabulary.load(path)
    text_id = dict(data, clusters={**data["clusters"], "pen": str(data["clusters"]["pen"])})
    path.write_text(json.dumps(text_id), encoding="utf-8")
    with pytest.raises(ValueError, match="ids must be the integers"):
        ObjectVocabulary.load(path)
    conflict = dict(data, phrases={**data["phrases"], "Pens": "book"})
    path.write_text(json.dumps(conflict), encoding="utf-8")
    with pytest.raises(ValueError, match="maps to both"):
        ObjectVocabulary.load(path)
