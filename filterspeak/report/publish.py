"""Publishing a build's report (the `report` stage's site) where a user opens it, and the store's
index of reports.

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

from filterspeak.errors import FilterSpeakError
from filterspeak.report.content import OtherReport
from filterspeak.report.pictures import link_or_copy
from filterspeak.storage.paths import StorePaths, safe_segment

MARKER = ".filterspeak-report"  # names the build a published folder came from; only such folders are replaced


class ReportFolderError(FilterSpeakError):
    pass


def report_folder(paths: StorePaths, backbone: str, layer: str) -> Path:
    return paths.root / "report" / safe_segment(backbone) / safe_segment(layer)


def _copy_site(site: Path, target: Path, origin: dict) -> None:
    """`site` as `target`: linked into a sibling folder, then renamed over the old one."""
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
    from filterspeak.tasks.graph import open_build, require_stage

    build = open_build(paths, backbone, layer)
    require_stage(build, "report", "the HTML report")
    result = build.result("report")
    target = Path(out) if out is not None else report_folder(paths, build.backbone, build.layer)
    origin = {"backbone": build.backbone, "layer": build.layer, "report": result.manifest.fingerprint}
    _copy_site(result.file_path("site"), target.resolve(), origin)
    if out is None:
        write_store_index(paths)
    return target / "index.html"


def write_store_index(paths: StorePaths) -> Path:
    """`<store>/report/index.html`: a link to every published (backbone, layer) report."""
    from filterspeak.report.pages import write_reports_index

    folder = paths.root / "report"
    entries = []
    for marker in sorted(folder.glob(f"*/*/{MARKER}")):
        origin = json.loads(marker.read_text())
        entries.append(OtherReport(origin["backbone"], origin["layer"], marker.parent.relative_to(folder).as_posix() + "/index.html"))
    return write_reports_index(entries, folder)
