"""`filterspeak` command line: build, train-head, sql, explain, evaluate, diff, failures, search, report,
captions, serve. A thin adapter: each command parses its flags and calls the read side or the build
(filterspeak/api) or a Prefect flow."""

from __future__ import annotations

import argparse
import os
import sys

# Prefect runs offline: no telemetry, and quiet unless the user asks for its logs.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# Without PREFECT_API_URL each command starts a temporary Prefect server; the first one on a machine
# also creates Prefect's database, which can take longer than Prefect's 20 s default on 2 cores.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from filterspeak.api.metrics import METRIC_REGISTRY
from filterspeak.errors import FilterSpeakError
from filterspeak.flows.captions_cli import add_captions_commands, run_captions
from filterspeak.flows.failures_cli import add_failures_command, run_failures
from filterspeak.flows.report_cli import add_report_command, run_report
from filterspeak.flows.search_cli import add_search_command, run_search
from filterspeak.flows.serve import add_serve_arguments, run_serve
from filterspeak.options import BuildOptions
from filterspeak.storage.paths import DEFAULT_STORE, STORE_ENV, StorePaths


def _store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        help=f"store directory, or s3://bucket/prefix (AWS settings from the environment; default ${STORE_ENV} or ./{DEFAULT_STORE})",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="filterspeak", description="Explain CNN image classifiers in words.")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="run the pipeline (cached: only changed stages re-run)")
    head = commands.add_parser(
        "train-head",
        help="fit a linear head on the layer's GAP features for the dataset's classes, report its accuracy (a build with --head train)",
    )
    for command in (build, head):
        _store_argument(command)
        for option in BuildOptions.declared():  # flags, types, choices and help: declared once, in filterspeak.options
            if command is head and option.name == "head":
                continue
            if option.type is bool:  # an on/off flag, off unless given
                command.add_argument(option.flag, dest=option.name, action="store_true", help=option.help)
                continue
            command.add_argument(
                option.flag,
                dest=option.name,
                type=option.type,
                default=option.default,
                choices=option.choices,
                help=f"{option.help} (default: {option.default})",
            )
        command.add_argument("--no-progress", action="store_true", help="no progress bars")

    sql = commands.add_parser("sql", help="run a read-only SQL query against the store's catalog")
    _store_argument(sql)
    sql.add_argument("query", help='e.g. "SELECT * FROM filter_attributes LIMIT 5"')
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")

    explain = commands.add_parser("explain", help="explain the model's decision on image files")
    _store_argument(explain)
    explain.add_argument("images", nargs="+", help="image files")
    explain.add_argument("--backbone", default=None, help="backbone name (default: the latest build's)")
    explain.add_argument("--layer", default=None, help="layer (default: the latest build's)")
    explain.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    explain.add_argument("--json", action="store_true", help="one JSON object per image")
    explain.add_argument(
        "--heatmaps",
        metavar="DIR",
        default=None,
        help="also write a PNG per cited attribute to DIR (created if missing): the image with its heat map, titled with the phrase",
    )

    add_captions_commands(commands)
    add_serve_arguments(
        commands.add_parser("serve", help="one process that schedules and runs the build and explain flows (no work pool or worker)")
    )

    evaluate = commands.add_parser("evaluate", help="score the explanations against ground truth (Markdown table; --json for the numbers)")
    _store_argument(evaluate)
    evaluate.add_argument("--backbone", default=None, help="backbone name (default: the latest build's)")
    evaluate.add_argument("--layer", default=None, help="layer (default: the latest build's)")
    evaluate.add_argument("--json", dest="json_path", default=None, help="also write every number to this JSON file")
    evaluate.add_argument("--variants", action="store_true", help="also score every method variant (docs/evaluation.md)")
    evaluate.add_argument("--metrics", default=None, help=f"comma list of metrics (default: all): {METRIC_REGISTRY.help()}")
    evaluate.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bars")

    diff = commands.add_parser("diff", help="compare two builds (backbones or layers) on the same data")
    _store_argument(diff)
    diff.add_argument("a", help="backbone or backbone:layer")
    diff.add_argument("b", help="backbone or backbone:layer")
    diff.add_argument("--examples", type=int, default=5, help="changed sentences to show")
    add_failures_command(commands)
    add_search_command(commands)
    add_report_command(commands)
    return parser


