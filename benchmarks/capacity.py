"""How much of the attributes does the network encode, by width and layer? The limit behind the
retrieval and grounding targets of the evaluation suite (docs/evaluation.md).

    python benchmarks/capacity.py [--store DIR] [--widths 16,32,64] [--layers features.1,features.2,features.3]
                                  [--device cpu] [--json out.json]

For each built-in backbone width (trained with the class loss only, as the default is) and each
layer, it builds the synthetic default with that backbone and layer (cached; `latest=False`, so
the store's default build does not change), then scores retrieval and grounding beside the two
supervised references measured on the same build in the same run:
- retrieval: a ridge probe from the layer's responses to true presence (`retrieval_probe_map`);
- grounding: the best single filter per attribute, chosen with the part masks
  (`grounding_best_filter`), and a linear part locator on the maps (`grounding_part_locator`).
It prints each method figure as a ratio to its (first) reference, and adds the randomised (`--epochs 0`)
and known-filter (`--concept-filters 8`) versions of the default backbone as two more rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from offline_environment import configure

configure()


def _ratio(value: float | None, reference: float | None) -> str:
    return f"{value / reference:.2f}" if value is not None and reference else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="capacity-store", help="store for the builds (reused when built)")
    parser.add_argument("--widths", default="16,32,64", help="built-in backbone widths (the layer features.3 has 4 x width filters)")
    parser.add_argument("--layers", default="features.1,features.2,features.3", help="layers to explain")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", default=None, help="write every row here")
    args = parser.parse_args(argv)

    from filterspeak.flows.build import build
    from filterspeak.flows.evaluate import evaluate
    from filterspeak.options import BuildOptions

    default = BuildOptions()
    configurations = [
        (f"width {width}", {"width": int(width)}, layer) for width in args.widths.split(",") for layer in args.layers.split(",")
    ]
    configurations += [
        (f"width {default.width}, random init", {"epochs": 0}, "features.3"),
        (f"width {default.width}, 8 concept filters", {"concept_filters": 8}, "features.3"),
    ]
    rows = []
    header = (
        "| backbone | layer | filters | test accuracy | retrieval mAP | probe | ratio | grounding | best filter | ratio | part locator |"
    )
    print(header + "\n|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for name, changes, layer in configurations:
        clock = time.perf_counter()
        options = BuildOptions(device=args.device, layer=layer, **changes)
        report = build(store=args.store, options=options, progress=False, latest=False)
        built = time.perf_counter() - clock
        record = evaluate(
            store=args.store,
            backbone=options.backbone_spec.name,
            layer=layer,
            device=args.device,
            progress=False,
            metrics=("grounding", "retrieval"),
        )
        m = record.metrics
        row = {
            "backbone": options.backbone_spec.name,
            "name": name,
            "layer": layer,
            "filters": report.metrics.get("filters"),
            "test_accuracy": record.context["test_accuracy"],
            "build_seconds": built,
            "evaluate_seconds": time.perf_counter() - clock - built,
            **{
                k: m.get(k)
                for k in ("retrieval_map", "retrieval_probe_map", "grounding_accuracy", "grounding_best_filter", "grounding_part_locator")
            },
        }
        rows.append(row)
        print(
            f"| {name} | {layer} | {row['filters']} | {row['test_accuracy']:.3f} | {row['retrieval_map']:.3f} | "
            f"{row['retrieval_probe_map']:.3f} | {_ratio(row['retrieval_map'], row['retrieval_probe_map'])} | "
            f"{row['grounding_accuracy']:.3f} | {row['grounding_best_filter']:.3f} | "
            f"{_ratio(row['grounding_accuracy'], row['grounding_best_filter'])} | {row['grounding_part_locator']:.3f} |",
            flush=True,
        )
    best_probe = max(rows, key=lambda r: r["retrieval_probe_map"])
    best_filter = max(rows, key=lambda r: r["grounding_best_filter"])
    best_method = max(rows, key=lambda r: (r["retrieval_map"], r["grounding_accuracy"]))
    print(
        f"\nhighest retrieval probe: {best_probe['retrieval_probe_map']:.3f} ({best_probe['name']}, {best_probe['layer']}); "
        f"highest best-filter grounding: {best_filter['grounding_best_filter']:.3f} ({best_filter['name']}, {best_filter['layer']}); "
        f"highest method retrieval: {best_method['retrieval_map']:.3f} ({best_method['name']}, {best_method['layer']})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
