"""Compare every catalog table of two stores: identical, equal within a relative tolerance
(float columns whose sums ran in another order), or different.

Rows are matched by ordering on the table's non-float columns (its keys); the columns that only
say where a store lives (`path`, `weights_path`) and the `runs` table are left out.
    python benchmarks/compare_stores.py OLD_STORE NEW_STORE [--rtol 1e-9]
Exits 1 when a table differs beyond the tolerance.
"""

import argparse
import sys
from pathlib import Path

import duckdb
import numpy as np
from table_hashes import LOCATION_COLUMNS, SKIP

FLOAT_TYPES = {"FLOAT", "DOUBLE"}


def _views(connection) -> set[str]:
    return {r[0] for r in connection.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()} - SKIP


def _table(connection, view: str):
    described = [(r[0], r[1]) for r in connection.sql(f"DESCRIBE {view}").fetchall() if r[0] not in LOCATION_COLUMNS]
    keys = [name for name, kind in described if kind not in FLOAT_TYPES and not kind.endswith("[]")]
    columns = ", ".join(f'"{name}"' for name, _ in described)
    order = ", ".join(f'"{name}"' for name in keys) or "ALL"
    return (
        [name for name, _ in described],
        {name for name, kind in described if kind in FLOAT_TYPES},
        connection.sql(f"SELECT {columns} FROM {view} ORDER BY {order}").fetchnumpy(),
    )


def compare(old: str, new: str, rtol: float) -> bool:
    a = duckdb.connect(str(Path(old) / "catalog.duckdb"), read_only=True)
    b = duckdb.connect(str(Path(new) / "catalog.duckdb"), read_only=True)
    same = True
    for view in sorted(_views(a) | _views(b)):
        if view not in _views(a) or view not in _views(b):
            print(f"{view:<26} only in {'new' if view in _views(b) else 'old'}")
            continue
        names_a, floats, rows_a = _table(a, view)
        names_b, _, rows_b = _table(b, view)
        if names_a != names_b or len(next(iter(rows_a.values()), [])) != len(next(iter(rows_b.values()), [])):
            print(f"{view:<26} DIFFERENT columns or row counts")
            same = False
            continue
        worst, exact = 0.0, True
        for name in names_a:
            x, y = rows_a[name], rows_b[name]
            if name in floats:
                x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
                if not np.array_equal(x, y, equal_nan=True):
                    exact = False
                    scale = np.maximum(np.abs(x), np.abs(y))
                    with np.errstate(invalid="ignore", divide="ignore"):
                        relative = np.where(scale > 0, np.abs(x - y) / scale, 0.0)
                    worst = max(worst, float(np.nanmax(relative)) if len(relative) else 0.0)
            elif not np.array_equal(np.asarray(x), np.asarray(y)):
                exact, worst = False, np.inf
        status = "identical" if exact else (f"within {worst:.1e} relative" if worst <= rtol else f"DIFFERENT (max relative {worst:.1e})")
        same &= exact or worst <= rtol
        print(f"{view:<26} {len(next(iter(rows_a.values()), [])):>9} rows  {status}")
    return same


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rtol", type=float, default=1e-9)
    arguments = parser.parse_args()
    sys.exit(0 if compare(arguments.old, arguments.new, arguments.rtol) else 1)
