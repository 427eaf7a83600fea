"""A backbone that is an `nn.Module` held in this Python process (a notebook's model object).

Its identity is a content hash, like a weights file's sha256: the module's class (module and
qualified name) and every `state_dict` tensor (name, dtype, shape, bytes). The same module again
(or an equal copy) reuses every stored stage; one changed weight is another backbone, whose
stages from extraction on are computed. The build options name it by that hash
(`memory:<Class>:<sha256>`), so a build record stays plain JSON; the module itself is kept here,
copied when registered (later edits of the user's object do not leak into a build) and copied
again for each stage that runs it (a stage may move it to a device or change its memory format).

It lives in this process only: a Dask worker or a later Python session cannot rebuild it, so a
build with one on a cluster is refused, and reading a build back needs the module passed again.
"""

from __future__ import annotations

import copy
import hashlib
import threading

import torch
from torch import nn

from filterspeak.errors import FilterSpeakError

PREFIX = "memory:"
_MODULES: dict[str, nn.Module] = {}  # content hash -> the registered private copy
_LOCK = threading.Lock()


class InMemoryModelError(FilterSpeakError, ValueError):
    """An in-memory model that cannot be used where it was asked for; one line for the user."""


def content_hash(module: nn.Module) -> str:
    """sha256 over the module's class and its state_dict tensors (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256(f"{type(module).__module__}.{type(module).__qualname__}".encode())
    for name, tensor in module.state_dict().items():
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"|{name}|{flat.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b"")
    return digest.hexdigest()


def register(module: nn.Module) -> str:
    """Keep a private copy of `module` in this process; its reference for `BuildOptions.backbone`."""
    if not isinstance(module, nn.Module):
        raise InMemoryModelError(f"model must be a torch.nn.Module, got {type(module).__name__}")
    digest = content_hash(module)
    with _LOCK:
        if digest not in _MODULES:
            try:
                _MODULES[digest] = copy.deepcopy(module).to("cpu").eval()
            except Exception as error:  # a module holding an open file, a lock, a generator…
                raise InMemoryModelError(f"cannot copy the model ({type(module).__name__}): {error}") from None
    return f"{PREFIX}{type(module).__qualname__}:{digest}"


def is_reference(architecture: str) -> bool:
    return architecture.startswith(PREFIX)


def parts(reference: str) -> tuple[str, str]:
    """(class name, content hash) of a `memory:<Class>:<sha256>` reference."""
    class_name, _, digest = reference[len(PREFIX) :].rpartition(":")
    return class_name, digest


def module_copy(reference: str) -> nn.Module:
    """A fresh copy of the registered module (in eval mode), or a one-line error saying how to get it back."""
    class_name, digest = parts(reference)
    with _LOCK:
        module = _MODULES.get(digest)
        if module is None:
            raise InMemoryModelError(
                f"the in-memory model {class_name} (sha256 {digest[:12]}) is not in this Python process: pass the module "
                "again (fs.open(store, model=module) or store.build(model=module)); builds made with it stay readable as tables"
            )
        return copy.deepcopy(module).eval()
