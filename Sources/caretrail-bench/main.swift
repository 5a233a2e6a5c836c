// caretrail-bench: measures the figures the foundation issue names, on a workload from
// scripts/gen_workload.py (about 1 KB per call).
//
//   swift run -c release caretrail-bench [--calls N] [--batch B] [--single N] [--tasks T] [--workload FILE] [--store-only yes]
//   swift run -c release caretrail-bench reports [--calls N] [--db PATH] [--samples S] [--repeat R]   (see ReportsBench)
//   swift run -c release caretrail-bench export --db PATH                              (see ExportBench)
//   swift run -c release caretrail-bench proofs --db PATH [--samples S]                (see ProofBench)
//
// It prints, for one fresh database in a temporary folder:
//   ingest   durable batched ingest, from JSON-lines bytes to committed entries (parse, validate,
//            sanitise, pseudonymise, canonicalise, hash, insert, fsync), calls/s;
//   store    the store alone (calls prepared beforehand), with its CPU time and commit latencies;
//   async    the same batches through the group committer, as the server appends: latencies;
//   single   one appender committing every call alone, calls/s;
//   grouped  T concurrent tasks appending one call each, sharing group commits, calls/s;
//   detect   the cost of live anomaly detection: the store phase with and without it;
//   verify   full verification (every hash recomputed, every link checked), entries/s;
//   size     bytes per entry on disk; peak resident memory.
import AuditAnalysis
import AuditChain
import AuditCore
import AuditKeys
import AuditSQLite
import AuditStorage
import CareTrail
import Foundation

struct Options {
    var calls = 200_000
    var batch = 1000
    var single = 20_000
    var tasks = 64
    var workload: String?
    /// Only loop the sanitizer this many times over the workload, for a profiler.
    var profileSanitize = 0
    /// Run only the store phase (prepare, then commit), for a profiler.
    var storeOnly = false

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            let value = iterator.next() ?? ""
            switch flag {
            case "--calls": calls = Int(value) ?? calls
            case "--batch": batch = Int(value) ?? batch
            case "--single": single = Int(value) ?? single
            case "--tasks": tasks = Int(value) ?? tasks
            case "--workload": workload = value
            case "--profile-sanitize": profileSanitize = Int(value) ?? 0
            case "--store-only": storeOnly = value == "yes"
            default:
                print("unknown option \(flag)")
                exit(64)
            }
        }
    }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// CPU time (user and system, all threads) this process has used so far, in seconds.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}

func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}

func workloadLines(_ options: Options, folder: URL) throws -> [ArraySlice<UInt8>] {
    let path: String
    if let given = options.workload {
        path = given
    } else {
        path = folder.appendingPathComponent("workload.jsonl").path
        let generator = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/gen_workload.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", generator.path, String(options.calls)]
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try process.run()
        process.waitUntilExit()
    }
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let bytes = [UInt8](data)
    return bytes.split(separator: 0x0A).prefix(options.calls).map { $0 }
}

/// The next batch, prepared on another thread while the current one commits.
final class NextBatch: @unchecked Sendable {
    var entries: [EncodedEntry] = []
}