def _build(args: argparse.Namespace) -> int:
    from filterspeak.flows.build import build
    from filterspeak.flows.run_errors import failures_reported_by_cli
    from filterspeak.flows.summary import format_report

    values = {option.name: getattr(args, option.name) for option in BuildOptions.declared() if hasattr(args, option.name)}
    if args.command == "train-head":
        values["head"] = "train"
    options = BuildOptions(**values)
    options.validate()  # a wrong backbone, weights file or layer: one line, before Prefect starts
    if options.dask:
        from filterspeak.flows.distributed import check_scheduler

        check_scheduler(options.dask)  # likewise a scheduler that cannot be reached
    StorePaths.at(args.store).ensure()  # and an unwritable store, or a bucket that is missing or refuses these credentials
    with failures_reported_by_cli():
        report = build(store=args.store, options=options, progress=not args.no_progress)
    print(format_report(report))
    if args.command == "train-head":
        head = next(record for record in report.stages if record.stage == "head")
        print(
            f"linear head on {report.backbone}:{report.layer}: test accuracy {report.metrics['test_accuracy']:.3f} "
            f"({'reused' if head.reused else 'trained'}; chance {1 / report.metrics['classes']:.3f})"
        )
    return 0


def _sql(args: argparse.Namespace) -> int:
    from filterspeak.storage.catalog import query
    from filterspeak.storage.locks import running_build

    paths = StorePaths.at(args.store)
    table = query(paths, args.query).to_pandas()
    holder = running_build(paths)
    if holder:
        print(f"note: a build is running on this store ({holder}); these are the tables of the last finished build", file=sys.stderr)
    if args.format == "csv":
        sys.stdout.write(table.to_csv(index=False))
    elif args.format == "json":
        sys.stdout.write(table.to_json(orient="records", indent=None) + "\n")
    else:
        with __import__("pandas").option_context("display.max_rows", 500, "display.max_columns", 50, "display.width", 200):
            print(table.to_string(index=False) if len(table) else f"(no rows; columns: {', '.join(table.columns)})")
    return 0


def _explain(args: argparse.Namespace) -> int:
    import json

    from filterspeak.api.explain import explain_image_files

    results = explain_image_files(StorePaths.at(args.store), args.images, args.backbone, args.layer, args.device, heatmaps=args.heatmaps)
    for item in results:
        if args.json:
            output = item.to_dict()
            if args.heatmaps is not None:
                output["heatmaps"] = [{"phrase": phrase, "file": file} for phrase, file in item.heatmaps]
            print(json.dumps(output))
        else:
            print(f"{item.path}: {item.sentence} (p={item.probability:.2f})")
            for _, file in item.heatmaps:
                print(f"  wrote {file}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from filterspeak.api.metrics import METRICS, check_metrics
    from filterspeak.evaluation.report import markdown_table, variants_table
    from filterspeak.flows.evaluate import evaluate
    from filterspeak.flows.run_errors import failures_reported_by_cli
    from filterspeak.storage.builds import load_build_record

    chosen = tuple(m.strip() for m in args.metrics.split(",") if m.strip()) if args.metrics else METRICS
    if args.json_path and not Path(args.json_path).resolve().parent.is_dir():
        raise FilterSpeakError(f"--json {args.json_path}: its folder does not exist")
    check_metrics(chosen)
    load_build_record(StorePaths.at(args.store), args.backbone, args.layer)  # one line, before Prefect starts, if absent
    with failures_reported_by_cli():
        record = evaluate(args.store, args.backbone, args.layer, args.variants, args.device, not args.no_progress, chosen)
    context = record.context
    print(
        f"FilterSpeak evaluation of {context['backbone']}:{context['layer']} on {context['dataset']} "
        f"({context['test_images']} test images)\n"
    )
    print(markdown_table(record))
    if record.variants:
        print("\nVariants (one option changed at a time from the defaults):\n")
        print(variants_table(record.variants, record.rows))
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(record.to_json(), indent=2, default=float, allow_nan=False) + "\n")
        print(f"\nwrote {args.json_path}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    from filterspeak.api.diff import diff_builds, format_diff

    print(format_diff(diff_builds(StorePaths.at(args.store), args.a, args.b), args.examples))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit status 0; 2 for a user error (a FilterSpeakError: one line on stderr; argparse's own
    usage errors too). Anything else is a bug: it propagates, Python prints its traceback (status 1)."""
    args = _parser().parse_args(argv)
    handlers = {
        "build": _build,
        "train-head": _build,
        "sql": _sql,
        "explain": _explain,
        "evaluate": _evaluate,
        "diff": _diff,
        "captions": run_captions,
        "serve": run_serve,
        "failures": run_failures,
        "search": run_search,
        "report": run_report,
    }
    try:
        return handlers[args.command](args)
    except FilterSpeakError as error:
        message = " ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__
        print(f"filterspeak: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
