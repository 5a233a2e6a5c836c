#!/usr/bin/env python3
"""The floor of CareTrail's own PostgreSQL schema with many writers: what the database alone
allows for the rows an append writes (spine, canonical bytes, the keys reports and lookups
use, the patients' report records, tool-call counts and counters), with every commit taking
the log's lock and reading the head under it, and no CareTrail work at all (no HTTP, no
sanitising, no detection).

    schema_floor.py DSN WRITERS BATCH SECONDS

DSN is a database holding a CareTrail log (a copy: this script appends entries whose hashes
link but are not the hash of their content, so the log no longer verifies). Its entries are
the templates: each writer loops BEGIN; the next BATCH templates copied into staging tables;
caretrail_begin_append() (the lock, then the head); the templates renumbered after the head and
moved by the statement CareTrail sends (the same tables, indexes, triggers and upserts; keep
INSERT below in step with `PendingRows.send` in Sources/AuditPostgres); COMMIT (fsync and
synchronous_commit as the server is set). Prints one JSON line with the entries committed per
second across all writers.
"""
import hashlib
import json
import math
import os
import sys
import time
from collections import defaultdict

import psycopg

from chain_lock_floor import run_writers

# The buckets of tool-call durations, as `ToolStatistics.bucket` makes them.
BUCKETS_PER_E = 50.0
ZERO_BUCKET = -(2**31)

# Each writer's staging tables: a batch is copied into them before the lock is taken.
STAGING = [
    ("st_chain", "s bigint, p bytea, e bytea, t text"),
    ("st_entry", "s bigint, k text, c bytea"),
    ("st_key", "k smallint, v text, s bigint, t text"),
    ("st_access", "p text, s bigint, r bytea"),
    ("st_call", "s bigint, t text, d text, f boolean, ms double precision, u text"),
    ("st_day", "t text, d text, n bigint, f bigint, timed bigint, total double precision"),
    ("st_bucket", "t text, d text, b bigint, n bigint"),
    ("st_user", "t text, d text, u text"),
]

# CareTrail's statement, reading the batch from the staging tables, with its sequence numbers
# (counted from 1) moved after the head read under the lock and its first link joined to it.
INSERT = """
WITH h AS (SELECT %s::bigint AS head, %s::bytea AS first_prev
), spine AS (
    INSERT INTO caretrail_chain (seq, prev_hash, entry_hash, recorded_at)
    SELECT s + h.head, CASE WHEN s = 1 THEN h.first_prev ELSE p END, e, t FROM h, st_chain
), content AS (
    INSERT INTO caretrail_entry (seq, kind, canonical) SELECT s + h.head, k, c FROM h, st_entry
), keys AS (
    INSERT INTO caretrail_key (kind, key, seq, event_time) SELECT k, v, s + h.head, t FROM h, st_key
), accesses AS (
    INSERT INTO caretrail_access (patient, seq, record) SELECT p, s + h.head, r FROM h, st_access
), calls AS (
    INSERT INTO caretrail_call (seq, tool_name, day, failed, duration_ms, user_id) SELECT s + h.head, t, d, f, ms, u FROM h, st_call
), tool_days AS (
    INSERT INTO caretrail_tool_day AS c (tool_name, day, calls, failures, timed, duration_sum) SELECT * FROM st_day
    ON CONFLICT (tool_name, day) DO UPDATE SET calls = c.calls + excluded.calls, failures = c.failures + excluded.failures,
    timed = c.timed + excluded.timed, duration_sum = c.duration_sum + excluded.duration_sum
), tool_durations AS (
    INSERT INTO caretrail_tool_day_duration AS c (tool_name, day, bucket, calls) SELECT * FROM st_bucket
    ON CONFLICT (tool_name, day, bucket) DO UPDATE SET calls = c.calls + excluded.calls
), tool_users AS (
    INSERT INTO caretrail_tool_day_user (tool_name, day, user_id) SELECT * FROM st_user ON CONFLICT DO NOTHING
)
SELECT 1
"""


