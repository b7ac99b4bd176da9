"""MPII Human Pose activities (format ``mpii``; mpii-human-pose/FORMAT.md: the ``.mat`` is binary and
not shared). Tasks ``action`` (the activities, by ``act_id``) and ``category`` (their ``cat_name``).

- ``mpii_human_pose_v1_u12_1.mat`` holds the struct ``RELEASE``: ``annolist(imgidx).image.name``,
  ``.vidx`` (1-based into ``video_list``), ``.frame_sec``; ``img_train(imgidx)`` 1 train / 0 test;
  ``act(imgidx)`` with ``act_id``, ``act_name``, ``cat_name`` (names empty, ``act_id`` -1 for an
  unlabelled image: a counted skip). Activity names hold commas.
- ``action`` classes are the distinct activities ordered by ``act_id`` (an id must always carry
  the same name); ``category`` classes the sorted category names. Splits ``train``, ``test``; the
  id is the image name, ``video`` ``images/<name>``; ``info`` has ``act_id``, the YouTube id and
  ``frame_sec`` where given.
"""
from __future__ import annotations

from pathlib import Path

from actattn.data.formats.base import Ids, Problems, ReadResult, RowError, Sample
from actattn.data.formats.mat import items, load_mat, number, text


def read_mpii(path: str | Path, *, strict: bool = True) -> ReadResult:
    """MPII Human Pose activities from ``mpii_human_pose_v1_u12_1.mat``."""
    path = Path(path)
    release = load_mat(path, "RELEASE")["RELEASE"]
    try:
        annolist, img_train, acts = items(release.annolist), items(release.img_train), items(release.act)
        videos = [text(v) for v in items(getattr(release, "video_list", []))]
    except AttributeError as err:
        raise ValueError(f"{path}: RELEASE lacks a field ({err})") from None
    if not len(annolist) == len(img_train) == len(acts):
        raise ValueError(f"{path}: annolist ({len(annolist)}), img_train ({len(img_train)}) and act ({len(acts)}) "
                         "must have one entry per image")
    problems = Problems(strict)
    rows = []
    names_of_id: dict[int, str] = {}
    ids = Ids()
    for imgidx, (anno, train, act) in enumerate(zip(annolist, img_train, acts), start=1):
        item = f"RELEASE.annolist({imgidx})"
        try:
            name = text(anno.image.name)
            if not name:
                raise RowError("empty image name")
            split = {1.0: "train", 0.0: "test"}.get(number(train))
            if split is None:
                raise RowError(f"img_train {train!r} is not 1 or 0")
            act_id = number(act.act_id)
            act_name, cat_name = text(act.act_name), text(act.cat_name)
            ids.add(name, item)
        except (RowError, AttributeError, ValueError) as err:
            problems.bad(path, None, str(err), item)
            continue
        if act_id is None or act_id < 0 or not act_name or not cat_name:
            problems.skip(path, None, f"image {name}: no activity label (act_id {act_id})", item)
            continue
        act_id = int(act_id)
        if names_of_id.setdefault(act_id, act_name) != act_name:
            problems.bad(path, None, f"act_id {act_id} is named {act_name!r} here but {names_of_id[act_id]!r} "
                                     "elsewhere", item)
            continue
        info: dict[str, object] = {"act_id": act_id}
        vidx, frame_sec = number(getattr(anno, "vidx", [])), number(getattr(anno, "frame_sec", []))
        if vidx is not None and 1 <= vidx <= len(videos):
            info["youtube_id"] = videos[int(vidx) - 1]
        if frame_sec is not None:
            info["frame_sec"] = frame_sec
        rows.append((split, name, act_id, cat_name, info))
    action_ids = sorted(names_of_id)
    action_index = {act_id: i for i, act_id in enumerate(action_ids)}
    categories = sorted({cat for _, _, _, cat, _ in rows})
    category_index = {cat: i for i, cat in enumerate(categories)}
    splits: dict[str, list[Sample]] = {"train": [], "test": []}
    for split, name, act_id, cat_name, info in rows:
        splits[split].append(Sample(name, f"images/{name}",
                                    {"action": action_index[act_id], "category": category_index[cat_name]},
                                    info=info))
    tasks = {"action": [names_of_id[i] for i in action_ids], "category": categories}
    return problems.result("mpii", tasks, splits)