if CommandLine.arguments.dropFirst().first == "reports" {
    try ReportsBench.run(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "proofs" {
    try ProofBench.run(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
if CommandLine.arguments.dropFirst().first == "export" {
    try ExportBench.run(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}
let options = Options(CommandLine.arguments)
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("caretrail-bench-\(UUID().uuidString.prefix(8))")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }

let lines = try workloadLines(options, folder: folder)
if options.profileSanitize > 0 {
    let sanitizer = Sanitizer(pseudonymizer: KeyRing.generate().current)
    let records = lines.compactMap { line in line.withUnsafeBufferPointer { try? IngestContract.decode(bytes: $0) } }
    let time = seconds {
        for _ in 0..<options.profileSanitize { for record in records { _ = sanitizer.sanitize(record) } }
    }
    print(String(format: "sanitise: %.1f µs per call on one core", time / Double(records.count * options.profileSanitize) * 1e6))
    exit(0)
}
let inputBytes = lines.reduce(0) { $0 + $1.count + 1 }
print("workload: \(lines.count) calls, \(inputBytes / lines.count) bytes per call on average")
print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores; synchronous=FULL, WAL")

// 1. Batched durable ingest: every batch is parsed and sanitised on all cores, then committed
//    (fsync) on its own; the next batch is prepared while the current one commits.
let log = try AuditLog.create(database: folder.appendingPathComponent("audit.sqlite").path)
let batches = stride(from: 0, to: lines.count, by: options.batch).map { Array(lines[$0..<min($0 + options.batch, lines.count)]) }
var storeTime = 0.0
var prepareTime = 0.0
let ingestTime =
    options.storeOnly
    ? 1
    : try seconds {
        var prepared = log.encodeBatch(batches[0])
        for index in batches.indices {
            let current = prepared
            let group = DispatchGroup()
            let next = NextBatch()
            if index + 1 < batches.count {
                DispatchQueue.global().async(group: group) { next.entries = log.encodeBatch(batches[index + 1]) }
            }
            storeTime += try seconds { _ = try log.appendEncodedNow(current) }
            prepareTime += seconds { group.wait() }
            prepared = next.entries
        }
    }
let count = Int64(lines.count)
if !options.storeOnly {
    print(
        String(
            format: "ingest:  %d calls in batches of %d: %.2f s = %.0f calls/s (durable, all work included)",
            count, options.batch, ingestTime, Double(count) / ingestTime))
    print(
        String(
            format:
                "         of which %.2f s committing (hash, insert, fsync) and %.2f s more waiting for the next batch's parsing and sanitising",
            storeTime, prepareTime))
}

// 1a. Where prepare's time goes, on one core.
if !options.storeOnly {
    let sample = Array(lines.prefix(20_000))
    var values: [JSONValue] = []
    let parse = seconds { values = sample.compactMap { line in line.withUnsafeBufferPointer { try? JSONParser.parse($0) } } }
    var records: [IngestRecord] = []
    let decode = seconds { records = values.compactMap { try? IngestContract.decode($0) } }
    var contents: [EntryContent] = []
    let sanitize = seconds { contents = records.map { log.sanitizer.sanitize($0) } }
    var encoded: [EncodedEntry] = []
    let encode = seconds { encoded = contents.map { EncodedEntry($0) } }
    var onePass = 0
    let onePassTime = seconds {
        for line in sample {
            line.withUnsafeBufferPointer { bytes in
                if let read = OnePassToolCall(bytes: bytes), log.sanitizer.encode(read, late: true, retentionCategory: "general") != nil {
                    onePass += 1
                }
            }
        }
    }
    let perCall = { (time: Double) in time / Double(sample.count) * 1e6 }
    print(
        String(
            format: "         per call on one core: parse %.1f µs, contract %.1f µs, sanitise %.1f µs, canonical encoding %.1f µs (%d)",
            perCall(parse), perCall(decode), perCall(sanitize), perCall(encode), encoded.count))
    print(
        String(
            format: "         the same calls in one pass over their bytes: %.1f µs per call on one core (%d of %d read so)",
            perCall(onePassTime), onePass, sample.count))
}

// 1b. The store alone: the same batches, sanitised beforehand, committed one by one.
let storeLog = try AuditLog.create(database: folder.appendingPathComponent("store-only.sqlite").path)
var preparedBatches: [[EncodedEntry]] = []
let prepareOnlyTime = seconds { preparedBatches = batches.map { storeLog.encodeBatch($0) } }
print(
    String(
        format: "prepare: the same %d calls parsed, validated, sanitised and encoded on all cores, nothing stored: %.2f s = %.0f calls/s",
        count, prepareOnlyTime, Double(count) / prepareOnlyTime))
var commitLatencies: [Double] = []
let storeCPUBefore = cpuSeconds()
let storeOnlyTime = try seconds {
    for batch in preparedBatches { commitLatencies.append(try seconds { _ = try storeLog.appendEncodedNow(batch) }) }
}
let storeCPU = cpuSeconds() - storeCPUBefore
commitLatencies.sort()
print(
    String(
        format:
            "store:   the same %d calls sanitised beforehand, committed in batches of %d: %.2f s = %.0f calls/s (hash, link, insert, fsync)",
        count, options.batch, storeOnlyTime, Double(count) / storeOnlyTime))
print(
    String(
        format: "         CPU time %.2f s (%.1f µs per call); the rest of the wall time waits for the disk", storeCPU,
        storeCPU / Double(count) * 1e6))
print(
    String(
        format: "         commit latency per batch: median %.1f ms, p99 %.1f ms, max %.1f ms",
        commitLatencies[commitLatencies.count / 2] * 1000, commitLatencies[commitLatencies.count * 99 / 100] * 1000,
        (commitLatencies.last ?? 0) * 1000))

// 1b'. The same batches through the group committer, as the server appends them: a completed
//      block's postings are then written in the background, so no append waits for them.
let asyncLog = try AuditLog.create(database: folder.appendingPathComponent("async.sqlite").path)
let asyncBatches = preparedBatches
final class Latencies: @unchecked Sendable { var values: [Double] = [] }
let asyncLatencies = Latencies()
let asyncSemaphore = DispatchSemaphore(value: 0)
let asyncStart = DispatchTime.now().uptimeNanoseconds
Task.detached {
    for batch in asyncBatches {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try? await asyncLog.appendEncoded(batch)
        asyncLatencies.values.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    asyncSemaphore.signal()
}
asyncSemaphore.wait()
let asyncTime = Double(DispatchTime.now().uptimeNanoseconds - asyncStart) / 1e9
asyncLatencies.values.sort()
let asyncValues = asyncLatencies.values
print(
    String(
        format: "async:   the same batches appended one after another through the group committer: %.2f s = %.0f calls/s",
        asyncTime, Double(count) / asyncTime))
print(
    String(
        format: "         append latency per batch: median %.1f ms, p99 %.1f ms, max %.1f ms",
        asyncValues[asyncValues.count / 2] * 1000, asyncValues[asyncValues.count * 99 / 100] * 1000, (asyncValues.last ?? 0) * 1000))
if options.storeOnly { exit(0) }

// 1c. Live anomaly detection's cost: the same prepared batches into a store without the
//     detector (the store phase above ran with it, as every AuditLog does).
let bareStore = try SQLiteStore.create(at: folder.appendingPathComponent("no-detection.sqlite").path)
let bareTime = try seconds { for batch in preparedBatches { _ = try bareStore.appendNow(batch) } }
let alertCount = try storeLog.alerts().count
let detectorOnly: Double = try {
    var detector = AnomalyDetector()
    var total = 0.0
    var low: Int64 = 1
    let stored = try storeLog.count()
    while low <= stored {
        let entries = try storeLog.entries(from: low, through: low + 9_999, limit: 10_000).map(ObservedEntry.init)
        total += seconds { for entry in entries { _ = detector.observe(entry) } }
        low += 10_000
    }
    return total
}()
preparedBatches = []
let perCallDetect = (storeOnlyTime - bareTime) / Double(count) * 1e6
print(
    String(
        format:
            "detect:  store without detection %.2f s = %.0f calls/s; with it %.2f s (%d alerts): %+.1f%% time, %.1f µs per call (rules alone %.1f µs)",
        bareTime, Double(count) / bareTime, storeOnlyTime, alertCount, (storeOnlyTime / bareTime - 1) * 100, perCallDetect,
        detectorOnly / Double(count) * 1e6))
print(
    String(
        format:
            "         against end-to-end ingest (%.2f s, detection included): detection is %.1f%% of it, ingest without it would take %.2f s",
        ingestTime, (storeOnlyTime - bareTime) / ingestTime * 100, ingestTime - (storeOnlyTime - bareTime)))

// 2. One appender, every call committed alone.
let singleLog = try AuditLog.create(database: folder.appendingPathComponent("single.sqlite").path)
let singles = lines.prefix(options.single).map { singleLog.encodeBatch([$0]) }
let singleTime = try seconds {
    for entry in singles { _ = try singleLog.appendEncodedNow(entry) }
}
print(
    String(
        format: "single:  %d calls, one commit each: %.2f s = %.0f calls/s", singles.count, singleTime, Double(singles.count) / singleTime))

// 3. Many concurrent appenders of one call each, grouped into shared commits.
let groupedLog = try AuditLog.create(database: folder.appendingPathComponent("grouped.sqlite").path)
let groupedEntries = lines.prefix(options.single).map { groupedLog.encodeBatch([$0]) }
let groupedStart = DispatchTime.now().uptimeNanoseconds
let tasks = options.tasks
let perTask = groupedEntries.count / tasks
let semaphore = DispatchSemaphore(value: 0)
Task.detached {
    await withTaskGroup(of: Void.self) { group in
        for task in 0..<tasks {
            group.addTask {
                for index in 0..<perTask { _ = try? await groupedLog.appendEncoded(groupedEntries[task * perTask + index]) }
            }
        }
    }
    semaphore.signal()
}
semaphore.wait()
let groupedTime = Double(DispatchTime.now().uptimeNanoseconds - groupedStart) / 1e9
print(
    String(
        format: "grouped: %d tasks x %d calls, one call per append: %.2f s = %.0f calls/s", tasks, perTask, groupedTime,
        Double(tasks * perTask) / groupedTime))

// 4. Full verification.
var report: VerificationReport?
let verifyTime = try seconds { report = try log.verify() }
print(
    String(
        format: "verify:  %d entries, every hash recomputed: %.2f s = %.0f entries/s (%@)",
        report?.entriesChecked ?? 0, verifyTime, Double(report?.entriesChecked ?? 0) / verifyTime,
        report?.isIntact == true ? "intact" : "BROKEN"))

// 5. Size on disk.
try log.checkpointStorage()
let size = (try FileManager.default.attributesOfItem(atPath: log.location)[.size] as? NSNumber)?.doubleValue ?? 0
print(
    String(
        format: "size:    %.0f bytes per entry on disk (database file after checkpoint, indexes included)", size / Double(try log.count())))
print(
    String(
        format: "memory:  %.0f MiB peak resident (the workload itself is held in memory: %.0f MiB)", peakResidentMiB(),
        Double(inputBytes) / 1_048_576))
