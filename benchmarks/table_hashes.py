"""A content hash of every catalog table of a store: rows in canonical order, the columns that
only say where the store lives (`path`, `weights_path`) and the `runs` table left out.

Shows that a change leaves the tables of a build identical, e.g. the same build by two commits:
    python benchmarks/table_hashes.py STORE_A > a.txt
    python benchmarks/table_hashes.py STORE_B > b.txt
    diff a.txt b.txt
"""

import hashlib
import sys
from pathlib import Path

import duckdb

LOCATION_COLUMNS = {"path", "weights_path"}  # where the store lives, not what it holds
SKIP = {"runs"}  # timestamps and run ids


def main(store: str) -> None:
    con = duckdb.connect(str(Path(store) / "catalog.duckdb"), read_only=True)
    views = [r[0] for r in con.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
    for view in views:
        if view in SKIP:
            continue
        columns = [r[0] for r in con.sql(f"DESCRIBE {view}").fetchall() if r[0] not in LOCATION_COLUMNS]
        quoted = ", ".join(f'"{c}"' for c in columns)
        rows = con.sql(f"SELECT {quoted} FROM {view} ORDER BY ALL").fetchall()
        digest = hashlib.sha256()
        for row in rows:
            digest.update(repr(row).encode())
        print(f"{view:<28} {len(rows):>9} rows  {digest.hexdigest()[:16]}  ({', '.join(columns)})")


if __name__ == "__main__":
    main(sys.argv[1])
