"""The store: where every table and artifact lives, how it is written, keyed and queried.

One module per concern: `paths` resolves locations (`remote` for object storage), `json_files`
writes small files whole (through `filterspeak.files`), `fingerprint` computes cache keys and code
closures, `parquet` is the only Parquet writer, `schemas` declares every table (`vectors` its
per-filter list columns, `stored_maps` the columns of a feature map), `manifest` records what a
stage produced, `cache` decides reuse vs recompute, `shards` let long stages resume, `builds`,
`runs` and `evaluations` keep the records of builds, `locks` keeps two builds apart, `catalog`
(with `duckdb_session`) exposes the tables to DuckDB. Storage imports no torch and nothing above it.
"""

from filterspeak.storage.paths import StorePaths, resolve_store

__all__ = ["StorePaths", "resolve_store"]
