#!/usr/bin/env python3
"""Copies a CareTrail log into the leanest layout a verifier could read: one row per entry
holding (seq, canonical, entry_hash), where `canonical` is exactly the RFC 8785 bytes that were
hashed (rebuilt from the columns by the README's recipe). Checks every rebuilt entry against its
stored hash on the way, so the copy proves the recipe too.

Usage: python3 one-column.py LOG COPY
"""
import hashlib, json, sqlite3, sys

COLUMNS = ["action", "body", "conversation_id", "key_id", "kind", "model", "outcome", "patient_id", "patient_ids",
           "prev_hash", "purpose_of_use", "recorded_at", "seq", "tenant_id", "timestamp", "tool_name", "trace_id", "user_id"]


def canonical(row):
    members = []
    for name, value in zip(COLUMNS, row):
        if value is None:
            text = "null"
        elif name in ("body", "patient_ids"):
            text = value  # stored canonical
        elif name == "prev_hash":
            text = '"' + value.hex() + '"'
        elif name == "seq":
            text = str(value)
        else:
            text = json.dumps(value, ensure_ascii=False)
        members.append('"%s":%s' % (name, text))
    return ("{" + ",".join(members) + "}").encode()


def main(source, target):
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    dst.execute("PRAGMA journal_mode=WAL")
    dst.execute("CREATE TABLE entry (seq INTEGER PRIMARY KEY, canonical BLOB NOT NULL, entry_hash BLOB NOT NULL)")
    mismatches, rows, batch = 0, 0, []
    for row in src.execute("SELECT " + ",".join(COLUMNS) + ", entry_hash FROM entry ORDER BY seq"):
        data = canonical(row)
        mismatches += hashlib.sha256(data).digest() != row[-1]
        batch.append((row[12], data, row[-1]))
        rows += 1
        if len(batch) == 10_000:
            dst.executemany("INSERT INTO entry VALUES (?, ?, ?)", batch)
            batch = []
    dst.executemany("INSERT INTO entry VALUES (?, ?, ?)", batch)
    dst.commit()
    print(f"{rows} entries copied, {mismatches} whose rebuilt canonical bytes do not hash to the stored hash")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