def templates(dsn, count):
    """The first `count` entries with content, each with its keys, records and call."""
    with psycopg.connect(dsn) as db:
        entries = db.execute(
            "SELECT seq, kind, canonical FROM caretrail_entry ORDER BY seq LIMIT %s", (count,)).fetchall()
        last = entries[-1][0]
        keys, records, calls = defaultdict(list), defaultdict(list), {}
        for kind, key, seq, time_ in db.execute(
                "SELECT kind, key, seq, event_time FROM caretrail_key WHERE seq <= %s", (last,)):
            keys[seq].append((kind, key, time_))
        for patient, seq, record in db.execute(
                "SELECT patient, seq, record FROM caretrail_access WHERE seq <= %s", (last,)):
            records[seq].append((patient, record))
        for row in db.execute(
                "SELECT seq, tool_name, day, failed, duration_ms, user_id FROM caretrail_call WHERE seq <= %s", (last,)):
            calls[row[0]] = row[1:]
    return [(kind, canonical, keys[seq], records[seq], calls.get(seq)) for seq, kind, canonical in entries]


def prepared(batch, entries, cursor):
    """A batch's rows per staging table: sequence numbers 1...batch, linked from a random
    start (the first link is joined to the head in SQL)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    rows = {name: [] for name, _ in STAGING}
    days, buckets, users = {}, defaultdict(int), set()
    previous = os.urandom(32)
    for seq in range(1, batch + 1):
        kind, canonical, keys, records, call = entries[(cursor + seq) % len(entries)]
        digest = hashlib.sha256(previous + canonical).digest()
        rows["st_chain"].append((seq, previous, digest, now))
        rows["st_entry"].append((seq, kind, canonical))
        rows["st_key"].extend((key_kind, key, seq, event_time) for key_kind, key, event_time in keys)
        rows["st_access"].extend((patient, seq, record) for patient, record in records)
        if call:
            tool, day, failed, duration, user = call
            rows["st_call"].append((seq, tool, day, failed, duration, user))
            total = days.setdefault((tool, day), [0, 0, 0, 0.0])
            total[0] += 1
            total[1] += 1 if failed else 0
            if duration is not None:
                total[2] += 1
                total[3] += duration
                buckets[(tool, day, round(math.log(duration) * BUCKETS_PER_E) if duration > 0 else ZERO_BUCKET)] += 1
            users.add((tool, day, user))
        previous = digest
    rows["st_day"] = [(tool, day, *total) for (tool, day), total in days.items()]
    rows["st_bucket"] = [(*key, calls) for key, calls in buckets.items()]
    rows["st_user"] = list(users)
    return rows


def writer(dsn, batch, entries, until, counter):
    done, cursor = 0, 0
    with psycopg.connect(dsn) as db:
        for name, columns in STAGING:
            db.execute(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DELETE ROWS")
        db.commit()
        while time.time() < until:
            rows = prepared(batch, entries, cursor)
            cursor += batch
            with db.transaction():
                # The batch reaches the database before the lock is taken, as CareTrail's
                # batches are parsed and encoded before it.
                with db.cursor() as staging:
                    for name, _ in STAGING:
                        with staging.copy(f"COPY {name} FROM STDIN") as copy:
                            for row in rows[name]:
                                copy.write_row(row)
                head, head_hash, _ = db.execute("SELECT seq, entry_hash, month FROM caretrail_begin_append()").fetchone()
                db.execute(INSERT, [head, head_hash])
            done += batch
    with counter.get_lock():
        counter.value += done


def main():
    dsn, writers, batch, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    entries = templates(dsn, max(batch * 4, 4000))
    count, elapsed = run_writers(writer, writers, seconds, dsn, batch, entries)
    print(json.dumps({"writers": writers, "batch": batch, "entries": count, "seconds": round(elapsed, 2),
                      "rate": round(count / elapsed)}))


if __name__ == "__main__":
    main()
