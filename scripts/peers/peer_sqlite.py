#!/usr/bin/env python3
"""Peer A, the naive SQLite design teams write first: one table `audit_logs(id INTEGER PRIMARY
KEY, data TEXT)` in WAL mode with SQLite's default settings. For each call it hashes the PII
fields with unsalted SHA-256, links a hash chain over five fields, `json.dumps` the entry, then
runs one INSERT and one COMMIT.

    peer_sqlite.py WORKLOAD.jsonl DATABASE [COUNT]

Prints one JSON line: {"peer": "A", "calls": N, "seconds": S, "rate": N/S, "bytes_per_entry": B}.
"""
import hashlib
import json
import os
import sqlite3
import sys
import time

PII = ("patient_id", "patient_name", "name", "date_of_birth", "ssn", "phone", "email", "address", "mrn")


def scrub(value):
    """Unsalted SHA-256 of every PII field, at any depth."""
    if isinstance(value, dict):
        return {k: (hashlib.sha256(str(v).encode()).hexdigest() if k in PII and not isinstance(v, (dict, list)) else scrub(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def main():
    workload, database = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else None
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(database + suffix):
            os.remove(database + suffix)
    lines = open(workload, encoding="utf-8").read().splitlines()
    if count:
        lines = lines[:count]
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE audit_logs (id INTEGER PRIMARY KEY, data TEXT)")
    previous = "0" * 64
    start = time.perf_counter()
    for line in lines:
        call = scrub(json.loads(line))
        link = "|".join(str(call.get(k, "")) for k in ("timestamp", "user_id", "tool_name", "patient_id")) + "|" + previous
        previous = hashlib.sha256(link.encode()).hexdigest()
        call["prev_hash"], call["hash"] = call.get("prev_hash", None), previous
        db.execute("BEGIN")
        db.execute("INSERT INTO audit_logs (data) VALUES (?)", (json.dumps(call),))
        db.execute("COMMIT")
    seconds = time.perf_counter() - start
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    size = os.path.getsize(database)
    print(json.dumps({"peer": "A", "calls": len(lines), "seconds": round(seconds, 3), "rate": round(len(lines) / seconds),
                      "bytes_per_entry": round(size / len(lines))}))


if __name__ == "__main__":
    main()
