"""Human-readable end-of-build summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from filterspeak.flows.build import BuildReport


def weights_line(metrics: dict) -> str:
    """Where the network's weights came from, from a build report's metrics (the backbone stage's)."""
    source = metrics.get("weights_source") or ""
    if metrics.get("shipped_dataset_matches") is False:
        source += " (WARNING: this dataset's images or planted concepts are not those the shipped weights were trained on)"
    sha256 = metrics.get("weights_sha256")
    return f"{source}, sha256 {sha256[:12]}" if sha256 else source


def format_report(report: BuildReport) -> str:
    metrics = report.metrics
    lines = [
        f"FilterSpeak build {report.run_id}",
        f"  store:           {report.store}",
        f"  backbone:        {report.backbone} (layer {', '.join(report.layers)}; {metrics['filters']} filters in {report.layer})",
        f"  weights:         {weights_line(metrics)}",
        f"  dataset:         {metrics['images']} images, {metrics['captions']} captions",
        f"  test accuracy:   {metrics['test_accuracy']:.3f} (decisions decomposed by {metrics['decomposition']})",
        f"  vocabulary size: {metrics['vocabulary_size']} attributes",
        "  stages:",
    ]
    several = len(report.layers) > 1
    for record in report.stages:
        state = "reused" if record.reused else "recomputed"
        label = f"{record.stage} [{record.layer}]" if several and record.layer else record.stage
        lines.append(f"    {label:<28} {state:<11} {record.seconds:8.2f} s")
    if several:
        lines.append("  test accuracy by layer: " + ", ".join(f"{k} {v:.3f}" for k, v in metrics["test_accuracy_by_layer"].items()))
    lines.append(f"  total:           {report.seconds:.1f} s")
    if report.examples:
        lines.append("  example sentences:")
        lines.extend(f"    - {sentence}" for sentence in report.examples)
    for layer, index in report.reports.items():
        lines.append(f"  report:          {index}" + (f" ({layer})" if len(report.reports) > 1 else ""))
    lines.append(f'  query it:        filterspeak sql --store {report.store} "SELECT * FROM filter_attributes LIMIT 5"')
    return "\n".join(lines)
