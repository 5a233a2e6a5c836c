import AuditChain
import AuditCore
import AuditStorage
import CareTrail
import Foundation

/// `caretrail-bench proofs --db PATH [--samples S] [--patient ID]`: on an existing log, the time to build its
/// Merkle nodes from nothing (what maintenance costs per entry), the median and 99th
/// percentile of inclusion and consistency proofs at random places, and a patient bundle built
/// and verified.
enum ProofBench {
    static func run(_ arguments: [String]) throws {
        var database: String?
        var samples = 1000
        var patient: String?
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            let value = iterator.next() ?? ""
            switch flag {
            case "--db": database = value
            case "--samples": samples = Int(value) ?? samples
            case "--patient": patient = value
            default:
                print("unknown option \(flag)")
                exit(64)
            }
        }
        guard let database else {
            print(
                "usage: caretrail-bench proofs --db PATH [--samples S] [--patient ID] (a log built by `caretrail-bench reports` or `caretrail ingest`)"
            )
            exit(64)
        }
        let log = try AuditLog.open(database: database)
        let size = try log.head()?.seq ?? 0
        print("log: \(size) entries")
        var generator = SystemRandomNumberGenerator()
        func measure(_ name: String, _ body: () throws -> Void) rethrows {
            var times: [Double] = []
            for _ in 0..<samples {
                let started = DispatchTime.now().uptimeNanoseconds
                try body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
            }
            print(
                String(
                    format: "%@: median %.3f ms, p99 %.3f ms (%d samples)", name, ReportsBench.percentile(times, 0.5),
                    ReportsBench.percentile(times, 0.99), samples))
        }
        try measure("inclusion proof") {
            _ = try log.inclusionProof(seq: Int64.random(in: 1...size, using: &generator), treeSize: size)
        }
        try measure("consistency proof") {
            _ = try log.consistencyProof(from: Int64.random(in: 1...size, using: &generator), to: size)
        }
        // The patient given, else the one with the most entries among those of the last 200.
        let keys = try log.signingKeys(create: true)
        var best: (patient: String, count: Int) = (patient ?? "", 0)
        for seq in stride(from: size, to: patient == nil ? max(0, size - 200) : size, by: -1) {
            guard let patient = try log.entry(seq: seq)?.content.patientID else { continue }
            let count = try log.patientSeqs(patient).count
            if count > best.count { best = (patient, count) }
        }
        // The first append of a process reads the detection history; sign once before timing.
        let firstCheckpoint = try seconds { _ = try log.signCheckpoint(keys: keys) }
        print(String(format: "first checkpoint of the process (signed and chained): %.1f ms", firstCheckpoint * 1e3))
        var bundle: LogBundle?
        let built = try seconds { bundle = try log.bundle(.patientID(best.patient), from: nil, to: nil, keys: keys) }
        guard let bundle else { return }
        let bytes = bundle.serialized
        let verified = try seconds { _ = try LogBundle.verified(bytes, key: bundle.verifierKey) }
        print(
            String(
                format: "bundle of one patient: %d entries (%.0f KB) built in %.1f ms, verified in %.1f ms", bundle.entries.count,
                Double(bytes.count) / 1e3, built * 1e3, verified * 1e3))
    }
}
