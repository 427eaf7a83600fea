"""Human-readable end-of-build summary."""

from __future__ import annotations

from filterspeak.flows.build import BuildReport


def format_report(report: BuildReport) -> str:
    metrics = report.metrics
    lines = [
        f"FilterSpeak build {report.run_id}",
        f"  store:           {report.store}",
        f"  backbone:        {report.backbone} (layer {report.layer}, {metrics['filters']} filters)",
        f"  dataset:         {metrics['images']} images, {metrics['captions']} captions",
        f"  test accuracy:   {metrics['test_accuracy']:.3f} (decisions decomposed by {metrics['decomposition']})",
        f"  vocabulary size: {metrics['vocabulary_size']} attributes",
        "  stages:",
    ]
    for record in report.stages:
        state = "reused" if record.reused else "recomputed"
        lines.append(f"    {record.stage:<13} {state:<11} {record.seconds:8.2f} s")
    lines.append(f"  total:           {report.seconds:.1f} s")
    if report.examples:
        lines.append("  example sentences:")
        lines.extend(f"    - {sentence}" for sentence in report.examples)
    lines.append(f'  query it:        filterspeak sql --store {report.store} "SELECT * FROM filter_attributes LIMIT 5"')
    return "\n".join(lines)
