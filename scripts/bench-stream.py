#!/usr/bin/env python3
"""Benchmark: `caretrail stream` to a real rsyslog over TLS on loopback.

Usage: bench-stream.py [--caretrail .build/release/caretrail] [--db PATH] [--calls N]
                       [--formats rfc5424-fhir,rfc5424-json,cef,jsonl] [--lag-samples 20]

Builds the log when --db does not exist yet (the synthetic workload of
scripts/gen_workload.py, N calls), makes a test CA and certificates with openssl,
starts rsyslogd (gtls, direct queue, writing what it receives to a file), and measures:
- backlog delivery: `caretrail stream --once --from-seq 1` of the whole log per format, in
  entries/s, with the stream's peak RSS;
- live lag: with `caretrail stream` following, one call at a time is appended (`caretrail
  ingest`); the lag is the time from the append's return (durable) to the entry's arrival in
  rsyslog's file.
"""
import argparse, os, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

def sh(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

def wait_listening(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("rsyslogd did not start")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--caretrail", default=".build/release/caretrail")
    ap.add_argument("--db", default="/tmp/caretrail-stream-bench.sqlite")
    ap.add_argument("--calls", type=int, default=200000)
    ap.add_argument("--formats", default="rfc5424-fhir,rfc5424-json,cef,jsonl")
    ap.add_argument("--lag-samples", type=int, default=20)
    a = ap.parse_args()
    ct = os.path.abspath(a.caretrail)
    work = tempfile.mkdtemp(prefix="caretrail-stream-bench-")
    if not os.path.exists(a.db):
        gen = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gen_workload.py")
        workload = os.path.join(work, "workload.jsonl")
        with open(workload, "w") as f:
            subprocess.run([sys.executable, gen, str(a.calls)], check=True, stdout=f)
        sh(ct, "init", "--db", a.db)
        sh(ct, "ingest", "--db", a.db, workload)
    head = int(subprocess.run([ct, "head", "--db", a.db], check=True, capture_output=True, text=True).stdout.split('"seq":')[1].split("}")[0].split(",")[0])

    # A test PKI.
    for args in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=Bench CA"],
                 ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]):
        sh("openssl", *args, cwd=work)
    with open(os.path.join(work, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    sh("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-out", "server.pem", "-days", "1", "-extfile", "san.ext", cwd=work)

    port = free_port()
    out = os.path.join(work, "received.log")
    with open(os.path.join(work, "rsyslog.conf"), "w") as f:
        f.write(f'''global(workDirectory="{work}" maxMessageSize="256k" defaultNetstreamDriverCAFile="{work}/ca.pem"
       defaultNetstreamDriverCertFile="{work}/server.pem" defaultNetstreamDriverKeyFile="{work}/server.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
main_queue(queue.type="Direct")
template(name="asReceived" type="string" string="%rawmsg%\\n")
input(type="imtcp" port="{port}")
action(type="omfile" file="{out}" template="asReceived")
''')
    rsyslog = subprocess.Popen(["rsyslogd", "-n", "-f", f"{work}/rsyslog.conf", "-i", f"{work}/rsyslog.pid"])
    wait_listening(port)
    to = f"syslog+tls://127.0.0.1:{port}"
    print(f"log: {head} entries; collector: rsyslog over TLS on 127.0.0.1:{port}")
    print("| format | entries/s | peak RSS (MiB) |\n|---|---|---|")
    try:
        for fmt in a.formats.split(","):
            # A wrapper process of its own, so the peak RSS is this stream's alone.
            measure = ("import resource, subprocess, sys, time; t = time.perf_counter(); subprocess.run(sys.argv[1:], check=True, "
                       "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
                       "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
            result = subprocess.run([sys.executable, "-c", measure, ct, "stream", "--db", a.db, "--to", to, "--ca", f"{work}/ca.pem",
                                     "--format", fmt, "--from-seq", "1", "--once"], check=True, capture_output=True, text=True)
            elapsed, rss = result.stdout.split()
            print(f"| `{fmt}` | {head / float(elapsed):,.0f} | {int(rss) / 1024:.0f} |", flush=True)
            open(out, "w").close()

        # Live lag: follow, append one call at a time.
        follower = subprocess.Popen([ct, "stream", "--db", a.db, "--to", to, "--ca", f"{work}/ca.pem", "--format", "rfc5424-json"],
                                    stderr=subprocess.DEVNULL)
        time.sleep(1)
        one = os.path.join(work, "one.jsonl")
        with open(one, "w") as f:
            f.write('{"tenant_id":"hospital-1","conversation_id":"c","user_id":"u","model":"m","tool_name":"get_labs",'
                    '"purpose_of_use":"TREAT","patient_id":"P1","result":{"ok":true}}\n')
        lags = []
        for _ in range(a.lag_samples):
            sh(ct, "ingest", "--db", a.db, one)
            appended = time.perf_counter()
            seq = int(subprocess.run([ct, "head", "--db", a.db], check=True, capture_output=True, text=True).stdout.split('"seq":')[1].split("}")[0].split(",")[0])
            needle = f'seq="{seq}"'.encode()
            while True:
                with open(out, "rb") as f:
                    if needle in f.read():
                        break
                time.sleep(0.005)
            lags.append((time.perf_counter() - appended) * 1000)
            time.sleep(0.3)
        follower.send_signal(signal.SIGTERM)
        follower.wait()
        lags.sort()
        print(f"\nlive lag over {len(lags)} appends: median {statistics.median(lags):.0f} ms, "
              f"p95 {lags[int(0.95 * (len(lags) - 1))]:.0f} ms, max {lags[-1]:.0f} ms")
    finally:
        rsyslog.terminate()
        rsyslog.wait()
        shutil.rmtree(work, ignore_errors=True)

main()
