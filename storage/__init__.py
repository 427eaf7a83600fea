"""The store: where every table and artifact lives, how it is written, keyed and queried.

One module per concern: `paths` resolves locations, `fingerprint` computes cache keys,
`parquet` is the only Parquet writer, `schemas` declares every table, `manifest` records what a
stage produced, `cache` decides reuse vs recompute, `catalog` exposes the tables to DuckDB.
"""

from filterspeak.storage.paths import StorePaths, resolve_store

__all__ = ["StorePaths", "resolve_store"]
