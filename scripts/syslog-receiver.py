#!/usr/bin/env python3
"""A syslog collector for tests: accepts TCP (or TLS with --cert/--key) connections on
127.0.0.1:PORT, reads octet-counted frames (RFC 6587), and appends each message, one per line,
to OUT. Prints "ready" once listening. Runs until killed, and at most 60 seconds.

--hang-up-after BYTES plays a collector stopped by its administrator: on the first connection
it waits half a second (after the TLS handshake), reads only BYTES from the socket, keeps the messages complete in them,
then hangs up as rsyslog does when stopped (TLS close_notify, then close) with the rest of the
sender's bytes unread, so the kernel answers the sender with a reset. Later connections are
served normally."""
import os, socket, ssl, sys, threading, time

def main():
    args = sys.argv[1:]
    port, out = int(args[0]), args[1]
    cert = args[args.index("--cert") + 1] if "--cert" in args else None
    key = args[args.index("--key") + 1] if "--key" in args else None
    hang_up_after = int(args[args.index("--hang-up-after") + 1]) if "--hang-up-after" in args else None
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

    def keep(data):
        """Writes the complete frames in data; returns what is left."""
        while b" " in data:
            space = data.index(b" ")
            length = int(data[:space])
            if len(data) < space + 1 + length:
                break
            message = data[space + 1:space + 1 + length]
            data = data[space + 1 + length:]
            with lock, open(out, "ab") as f:
                f.write(message.replace(b"\n", b"\\n") + b"\n")
        return data

    def hang_up(connection, limit):
        """Reads at most limit bytes, then closes with the rest unread (TLS through memory BIOs,
        so that close_notify goes out without reading on)."""
        if not context:
            time.sleep(0.5)
            keep(connection.recv(limit))
            connection.close()
            return
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_side=True)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                connection.sendall(outgoing.read())
                incoming.write(connection.recv(min(limit, 16384)))
        connection.sendall(outgoing.read())
        time.sleep(0.5)
        incoming.write(connection.recv(limit))
        data = b""
        try:
            while True:
                data += tls.read(65536)
        except ssl.SSLWantReadError:
            pass
        keep(data)
        try:
            tls.unwrap()
        except ssl.SSLWantReadError:
            pass
        connection.sendall(outgoing.read())
        connection.close()

    def serve(connection):
        try:
            if context:
                connection = context.wrap_socket(connection, server_side=True)
            data = b""
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                data = keep(data + chunk)
        except (ssl.SSLError, OSError):
            pass
        finally:
            # Closing after the sender's end is what confirms a session to CareTrail.
            connection.close()

    if hang_up_after is not None:
        connection, _ = server.accept()
        hang_up(connection, hang_up_after)
    while True:
        connection, _ = server.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()

main()
