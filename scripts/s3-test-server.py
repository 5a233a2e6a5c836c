#!/usr/bin/env python3
"""A real S3-compatible server on loopback for the archive tests: moto's server (PyPI).

    s3-test-server.py --port PORT --bucket NAME [--fail-after-puts N]

Starts moto's S3 server, creates the bucket and listens on 127.0.0.1:PORT until killed. With
--fail-after-puts, a front server on PORT passes requests to moto unchanged, but from the
(N+1)th PUT on reads half of the upload's body and drops the connection: a server that fails
mid-upload. Prints "ready" once the bucket exists.
"""
import argparse
import http.client
import http.server
import socket
import sys
import threading

from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--fail-after-puts", type=int)
    args = parser.parse_args()

    moto_port = args.port if args.fail_after_puts is None else free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    connection = http.client.HTTPConnection("127.0.0.1", moto_port, timeout=10)
    connection.request("PUT", f"/{args.bucket}", headers={"Content-Length": "0"})
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        print(f"cannot create the bucket: HTTP {response.status}", file=sys.stderr)
        return 1

    if args.fail_after_puts is not None:
        puts = {"count": 0}
        lock = threading.Lock()

        class Front(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                if self.command == "PUT":
                    with lock:
                        puts["count"] += 1
                        failing = puts["count"] > args.fail_after_puts
                    if failing:
                        self.rfile.read(length // 2)
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection("127.0.0.1", moto_port, timeout=30)
                headers = {key: value for key, value in self.headers.items() if key.lower() != "connection"}
                upstream.request(self.command, self.path, body=body, headers=headers)
                reply = upstream.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for key, value in reply.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = forward

        front = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Front)
        threading.Thread(target=front.serve_forever, daemon=True).start()

    print("ready", flush=True)
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
