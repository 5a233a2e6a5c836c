#!/usr/bin/env python3
"""Peer B, the PostgreSQL JSONB design: `audit_logs(id serial primary key, data jsonb)` on
PostgreSQL with its default settings (fsync and synchronous_commit on), on loopback, through
psycopg. The same scrubbing and chain as peer A.

    peer_postgres.py DSN WORKLOAD.jsonl MODE [COUNT]

MODE is `single` (one INSERT + COMMIT per call, one client), `clients4` (the same from 4
client processes, each with its own slice) or `copy` (COPY in transactions of 1,000).
Prints one JSON line with the rate and, for `copy`, the bytes per entry of the table.
"""
import json
import multiprocessing
import sys
import time

import psycopg

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from peer_sqlite import scrub  # noqa: E402
import hashlib  # noqa: E402


def prepare(lines):
    previous = "0" * 64
    out = []
    for line in lines:
        call = scrub(json.loads(line))
        link = "|".join(str(call.get(k, "")) for k in ("timestamp", "user_id", "tool_name", "patient_id")) + "|" + previous
        previous = hashlib.sha256(link.encode()).hexdigest()
        call["hash"] = previous
        out.append(call)
    return out


def reset(dsn):
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS audit_logs")
        db.execute("CREATE TABLE audit_logs (id serial PRIMARY KEY, data jsonb)")


def insert_each(dsn, lines):
    with psycopg.connect(dsn) as db:
        for call in prepare(lines):
            db.execute("INSERT INTO audit_logs (data) VALUES (%s)", (json.dumps(call),))
            db.commit()


def main():
    dsn, workload, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    count = int(sys.argv[4]) if len(sys.argv) > 4 else None
    lines = open(workload, encoding="utf-8").read().splitlines()
    if count:
        lines = lines[:count]
    reset(dsn)
    start = time.perf_counter()
    if mode == "single":
        insert_each(dsn, lines)
    elif mode == "clients4":
        slices = [lines[i::4] for i in range(4)]
        processes = [multiprocessing.Process(target=insert_each, args=(dsn, s)) for s in slices]
        for p in processes:
            p.start()
        for p in processes:
            p.join()
    elif mode == "copy":
        with psycopg.connect(dsn) as db:
            for low in range(0, len(lines), 1000):
                with db.cursor().copy("COPY audit_logs (data) FROM STDIN") as copy:
                    for call in prepare(lines[low:low + 1000]):
                        copy.write_row((json.dumps(call),))
                db.commit()
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - start
    result = {"peer": f"B-{mode}", "calls": len(lines), "seconds": round(seconds, 3), "rate": round(len(lines) / seconds)}
    if mode == "copy":
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute("VACUUM ANALYZE audit_logs")
            size = db.execute("SELECT pg_total_relation_size('audit_logs')").fetchone()[0]
        result["bytes_per_entry"] = round(size / len(lines))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
