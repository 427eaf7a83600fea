"""The `explain` flow: sentences for new image files, as a Prefect run (the `explain` deployment).

Composition only: the work is `filterspeak.api.explain.explain_image_files`, the same function the
`filterspeak explain` command calls; the flow adds run logs and a table artifact for the UI.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from filterspeak.api.explain import explain_image_files
from filterspeak.flows.artifacts import publish_explain_artifact
from filterspeak.storage.paths import StorePaths


@flow(name="explain", log_prints=True)
def explain(
    images: list[str],
    store: str | None = None,
    backbone: str | None = None,
    layer: str | None = None,
    device: str = "auto",
    heatmaps: str | None = None,
) -> list[str]:
    """One sentence per image file, in order, with the store's latest build (or the named
    backbone/layer); with `heatmaps`, a folder that gets a heat map per cited attribute."""
    results = explain_image_files(StorePaths.at(store), images, backbone, layer, device, heatmaps=heatmaps)
    logger = get_run_logger()
    for item in results:
        logger.info(f"{item.path}: {item.sentence} (p={item.probability:.2f})")
    publish_explain_artifact(
        [
            {
                "image": item.path,
                "class": item.class_name,
                "probability": round(item.probability, 4),
                "sentence": item.sentence,
                **({"heatmaps": ", ".join(file for _, file in item.heatmaps)} if heatmaps else {}),
            }
            for item in results
        ]
    )
    return [item.sentence for item in results]
