import AuditAnalysis
import AuditChain
import AuditCore
import AuditStorage
import CareTrail
import Foundation

/// `caretrail-bench reports --calls N [--db PATH] [--key-file FILE]`: builds (or reuses) a log
/// of N generated calls, then times the privacy officers' queries inside the process: the patient report over
/// a year (query, incremental integrity check and JSON rendering), the trace lookup and
/// tool-stats; and peak memory. `--db` may name a PostgreSQL log (`postgres://…`, for example
/// one `caretrail copy` filled), which is reused with the key file named.
enum ReportsBench {
    static func run(_ arguments: [String]) throws {
        var calls = 10_000_000
        var database: String?
        var keyFile: String?
        var samples = 300
        /// Runs the trace lookups this many times (for a profiler).
        var repeats = 1
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            let value = iterator.next() ?? ""
            switch flag {
            case "--calls": calls = Int(value) ?? calls
            case "--db": database = value
            case "--key-file": keyFile = value
            case "--samples": samples = Int(value) ?? samples
            case "--repeat": repeats = max(1, Int(value) ?? 1)
            default:
                print("unknown option \(flag)")
                exit(64)
            }
        }
        let path = database ?? FileManager.default.temporaryDirectory.appendingPathComponent("caretrail-reports-\(calls).sqlite").path
        let log: AuditLog
        if AuditLog.isPostgres(path) || FileManager.default.fileExists(atPath: path) {
            log = try AuditLog.open(database: path, keyFile: keyFile)
            print("reusing \(path): \(try log.count()) entries")
        } else {
            log = try AuditLog.create(database: path)
            let time = try seconds { try build(log, calls: calls) }
            print(String(format: "built %@: %d calls in %.0f s (%.0f calls/s)", path, calls, time, Double(calls) / time))
        }
        let count = try log.count()
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.doubleValue ?? 0
        print(String(format: "log: %d entries, %.1f GB", count, size / 1e9))
        // The first verification is full (and recorded); reports then verify incrementally.
        if try log.lastVerification() == nil {
            let time = try seconds { _ = try log.verify() }
            print(String(format: "first full verification: %.1f s", time))
        }

        // Patients and traces to ask about, spread over the log.
        var patients: [String] = []
        var traces: [String] = []
        var seq: Int64 = 1
        let step = max(1, count / Int64(samples))
        while seq <= count, patients.count < samples {
            if let entry = try log.entry(seq: seq) {
                if let patient = entry.content.patientID, entry.content.kind == .toolCall { patients.append(patient) }
                if let trace = entry.content.traceID { traces.append(trace) }
            }
            seq += step
        }
        let from = Timestamp(rfc3339: "2026-01-01T00:00:00Z")
        let to = Timestamp(rfc3339: "2026-12-31T23:59:59.999Z")
        var reportTimes: [Double] = []
        var accesses = 0
        var bytes = 0
        for patient in patients {
            var rendered: [UInt8] = []
            reportTimes.append(
                try seconds {
                    let report = try log.patientReport(.patientID(patient), from: from, to: to)
                    rendered = report.canonicalJSON
                    accesses += report.totalAccesses
                })
            bytes += rendered.count
        }
        print(
            String(
                format:
                    "report:  patient access report over a year, JSON rendered, %d patients: median %.2f ms, p95 %.2f ms, max %.2f ms (%.0f accesses and %.0f KB of JSON per report on average)",
                patients.count, percentile(reportTimes, 0.5) * 1000, percentile(reportTimes, 0.95) * 1000,
                (reportTimes.max() ?? 0) * 1000, Double(accesses) / Double(max(1, patients.count)),
                Double(bytes) / Double(max(1, patients.count)) / 1024))
        // Where a report's time goes: the lookup alone (posting lists and the tail index), the rows and
        // the report built (no verification), and the JSON rendering.
        var lookupTimes: [Double] = []
        var buildTimes: [Double] = []
        var renderTimes: [Double] = []
        var integrityTimes: [Double] = []
        let integrity = try log.verifyIncrementally()
        for patient in patients.prefix(50) {
            integrityTimes.append(try seconds { _ = try log.verifyIncrementally() })
            lookupTimes.append(try seconds { _ = try log.patientSeqs(patient) })
            var report: AccessReport?
            buildTimes.append(
                try seconds {
                    report = try AccessReport.build(
                        store: log.reader, key: .patientID(patient), from: from, to: to, integrity: integrity, deadlineDays: 7,
                        now: log.now()
                    )
                })
            renderTimes.append(seconds { _ = report.map(\.canonicalJSON) })
        }
        print(
            String(
                format:
                    "         of which: incremental integrity check %.2f ms, lookup of the sequence numbers %.2f ms, rows and report %.2f ms, JSON %.2f ms (medians)",
                percentile(integrityTimes, 0.5) * 1000, percentile(lookupTimes, 0.5) * 1000, percentile(buildTimes, 0.5) * 1000,
                percentile(renderTimes, 0.5) * 1000))
        var traceTimes: [Double] = []
        var traceEntries = 0
        for _ in 0..<repeats {
            for trace in traces {
                traceTimes.append(try seconds { traceEntries += try log.entries(.trace(trace)).count })
            }
        }
        traceEntries /= repeats
        print(
            String(
                format: "trace:   lookup of one trace's entries, %d traces: median %.3f ms, p95 %.3f ms (%.1f entries each)",
                traces.count, percentile(traceTimes, 0.5) * 1000, percentile(traceTimes, 0.95) * 1000,
                Double(traceEntries) / Double(max(1, traces.count))))
        var stats: [ToolStatistics] = []
        let statsTime = try seconds { stats = try log.toolStatistics() }
        print(String(format: "tool-stats: %d tools, %lld calls: %.1f ms", stats.count, stats.reduce(0) { $0 + $1.calls }, statsTime * 1000))
        print(String(format: "memory:  %.0f MiB peak resident", peakResidentMiB()))
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    /// Streams the generator's output into the log in durable batches of 20,000.
    static func build(_ log: AuditLog, calls: Int) throws {
        let generator = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/gen_workload.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", generator.path, String(calls)]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let handle = pipe.fileHandleForReading
        var pending: [UInt8] = []
        var lines: [ArraySlice<UInt8>] = []
        var done = 0
        func flush() throws {
            guard !lines.isEmpty else { return }
            _ = try log.appendEncodedNow(log.encodeBatch(lines))
            done += lines.count
            lines.removeAll(keepingCapacity: true)
            if done % 1_000_000 == 0 { print("  \(done) calls appended") }
        }
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                lines.append(ArraySlice(Array(pending[start..<newline])))
                start = newline + 1
                if lines.count == 20_000 { try flush() }
            }
            pending.removeSubrange(..<start)
        }
        try flush()
        process.waitUntilExit()
    }
}
