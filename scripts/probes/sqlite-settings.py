#!/usr/bin/env python3
"""What SQLite alone allows with CareTrail's entry table, under each setting: page size, WAL
autocheckpoint and page cache, one durable commit per entry and commits of 1,000; and, beside
them, the lean layout (the canonical bytes in one column, the primary key and nothing else).

    python3 scripts/probes/sqlite-settings.py LOG [COUNT]

LOG is a CareTrail log (from `caretrail ingest` or caretrail-bench); its `entry` schema and its
first COUNT rows (default 10,000) are replayed into new files in a temporary folder, with
`journal_mode=WAL` and `synchronous=FULL` as CareTrail uses them.
"""
import os
import sqlite3
import sys
import tempfile
import time


def schema(source):
    """The entry table with its indexes and triggers, as the log declares them."""
    rows = source.execute(
        "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'entry' AND sql IS NOT NULL ORDER BY type = 'table' DESC"
    ).fetchall()
    return [sql for _, sql in rows]


def run(rows, statements, columns, page_size, autocheckpoint, cache_kib, batch):
    folder = tempfile.mkdtemp(prefix="caretrail-settings-")
    path = os.path.join(folder, "probe.sqlite")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(f"PRAGMA page_size = {page_size}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(f"PRAGMA wal_autocheckpoint = {autocheckpoint}")
    db.execute(f"PRAGMA cache_size = -{cache_kib}")
    for sql in statements:
        db.execute(sql)
    insert = f"INSERT INTO entry ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    start = time.perf_counter()
    for low in range(0, len(rows), batch):
        db.execute("BEGIN IMMEDIATE")
        db.executemany(insert, rows[low:low + batch])
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(path)
    db.close()
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
    return len(rows) / seconds, size / len(rows)


def main():
    log = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
    source = sqlite3.connect(f"file:{log}?mode=ro", uri=True)
    statements = schema(source)
    columns = [row[1] for row in source.execute("PRAGMA table_info(entry)")]
    rows = source.execute(f"SELECT {', '.join(columns)} FROM entry ORDER BY seq LIMIT ?", (count,)).fetchall()
    # The lean layout: the exact hashed bytes would be stored; the columns' text joined stands in for them (same size).
    lean_rows = [(row[columns.index("seq")], "\x1f".join("" if v is None else str(v) for v in row).encode()) for row in rows]
    lean = ["CREATE TABLE entry (seq INTEGER PRIMARY KEY, canonical BLOB NOT NULL)"]

    print(f"{len(rows)} entries of {log}; WAL, synchronous=FULL")
    print("| layout | page size | wal_autocheckpoint | cache | one commit per entry | commits of 1,000 | bytes per entry |")
    print("|---|---|---|---|---|---|---|")
    settings = [(4096, 1000, 65536), (8192, 1000, 65536), (16384, 1000, 65536), (4096, 10000, 65536), (4096, 1000, 2048)]
    for page_size, autocheckpoint, cache in settings:
        single, _ = run(rows[: count // 4], statements, columns, page_size, autocheckpoint, cache, 1)
        batched, size = run(rows, statements, columns, page_size, autocheckpoint, cache, 1000)
        print(f"| entry table, every index | {page_size} | {autocheckpoint} | {cache // 1024} MiB | {single:,.0f}/s | {batched:,.0f}/s | {size:,.0f} |")
    for page_size in (4096, 16384):
        single, _ = run(lean_rows[: count // 4], lean, ["seq", "canonical"], page_size, 1000, 65536, 1)
        batched, size = run(lean_rows, lean, ["seq", "canonical"], page_size, 1000, 65536, 1000)
        print(f"| lean: seq + canonical bytes | {page_size} | 1000 | 64 MiB | {single:,.0f}/s | {batched:,.0f}/s | {size:,.0f} |")


if __name__ == "__main__":
    main()
