"""The evaluation suite's full run: the numbers that go in docs/evaluation.md.

    python benchmarks/evaluation.py [--store DIR] [--json out.json] [--device cpu]
                                    [--real-store DIR]

1. builds the documented default synthetic store (or reuses `--store`; everything is cached), the
   known-filter twin (8 planted concept filters) and the randomised twin;
2. runs `filterspeak evaluate --variants`: the metrics, their baselines, the acceptance targets
   (met or not) and every method variant of docs/evaluation.md changed one at a time, plus the
   combinations in COMBINATIONS;
3. with `--real-store` (a cub100 build, e.g. SqueezeNet features.12), retrieval mAP against
   CUB's class-level attribute truth vs random rankings, for the default and REAL_VARIANTS.
Every figure is a ratio to a baseline measured in the same run, never a hard-coded number.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from offline_environment import configure

configure()


COMBINATIONS = (
    ("mean response, counts weighting", {"response": "mean", "attribute_weighting": "counts"}),
    ("top-200 images", {"top_k_images": 200}),
    ("top-20 images, counts weighting (the first defaults)", {"top_k_images": 20, "attribute_weighting": "counts"}),
    ("top-20 images, lift correction", {"top_k_images": 20, "prior_correction": "lift"}),
    ("top-20 images, no prior correction", {"top_k_images": 20, "prior_correction": "none"}),
    ("em, no prior correction", {"estimator": "em", "prior_correction": "none"}),
)
# on the real store: each estimator other than the default (the default is the evaluated build)
REAL_VARIANTS = (("estimator em", {"estimator": "em"}), ("em, no prior correction", {"estimator": "em", "prior_correction": "none"}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="evaluation-store", help="store for the synthetic default build (reused when built)")
    parser.add_argument("--json", default=None, help="write every number here")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--real-store", default=None, help="a built cub100 store: real-data retrieval")
    args = parser.parse_args(argv)

    from filterspeak.evaluation.report import markdown_table, variants_table
    from filterspeak.flows.build import build
    from filterspeak.flows.evaluate import evaluate
    from filterspeak.options import BuildOptions

    clock = time.perf_counter()
    report = build(store=args.store, options=BuildOptions(device=args.device), progress=False)
    print(f"default build: test accuracy {report.metrics['test_accuracy']:.3f} ({time.perf_counter() - clock:.0f} s)\n")
    clock = time.perf_counter()
    record = evaluate(store=args.store, variants=True, device=args.device, progress=False, extra_variants=COMBINATIONS)
    print(
        f"evaluation of {record.context['backbone']}:{record.context['layer']} ({time.perf_counter() - clock:.0f} s; "
        f"known-filter twin {record.context['known_filter_backbone']}, planted {record.context['planted_concepts']}; "
        f"randomised twin {record.context['randomised_backbone']})\n"
    )
    print(markdown_table(record))
    shares = lambda by_region: ", ".join(f"{region} {value:.3f}" for region, value in by_region.items())
    print(f"\ngrounding accuracy by part: {shares(record.metrics.get('grounding_by_part', {}))}")
    print(f"where the misses peaked: {shares(record.metrics.get('grounding_miss_regions', {}))}")
    print("\nVariants (one option changed at a time from the defaults, then the combinations):\n")
    print(variants_table(record.variants, record.rows))
    result = {"synthetic": record.to_json()}
    if args.real_store:
        real = evaluate(store=args.real_store, device=args.device, progress=False, extra_variants=REAL_VARIANTS)
        metrics = real.metrics
        print(
            f"\nReal data ({real.context['backbone']}:{real.context['layer']} on {real.context['dataset']}, "
            f"{real.context['test_images']} test images, {metrics.get('retrieval_attributes')} attributes with class-level truth):"
        )
        print(
            f"  retrieval mAP {metrics.get('retrieval_map'):.3f} vs random {metrics.get('retrieval_random_map'):.3f} "
            f"(x{metrics.get('retrieval_map') / metrics.get('retrieval_random_map'):.2f}); class-prior oracle "
            f"{metrics.get('retrieval_class_prior_map'):.3f}; linear-probe ceiling {metrics.get('retrieval_probe_map'):.3f}"
        )
        print(f"  deletion ratio {metrics.get('deletion_ratio'):.2f}; randomisation overlap {metrics.get('randomization_overlap'):.3f}")
        print("\n" + variants_table(real.variants, real.rows))
        result["real"] = real.to_json()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=float) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
