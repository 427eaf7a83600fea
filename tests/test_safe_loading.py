"""Safe loading: nothing read from a user's files can run code (no unpickling anywhere in the
product), and Prefect keeps no results: tasks hand over paths and manifests, never pickles."""

from __future__ import annotations

import ast
from pathlib import Path

from prefect import Task
from prefect.cache_policies import NO_CACHE

REPO = Path(__file__).resolve().parents[1]
PRODUCT = [path for folder in ("filterspeak", "flows", "tasks", "storage") for path in sorted((REPO / folder).rglob("*.py"))]


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _keyword(call: ast.Call, name: str):
    return next((k.value.value for k in call.keywords if k.arg == name and isinstance(k.value, ast.Constant)), None)


def test_torch_load_always_with_weights_only():
    loads = [(path, call) for path in PRODUCT for call, name in _calls(path) if name == "torch.load"]
    assert loads, "expected the weights loaders to be found"
    unsafe = [f"{path.relative_to(REPO)}:{call.lineno}" for path, call in loads if _keyword(call, "weights_only") is not True]
    assert unsafe == []


def test_nothing_unpickles():
    unsafe = []
    for path in PRODUCT:
        tree = ast.parse(path.read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in ([ast.alias(node.module or "")] if isinstance(node, ast.ImportFrom) else node.names)
        }
        unsafe += [
            f"{path.relative_to(REPO)}: imports {name}"
            for name in imported & {"pickle", "dill", "joblib", "cloudpickle", "shelve", "marshal"}
        ]
        for call, name in _calls(path):
            if name.endswith(("read_pickle", ".loads")) and "json" not in name:
                unsafe.append(f"{path.relative_to(REPO)}:{call.lineno}: {name}")
            if name in ("np.load", "numpy.load") and _keyword(call, "allow_pickle") is True:
                unsafe.append(f"{path.relative_to(REPO)}:{call.lineno}: np.load(allow_pickle=True)")
    assert unsafe == []


def test_prefect_tasks_persist_and_cache_nothing():
    from filterspeak.tasks import prefect_tasks

    tasks = list(prefect_tasks.TASKS.values())
    assert all(isinstance(task, Task) for task in tasks)
    assert len(tasks) >= 8
    for task in tasks:
        assert task.persist_result is False and task.cache_policy is NO_CACHE, task.name


def test_build_flow_persists_no_result():
    from filterspeak.flows.build import build

    assert build.persist_result in (None, False)  # None: Prefect's default, which is off
