#!/usr/bin/env python3
"""The floor of one chain with many writers on PostgreSQL: what the database alone allows when
every commit takes one advisory lock, reads the head under it and inserts a batch of rows
linked to it, with no CareTrail work at all (no sanitising, no detection, no HTTP).

    chain_lock_floor.py DSN WRITERS BATCH SECONDS

WRITERS client processes (the servers) each loop: BEGIN; pg_advisory_xact_lock; read the
head; INSERT BATCH rows of about 1 KB (sequence number, previous hash, SHA-256, bytes) in one
statement; COMMIT (fsync and synchronous_commit as the server is set). Prints one JSON line
with the rows committed per second across all writers.
"""
import hashlib
import json
import multiprocessing
import os
import sys
import time

import psycopg

PAYLOAD = os.urandom(1000)


def writer(dsn, batch, until, counter):
    done = 0
    with psycopg.connect(dsn) as db:
        while time.time() < until:
            with db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(7100)")
                row = db.execute("SELECT seq, hash FROM floor_chain ORDER BY seq DESC LIMIT 1").fetchone()
                seq, previous = row if row else (0, b"\0" * 32)
                rows = []
                for _ in range(batch):
                    seq += 1
                    digest = hashlib.sha256(previous + PAYLOAD).digest()
                    rows.append((seq, previous, digest, PAYLOAD))
                    previous = digest
                with db.cursor() as cursor:
                    cursor.executemany("INSERT INTO floor_chain VALUES (%s, %s, %s, %s)", rows)
            done += batch
    with counter.get_lock():
        counter.value += done


def run_writers(target, writers, seconds, *args):
    """Runs `target(*args, until, counter)` in `writers` processes for `seconds`; returns what
    they added to the counter and the seconds they took."""
    counter = multiprocessing.Value("q", 0)
    until = time.time() + seconds
    processes = [multiprocessing.Process(target=target, args=(*args, until, counter)) for _ in range(writers)]
    start = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return counter.value, time.perf_counter() - start


def main():
    dsn, writers, batch, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    with psycopg.connect(dsn, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS floor_chain")
        db.execute("CREATE TABLE floor_chain (seq bigint PRIMARY KEY, prev bytea UNIQUE, hash bytea, body bytea)")
    rows, elapsed = run_writers(writer, writers, seconds, dsn, batch)
    print(json.dumps({"writers": writers, "batch": batch, "rows": rows, "seconds": round(elapsed, 2),
                      "rate": round(rows / elapsed)}))


if __name__ == "__main__":
    main()
