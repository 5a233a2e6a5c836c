#!/usr/bin/env python3
"""The disk's floor for one durable commit per call: how many 4 KiB writes followed by
`fdatasync` this machine completes per second, appending (as a WAL grows) and overwriting
(as a reused WAL is written). No design that makes every call durable alone, one after the
other, can commit faster than this.

    python3 scripts/probes/fsync-floor.py [COUNT] [FOLDER]
"""
import os
import sys
import tempfile
import time


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    folder = sys.argv[2] if len(sys.argv) > 2 else tempfile.gettempdir()
    path = os.path.join(folder, f"fsync-floor-{os.getpid()}.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = b"x" * 4096
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(fd, block)
            os.fdatasync(fd)
        append = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(count):
            os.pwrite(fd, block, 0)
            os.fdatasync(fd)
        overwrite = time.perf_counter() - start
    finally:
        os.close(fd)
        os.remove(path)
    print(f"append 4 KiB + fdatasync:    {count / append:,.0f}/s ({append / count * 1e6:.0f} µs each)")
    print(f"overwrite 4 KiB + fdatasync: {count / overwrite:,.0f}/s ({overwrite / count * 1e6:.0f} µs each)")


if __name__ == "__main__":
    main()
