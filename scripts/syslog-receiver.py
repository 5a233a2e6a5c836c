#!/usr/bin/env python3
"""A syslog collector for tests: accepts TCP (or TLS with --cert/--key) connections on
127.0.0.1:PORT, reads octet-counted frames (RFC 6587), and appends each message, one per line,
to OUT. Prints "ready" once listening. Runs until killed, and at most 60 seconds."""
import os, socket, ssl, sys, threading

def main():
    args = sys.argv[1:]
    port, out = int(args[0]), args[1]
    cert = args[args.index("--cert") + 1] if "--cert" in args else None
    key = args[args.index("--key") + 1] if "--key" in args else None
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(8)
    context = None
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
    lock = threading.Lock()
    threading.Timer(60, lambda: os._exit(0)).start()
    print("ready", flush=True)

    def serve(connection):
        try:
            if context:
                connection = context.wrap_socket(connection, server_side=True)
            data = b""
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data += chunk
                while b" " in data:
                    space = data.index(b" ")
                    length = int(data[:space])
                    if len(data) < space + 1 + length:
                        break
                    message = data[space + 1:space + 1 + length]
                    data = data[space + 1 + length:]
                    with lock, open(out, "ab") as f:
                        f.write(message.replace(b"\n", b"\\n") + b"\n")
        except (ssl.SSLError, OSError):
            pass
        finally:
            # Closing after the sender's end is what confirms a session to CareTrail.
            connection.close()

    while True:
        connection, _ = server.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()

main()
