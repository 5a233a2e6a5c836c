import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import CareTrail
import Foundation

/// `caretrail-bench export --db PATH`: FHIR export throughput from the store (NDJSON, JSON
/// Bundle, XML Bundle; R4, and R5 NDJSON and XML), after one pass to warm up; bytes discarded
/// after counting, and peak memory.
enum ExportBench {
    static func run(_ arguments: [String]) throws {
        var database: String?
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            let value = iterator.next() ?? ""
            switch flag {
            case "--db": database = value
            default:
                print("unknown option \(flag)")
                exit(64)
            }
        }
        guard let database else {
            print("usage: caretrail-bench export --db PATH (e.g. a log built by `caretrail-bench reports`)")
            exit(64)
        }
        let log = try AuditLog.open(database: database)
        print("log: \(try log.count()) entries")
        // A first pass, not reported, brings the log into the page cache and the allocator up to
        // size, so that every format is measured alike (the first one otherwise pays for both).
        _ = try FHIRExporter(version: .r4, format: .ndjson).export(
            store: log.reader, selection: .init(), bundleID: "warm-up", timestamp: log.now()
        ) { _ in }
        for (version, format) in [(FHIRVersion.r4, FHIRExporter.Format.ndjson), (.r4, .json), (.r4, .xml), (.r5, .ndjson), (.r5, .xml)] {
            var bytes = 0
            var count = 0
            let time = try seconds {
                count = try FHIRExporter(version: version, format: format).export(
                    store: log.reader, selection: .init(), bundleID: "bench", timestamp: log.now()
                ) { chunk in bytes += chunk.count }
            }
            print(
                String(
                    format: "export %@ %@: %d AuditEvents in %.2f s = %.0f/s, %.0f MB (%.0f bytes each)",
                    version.rawValue, format.rawValue, count, time, Double(count) / time, Double(bytes) / 1e6,
                    Double(bytes) / Double(max(count, 1))))
        }
        print(String(format: "memory:  %.0f MiB peak resident", peakResidentMiB()))
    }
}
