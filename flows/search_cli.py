"""`filterspeak search`: the build's images ranked by how much they show one attribute, p(a|x)
(the scores the retrieval metric evaluates, from the `image_attribute_scores` table)."""

from __future__ import annotations

import argparse
import json

DEFAULT_TOP = 10


def add_search_command(commands) -> None:
    parser = commands.add_parser("search", help="images ranked by an attribute phrase, e.g. 'red wing' (p(a|x), highest first)")
    parser.add_argument("phrase", help="a vocabulary phrase such as 'red wing' (read by the caption parser: 'red wings' works too)")
    parser.add_argument("--store", default=None, help="store directory or s3://bucket/prefix (default as for build)")
    parser.add_argument("--backbone", default=None, help="backbone name (default: the latest build's)")
    parser.add_argument("--layer", default=None, help="layer (default: the latest build's)")
    parser.add_argument("--top", type=int, default=DEFAULT_TOP, help=f"images to show (default: {DEFAULT_TOP})")
    parser.add_argument("--split", default="test", help="images of the test split (default), the train split, or all")
    parser.add_argument(
        "--json", action="store_true", help="one JSON document: phrase, query, split, results (rank, image_id, class, split, score, path)"
    )


def run_search(args: argparse.Namespace) -> int:
    from filterspeak.api.search import check_split, search
    from filterspeak.errors import at_least_one
    from filterspeak.storage.paths import StorePaths
    from filterspeak.tasks.graph import open_build

    at_least_one("--top", args.top)  # bad options fail before the store is opened
    check_split(args.split)
    build = open_build(StorePaths.at(args.store), args.backbone, args.layer)
    result = search(build, args.phrase, args.top, args.split)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    asked = "" if " ".join(args.phrase.lower().split()) == result.phrase else f" (for {args.phrase!r})"
    print(f"{build.backbone}:{build.layer}: {len(result.hits)} {args.split} images ranked by p({result.phrase!r}|x){asked}:")
    ids = max((len(str(hit.image_id)) for hit in result.hits), default=0)
    names = max((len(hit.class_name) for hit in result.hits), default=0)
    for hit in result.hits:
        print(f"{hit.rank:>4}  {hit.score:.4f}  image {hit.image_id:>{ids}}  {hit.class_name:<{names}}  {hit.split:<5}  {hit.path}")
    return 0
