"""The Python API and the read side of FilterSpeak: everything done with a store from Python or
from the CLI — building in plain Python (`building`), and reading a finished build back to explain
new images (`explain`), search by attribute (`search`), list failures (`failures`), compare
builds (`diff`) and evaluate (`evaluate`). `Store` and `Build` (`store`) are the objects a
notebook holds. No stage imports this package (tests/test_layers.py), so none of it is part of
a stage's cache key; the CLI and the Prefect flows are thin adapters over it.
"""

from filterspeak.api import data
from filterspeak.api.explain import Explanation
from filterspeak.api.store import Build, Store, open

__all__ = ["Build", "Explanation", "Store", "data", "open"]
