#!/usr/bin/env python3
"""Which CareTrail module may import which: dependencies point down, storage sits at the edge.

Reads every `import` of every Swift file under Sources/ and Tests/ and fails, naming the file
and line, when a module imports one it may not. Modules not listed here (Foundation, NIO, GRDB
...) are allowed only where a rule names them. Run by scripts/validate.
"""
import pathlib
import re
import sys

SYSTEM = {"Foundation", "FoundationXML", "Dispatch", "Synchronization", "Glibc", "Darwin", "Musl"}

# For each module of ours: the modules (ours and third-party) it may import.
ALLOWED = {
    # Domain types and rules: no I/O, nothing of ours below it.
    "AuditCore": set(),
    # Canonical JSON, hashing, verification: pure.
    "AuditChain": {"AuditCore", "Crypto"},
    "AuditKeys": {"AuditCore", "Crypto"},
    # The storage ports: protocols and the records they return.
    "AuditStorage": {"AuditCore", "AuditChain"},
    # The SQLite backend, at the edge: only the library's composition root uses it.
    "AuditSQLite": {"AuditCore", "AuditChain", "AuditStorage", "GRDB", "GRDBSQLite"},
    # The PostgreSQL backend, at the edge like SQLite.
    "AuditPostgres": {
        "AuditCore", "AuditChain", "AuditStorage", "PostgresNIO", "NIOCore", "NIOPosix", "NIOConcurrencyHelpers", "NIOSSL",
        "Logging", "Foundation",
    },
    # Analysis, FHIR and SIEM read the log through the storage ports, never a backend.
    "AuditAnalysis": {"AuditCore", "AuditChain", "AuditStorage"},
    "AuditFHIR": {"AuditCore", "AuditChain", "AuditStorage"},
    "AuditExport": {"AuditCore", "AuditChain", "AuditStorage", "AuditFHIR", "NIOCore", "NIOPosix", "NIOSSL"},
    # The cold archive: segments built from and checked against the storage ports, written to
    # a directory or an S3-compatible server. It never names a backend.
    "AuditArchive": {
        "AuditCore", "AuditChain", "AuditStorage", "CompressNIO", "NIOCore", "NIOHTTP1", "Crypto", "AsyncHTTPClient",
    },
    # The library: the one door, and where a backend is chosen.
    "CareTrail": {
        "AuditCore", "AuditChain", "AuditKeys", "AuditStorage", "AuditSQLite", "AuditPostgres", "AuditAnalysis", "AuditFHIR",
        "AuditArchive",
    },
    # The HTTP server and the CLI go through the door (CareTrail), never a backend.
    "AuditServer": {
        "CareTrail", "AuditCore", "AuditChain", "AuditStorage", "AuditAnalysis", "AuditFHIR", "Hummingbird",
        "HummingbirdCore", "HummingbirdTLS", "HTTPTypes", "Prometheus", "NIOCore", "NIOSSL", "Logging", "Mustache",
    },
    "CareTrailCLI": {
        "CareTrail", "AuditCore", "AuditChain", "AuditKeys", "AuditStorage", "AuditAnalysis", "AuditFHIR", "AuditServer",
        "AuditExport", "AuditArchive", "ArgumentParser",
    },
    "caretrail": {"CareTrailCLI", "ArgumentParser"},
    # The benchmark times the SQLite store apart from the library, so it may name it.
    "caretrail-bench": {"CareTrail", "AuditCore", "AuditChain", "AuditKeys", "AuditStorage", "AuditSQLite", "AuditAnalysis", "AuditFHIR"},
    # Test support: the storage contract knows only the ports.
    "AuditStorageContract": {"AuditStorage", "AuditChain", "AuditCore"},
    "AuditTestSupport": set(),
}

# Test targets may import whatever they test, but the tests of FHIR and SIEM code reach the
# log through CareTrail or the ports, like the code they test. (One analysis test runs the
# alert monitor as the SQLite store's observer, so analysis tests may name the backend.)
TEST_FORBIDDEN = {
    "AuditFHIRTests": {"AuditSQLite"},
    "AuditExportTests": {"AuditSQLite"},
}

IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:public\s+|internal\s+|package\s+|private\s+|fileprivate\s+)?import\s+(?:\w+\s+)?([A-Za-z_][\w]*)")


def main() -> int:
    root = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent
    problems = []
    for path in sorted((root / "Sources").rglob("*.swift")):
        module = path.relative_to(root / "Sources").parts[0]
        allowed = ALLOWED.get(module)
        if allowed is None:
            problems.append(f"{path.relative_to(root)}: module {module} has no import rule in scripts/import-rules.py")
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = IMPORT.match(line)
            if match and match.group(1) not in allowed | SYSTEM:
                problems.append(f"{path.relative_to(root)}:{number}: {module} may not import {match.group(1)}")
    for path in sorted((root / "Tests").rglob("*.swift")):
        target = path.relative_to(root / "Tests").parts[0]
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = IMPORT.match(line)
            if match and match.group(1) in TEST_FORBIDDEN.get(target, set()):
                problems.append(f"{path.relative_to(root)}:{number}: {target} may not import {match.group(1)}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"import rules: {len(problems)} violation(s)", file=sys.stderr)
        return 1
    print("import rules: every module imports only what it may")
    return 0


if __name__ == "__main__":
    sys.exit(main())
