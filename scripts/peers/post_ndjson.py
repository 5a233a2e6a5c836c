#!/usr/bin/env python3
"""Posts a workload to `caretrail serve` as NDJSON bodies of BATCH lines, from CLIENTS
connections at once, and prints the rate of durably acknowledged calls (201s).

    post_ndjson.py URL SECRET WORKLOAD.jsonl [BATCH] [CLIENTS]
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse


def main():
    url, secret, workload = sys.argv[1], sys.argv[2], sys.argv[3]
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    lines = open(workload, encoding="utf-8").read().splitlines()
    bodies = ["\n".join(lines[i:i + batch]).encode() for i in range(0, len(lines), batch)]
    target = urllib.parse.urlparse(url)
    acknowledged = [0] * clients
    failures = []

    def client(index):
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/x-ndjson"}
        for body in bodies[index::clients]:
            connection.request("POST", "/v1/tool-calls", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            if response.status != 201:
                failures.append((response.status, payload[:200]))
                return
            acknowledged[index] += body.count(b"\n") + 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if failures:
        raise SystemExit(f"post_ndjson: {failures[0]}")
    total = sum(acknowledged)
    print(json.dumps({"path": "http-ndjson", "calls": total, "seconds": round(seconds, 3), "rate": round(total / seconds),
                      "batch": batch, "clients": clients}))


if __name__ == "__main__":
    main()
