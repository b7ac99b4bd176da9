"""The ``actattn`` command: synth, fit, test, predict, visualize, localize, keypoints, detect, data, conjugates,
pretrain, demo."""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path


def cmd_synth(args: argparse.Namespace) -> None:
    from actattn.data.synthetic import preset, write_dataset

    counts = {"train": args.train, "validation": args.validation}
    paths = write_dataset(Path(args.out), preset(args.preset), seed=args.seed, counts=counts, workers=args.workers)
    for split, path in paths.items():
        print(f"{split}: {path}")


def cmd_fit(args: argparse.Namespace) -> None:
    from actattn.config import load_config
    from actattn.experiment import fit
    from actattn.files import save_json

    config = load_config(args.config, args.set)
    module, _, seconds = fit(config, resume=args.resume)
    trainer = module.trainer
    if not trainer.is_global_zero:
        return
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    run = {"train_seconds": seconds, "global_step": trainer.global_step, "world_size": trainer.world_size}
    path = save_json({**metrics, **run}, Path(config["out"]) / "fit_metrics.json")
    print(f"trained in {seconds:.1f} s; checkpoints in {Path(config['out']) / 'checkpoints'}; metrics in {path}")


def cmd_test(args: argparse.Namespace) -> None:
    from actattn.config import load_config
    from actattn.experiment import evaluate
    from actattn.files import save_json

    config = load_config(args.config, args.set)
    if args.submission:
        from actattn.predict import write_test_submission

        if args.sls is None:
            raise ValueError("--submission needs --sls PT TL TD, the supervision levels 0-5 of the challenge")
        path, labelled = write_test_submission(config, args.checkpoint, args.submission, tuple(args.sls))
        print(f"EPIC-100 submission in {path}")
        if not labelled:  # the challenge's test split: no metrics to compute
            return
    metrics, seconds = evaluate(config, args.checkpoint)
    path = save_json({**metrics, "eval_seconds": seconds}, Path(config["out"]) / "test_metrics.json")
    print(json.dumps(metrics, indent=2))
    print(f"metrics in {path}")


def cmd_visualize(args: argparse.Namespace) -> None:
    from actattn.checkpoint import load_module
    from actattn.config import load_config
    from actattn.experiment import build_datamodule, check_label_space, write_pictures

    config = load_config(args.config, args.set)
    module = load_module(args.checkpoint)
    datamodule = build_datamodule(config)
    check_label_space(datamodule, module, args.checkpoint)
    for path in write_pictures(module, datamodule.datasets["test"], args.out, count=args.count):
        print(path)


def cmd_predict(args: argparse.Namespace) -> None:
    from actattn.checkpoint import load_module
    from actattn.predict import predict_video, write_prediction

    module = load_module(args.checkpoint)
    prediction = predict_video(module, args.video, top=args.top, progress=True)
    for rank, item in enumerate(prediction.ranked, start=1):
        print(f"{rank}. {item['label']}  ({item['probability']:.3f})")
    png, gif, _ = write_prediction(prediction, args.video, module.hparams.class_names, args.out)
    print(f"attention overlays: {png}, {gif}")


