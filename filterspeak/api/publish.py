"""Publishing a build's report (the `report` stage's site) where a user opens it, and the store's
index of reports: read-side work on a finished build (`filterspeak report`, the build once
recorded, `filterspeak evaluate`), never part of a stage.

`<store>/report/<backbone>/<layer>/` holds a hard-linked copy of the last finished build's site,
replaced by a rename once the new copy is complete, so a store that is being built keeps serving
the previous build's report. `<store>/report/index.html` lists every (backbone, layer) report.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from filterspeak.api.metrics import ROWS
from filterspeak.errors import FilterSpeakError
from filterspeak.evaluation.report import headline_figures
from filterspeak.report.content import EvaluationFigure, OtherReport
from filterspeak.report.pictures import link_or_copy
from filterspeak.storage.evaluations import load_evaluation
from filterspeak.storage.paths import StorePaths, safe_segment
from filterspeak.tasks.graph import open_build, require_stage

MARKER = ".filterspeak-report"  # names the build a published folder came from; only such folders are replaced


class ReportFolderError(FilterSpeakError):
    pass


def report_folder(paths: StorePaths, backbone: str, layer: str) -> Path:
    return paths.root / "report" / safe_segment(backbone) / safe_segment(layer)


def _copy_site(site: Path, target: Path, origin: dict, index_html: str | None = None) -> None:
    """`site` as `target`: linked into a sibling folder, then renamed over the old one; with
    `index_html`, its index.html is that text instead (a new file: the link's target is the
    stored stage output, which must not change)."""
    if target.exists() and any(target.iterdir()) and not (target / MARKER).exists():
        raise ReportFolderError(f"{target} exists and is not a FilterSpeak report: choose an empty or new folder for --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # a folder as any other (mkdtemp's is private), to serve or share
    try:
        for file in site.rglob("*"):
            if file.is_file():
                link_or_copy(file, staging / file.relative_to(site))
        (staging / MARKER).write_text(json.dumps(origin, indent=2) + "\n")
        if index_html is not None:
            (staging / "index.html").unlink()
            (staging / "index.html").write_text(index_html, encoding="utf-8")
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def publish_report(paths: StorePaths, backbone: str | None = None, layer: str | None = None, out: str | os.PathLike | None = None) -> Path:
    """The `index.html` of the build's report, copied to `out` (default: the store's report folder
    of its backbone and layer, and the store's index of reports updated)."""
    build = open_build(paths, backbone, layer)
    require_stage(build, "report", "the HTML report")
    result = build.result("report")
    target = Path(out) if out is not None else report_folder(paths, build.backbone, build.layer)
    origin = {"backbone": build.backbone, "layer": build.layer, "report": result.manifest.fingerprint}
    site = result.file_path("site")
    _copy_site(site, target.resolve(), origin, _index_with_evaluation(paths, build, site))
    if out is None:
        write_store_index(paths)
    return target / "index.html"


def evaluation_figures(record: dict) -> list[EvaluationFigure]:
    """The stored evaluation's headline figures, each with its baseline and target."""
    return [EvaluationFigure(**figure) for figure in headline_figures(record, ROWS)]


def _index_with_evaluation(paths: StorePaths, build, site: Path) -> str | None:
    """The site's index.html with the store's evaluation of this build, if there is one."""
    from filterspeak.report.pages import with_evaluation

    record = load_evaluation(paths, build.backbone, build.layer, build.result("explanations").manifest.fingerprint)
    if record is None:
        return None
    command = f"filterspeak evaluate --store {paths.location} --backbone {build.backbone} --layer {build.layer}"
    return with_evaluation((site / "index.html").read_text(encoding="utf-8"), evaluation_figures(record), command)


def write_store_index(paths: StorePaths) -> Path:
    """`<store>/report/index.html`: a link to every published (backbone, layer) report."""
    from filterspeak.report.pages import write_reports_index

    folder = paths.root / "report"
    entries = []
    for marker in sorted(folder.glob(f"*/*/{MARKER}")):
        origin = json.loads(marker.read_text())
        entries.append(OtherReport(origin["backbone"], origin["layer"], marker.parent.relative_to(folder).as_posix() + "/index.html"))
    return write_reports_index(entries, folder)
