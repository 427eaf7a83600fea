"""`filterspeak report`: publish the build's static HTML report (the `report` stage) and print
the path of its index.html, to open in any browser (no server, no network)."""

from __future__ import annotations

import argparse


def add_report_command(commands) -> None:
    parser = commands.add_parser("report", help="write the build's HTML report (filters, attributes, classes, decisions, failures)")
    parser.add_argument("--store", default=None, help="store directory or s3://bucket/prefix (default as for build)")
    parser.add_argument("--backbone", default=None, help="backbone name (default: the latest build's)")
    parser.add_argument("--layer", default=None, help="layer (default: the latest build's)")
    parser.add_argument("--out", default=None, help="folder to write the report to (default: STORE/report/<backbone>/<layer>/)")


def run_report(args: argparse.Namespace) -> int:
    from filterspeak.api.publish import publish_report
    from filterspeak.storage.paths import StorePaths

    print(publish_report(StorePaths.at(args.store), args.backbone, args.layer, args.out))
    return 0