def cmd_keypoints(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from actattn.data.csv_list import read_csv_list
    from actattn.data.pose import KeypointDetector, keypoint_cache
    from actattn.data.video import VideoDecodeError

    if not args.pretrained and args.weights is None:
        raise ValueError("pass --pretrained (torchvision's COCO weights) or --weights FILE")
    videos = [video for video, _ in read_csv_list(args.csv, root=args.root, multi_label=True)]
    detector = KeypointDetector(pretrained=args.pretrained, weights_path=args.weights, min_size=args.min_size)
    bad = 0
    for video in tqdm(videos, desc=f"keypoints -> {args.out}", unit="video"):
        try:
            keypoint_cache(video, args.out, detector)
        except VideoDecodeError as err:
            bad += 1
            warnings.warn(f"skipping a bad video: {err}", stacklevel=1)
    print(f"{len(videos) - bad} keypoint files in {args.out}; {bad} bad videos skipped; "
          f"{detector.frames_without_person} frames without a person")


def cmd_demo(args: argparse.Namespace) -> None:
    from actattn.demo import load_demo_config, run_demo

    config = load_demo_config(args.config)
    if args.out:
        config["out"] = args.out
    run_demo(config, args.seeds)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="actattn", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error, not only its message")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="render SynthHOI scenes to MP4 + Something-Something V2 annotations")
    s.add_argument("--preset", default="default")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.add_argument("--train", type=int, default=1000)
    s.add_argument("--validation", type=int, default=200)
    s.add_argument("--workers", type=int, default=2)
    s.set_defaults(func=cmd_synth)

    for name, func, text in (("fit", cmd_fit, "train from a YAML config"), ("test", cmd_test, "evaluate a checkpoint"),
                             ("visualize", cmd_visualize, "attention pictures for held-out clips")):
        c = sub.add_parser(name, help=text)
        c.add_argument("--config", required=True)
        c.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE", help="override a config value")
        if name == "fit":
            c.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt")
        else:
            c.add_argument("--checkpoint", required=True)
        if name == "test":
            c.add_argument("--submission", metavar="FILE", help="also write the EPIC-100 challenge's submission "
                           "(FILE.json, or FILE.zip holding test.json) of the test split (data.splits.test: test)")
            c.add_argument("--sls", type=int, nargs=3, metavar=("PT", "TL", "TD"),
                           help="the submission's supervision levels: pretraining, training labels, training data")
        if name == "visualize":
            c.add_argument("--out", required=True)
            c.add_argument("--count", type=int, default=8)
        c.set_defaults(func=func)

    r = sub.add_parser("predict", help="top-5 labels and attention overlays for one video")
    r.add_argument("video")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--top", type=int, default=5)
    r.set_defaults(func=cmd_predict)

    from actattn.conjugates import add_conjugates_parser
    from actattn.data.inspect import add_inspect_parser
    from actattn.detect import add_detect_parser
    from actattn.extract import add_extract_parser
    from actattn.localize.dataset import add_localize_parser
    from actattn.pretrain import add_pretrain_parser

    add_localize_parser(sub)
    add_pretrain_parser(sub)
    add_detect_parser(sub)
    add_extract_parser(sub)
    add_inspect_parser(sub)
    add_conjugates_parser(sub)

    k = sub.add_parser("keypoints", help="Keypoint R-CNN keypoints of a CSV dataset's videos, cached as .npz")
    k.add_argument("--csv", required=True, help="a path,label CSV (labels are not read)")
    k.add_argument("--root", help="folder that relative video paths start from (default: the CSV's)")
    k.add_argument("--out", required=True, help="the cache folder: OUT/{video stem}.npz")
    k.add_argument("--pretrained", action="store_true", help="torchvision's COCO weights (downloaded once)")
    k.add_argument("--weights", help="a local keypointrcnn_resnet50_fpn state dict")
    k.add_argument("--min-size", type=int, default=800, help="the detector's input short side")
    k.set_defaults(func=cmd_keypoints)

    d = sub.add_parser("demo", help="render SynthHOI, train and compare models, write metrics and pictures")
    d.add_argument("--config", default="configs/demo.yaml")
    d.add_argument("--out", help="override the config's output folder")
    d.add_argument("--seeds", type=int, nargs="+",
                   help="train every model once per seed (instead of the config's seed), each into OUT/seed-S, "
                        "and print each metric's mean and spread over them (OUT/seeds.json)")
    d.set_defaults(func=cmd_demo)
    return p


def user_error(err: BaseException) -> str | None:
    """The one-line message of an error that a user can mend (a config, a file, an input); None for others.

    An error raised in a DataLoader worker reaches here as a RuntimeError holding the worker's
    traceback; its last line is the original message.
    """
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from actattn.data.video import VideoDecodeError

    text = str(err).strip()
    if isinstance(err, RuntimeError) and text.startswith("Caught ") and "Traceback" in text:
        return text.splitlines()[-1].split(": ", 1)[-1]
    if isinstance(err, (ValueError, OSError, VideoDecodeError, FloatingPointError, MisconfigurationException)):
        return " ".join(text.split()) or type(err).__name__
    return None


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command; a user's mistake ends in one line on stderr and exit status 1 (``--debug``: the traceback)."""
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except Exception as err:
        message = user_error(err)
        if args.debug or message is None:
            raise
        print(f"actattn {args.command}: error: {message}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
