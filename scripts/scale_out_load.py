#!/usr/bin/env python3
"""Posts tool calls to several CareTrail servers over keep-alive connections, one call per
request, and records every acknowledgement.

    scale_out_load.py CALLS.jsonl SECRET CONNECTIONS ACKS.tsv PORT[,PORT...] [--kill PID --kill-after N]

Connection i talks to PORT[i % len(PORTS)]; each sends its next call as soon as it has its
answer. Every 201 is written to ACKS.tsv as `seq<TAB>hash` (the place the server acknowledged).
A call whose server fails is not retried: with --kill, the server PID is killed with SIGKILL
once N calls were acknowledged in all, and its connections stop. Prints one JSON line:
acknowledged, failed, seconds, calls per second.
"""
import asyncio, json, os, signal, sys, time


async def connection(index, ports, queue, secret, acks, state):
    port = ports[index % len(ports)]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        state["failed"] += 1
        return
    head = f"POST /v1/tool-calls HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {secret}\r\nContent-Type: application/json\r\n"
    while True:
        try:
            body = queue.pop()
        except IndexError:
            break
        try:
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            answer = await reader.readexactly(length) if length else b""
        except (OSError, asyncio.IncompleteReadError):
            state["failed"] += 1
            break
        if b" 201 " in status_line:
            for entry in json.loads(answer)["entries"]:
                acks.write(f"{entry['seq']}\t{entry['hash']}\n")
            state["acknowledged"] += 1
            if state["kill"] and state["acknowledged"] >= state["kill_after"]:
                os.kill(state["kill"], signal.SIGKILL)
                state["kill"] = None
        else:
            state["failed"] += 1
            status = status_line.split(b" ")[1].decode() if status_line.count(b" ") else "none"
            state["statuses"][status] = state["statuses"].get(status, 0) + 1
    writer.close()


async def main():
    calls_path, secret, connections, acks_path, ports = sys.argv[1:6]
    kill = int(sys.argv[sys.argv.index("--kill") + 1]) if "--kill" in sys.argv else None
    kill_after = int(sys.argv[sys.argv.index("--kill-after") + 1]) if "--kill-after" in sys.argv else 0
    with open(calls_path, "rb") as handle:
        queue = [line.rstrip(b"\n") for line in handle if line.strip()]
    queue.reverse()
    ports = [int(port) for port in ports.split(",")]
    state = {"acknowledged": 0, "failed": 0, "statuses": {}, "kill": kill, "kill_after": kill_after}
    started = time.monotonic()
    with open(acks_path, "w") as acks:
        await asyncio.gather(*(connection(i, ports, queue, secret, acks, state) for i in range(int(connections))))
    seconds = time.monotonic() - started
    state.pop("kill")
    state.update(seconds=round(seconds, 2), calls_per_second=round(state["acknowledged"] / seconds))
    print(json.dumps(state))


asyncio.run(main())
