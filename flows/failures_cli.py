"""`filterspeak failures`: the build's most frequent confusions, each with a sentence that says
which attributes tell the two classes apart (the tables of the `failures` stage)."""

from __future__ import annotations

import argparse
import json

DEFAULT_TOP = 10


def add_failures_command(commands) -> None:
    parser = commands.add_parser("failures", help="what the model confuses, in attribute words (the build's test errors)")
    parser.add_argument("--store", default=None, help="store directory or s3://bucket/prefix (default as for build)")
    parser.add_argument("--backbone", default=None, help="backbone name (default: the latest build's)")
    parser.add_argument("--layer", default=None, help="layer (default: the latest build's)")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help=f"confusions to show, most frequent first (default: {DEFAULT_TOP})")
    parser.add_argument("--json", action="store_true", help="a JSON list: true_class, predicted_class, count, rate, sentence, attributes")


def run_failures(args: argparse.Namespace) -> int:
    from filterspeak.api.failures import top_confusions
    from filterspeak.errors import at_least_one
    from filterspeak.storage.paths import StorePaths
    from filterspeak.tasks.graph import open_build

    at_least_one("--top", args.top)
    build = open_build(StorePaths.at(args.store), args.backbone, args.layer)
    confusions = top_confusions(build, args.top)
    if args.json:
        print(json.dumps(confusions, indent=2))
        return 0
    if not confusions:
        evaluated = build.result("failures").metrics.get("evaluated", 0)
        print(f"No test errors: {build.backbone}:{build.layer} classifies all {evaluated} test images correctly.")
        return 0
    errors = build.result("failures").metrics["errors"]
    print(f"{build.backbone}:{build.layer}: {errors} test errors; the {len(confusions)} most frequent confusions:\n")
    for item in confusions:
        print(f"- {item['sentence']}")
    return 0
