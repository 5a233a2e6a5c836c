#!/usr/bin/env python3
"""What each secondary index costs SQLite on this machine, with CareTrail's row shape.

Inserts 200,000 rows of about 1 KB (WAL, synchronous=FULL, commits of 1,000 rows) into a table
with the key distributions of scripts/gen_workload.py (20,000 patients and 300 users at
random, conversations and traces in order, 8 tools), once with no secondary index, once with
each index alone and once with all of them, and prints rows per second. docs/performance.md's
Performance section quotes it. Run: python3 scripts/probes/sqlite-index-cost.py
"""
import os, random, sqlite3, tempfile, time

INDEXES = {
    "patient + time": "CREATE INDEX a ON entry(patient, ts)",
    "user + time": "CREATE INDEX b ON entry(usr, ts)",
    "conversation": "CREATE INDEX c ON entry(conv)",
    "trace": "CREATE INDEX d ON entry(trace)",
    "tool + time": "CREATE INDEX e ON entry(tool, ts)",
}


def run(indexes, n=200_000, batch=1000):
    folder = tempfile.mkdtemp()
    db = sqlite3.connect(os.path.join(folder, "probe.sqlite"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA cache_size=-65536")
    db.execute("CREATE TABLE entry(seq INTEGER PRIMARY KEY, patient TEXT, usr TEXT, conv TEXT, trace TEXT,"
               " tool TEXT, ts TEXT, body TEXT, h BLOB, p BLOB)")
    for sql in indexes:
        db.execute(sql)
    body, rnd, seq = "x" * 800, random.Random(1), 0
    start = time.time()
    for _ in range(n // batch):
        rows = []
        for _ in range(batch):
            seq += 1
            rows.append((f"PAT-{rnd.randrange(20000):06d}", f"usr-{rnd.randrange(300):04d}", f"conv-{seq // 9:07d}",
                         f"tr-{seq // 3:08d}", f"tool{rnd.randrange(8)}", f"2026-01-05T{seq:012d}", body,
                         b"1" * 32, b"2" * 32))
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO entry(patient, usr, conv, trace, tool, ts, body, h, p)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.execute("COMMIT")
    return n / (time.time() - start)


print(f"no secondary index: {run([]):,.0f} rows/s")
for name, sql in INDEXES.items():
    print(f"{name} alone: {run([sql]):,.0f} rows/s")
print(f"all five: {run(list(INDEXES.values())):,.0f} rows/s")
