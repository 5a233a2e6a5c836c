import AuditChain
import AuditCore
import AuditStorage
import AuditTestSupport
import CareTrail
import Foundation
import PropertyBased
import Testing

/// Files (the CLI), request bodies (HTTP) and Swift records (`audited`) go through one
/// pipeline: the same bytes give the same entries, the same errors with the same line numbers,
/// and empty input is refused alike.
@Suite("One ingest pipeline")
struct IngestPipelineTests {
    @Test func emptyInputIsRefusedAlikeByEveryWayIn() async throws {
        let folder = temporaryFolder()
        let log = try newLog(folder)
        for text in ["", "\n", "  \n\t\r\n\n"] {
            let path = folder.appendingPathComponent("empty.jsonl").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect(throws: CareTrailError.self) { _ = try log.ingest(path: path) }
            do {
                _ = try log.ingest(path: path)
            } catch {
                #expect(error.code == .noRecords)
            }
            do {
                _ = try await log.ingest(body: Array(text.utf8))
                Issue.record("an empty body was accepted")
            } catch {
                #expect(error.code == .noRecords)
            }
        }
        do {
            _ = try await log.record([])
            Issue.record("an empty batch was accepted")
        } catch {
            #expect(error.code == .noRecords)
        }
        #expect(try log.count() == 0)
    }

    /// Generated inputs mixing good lines, lines that break the contract, lines dated ahead of
    /// the log's clock and blank lines: a file and a body report the same errors, each with
    /// its line, and both append nothing.
    @Test func aFileAndABodyReportTheSameErrorsWithTheSameLines() async throws {
        let folder = temporaryFolder()
        let log = try newLog(folder)
        let good = try String(contentsOfFile: try sampleWorkload(lines: 40, in: folder), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let future = Timestamp(millisecondsSinceEpoch: log.now().millisecondsSinceEpoch + 3_600_000).description
        let counter = Counter()
        await propertyCheck(count: 60, input: Gen.int(in: 0...1_000_000)) { seed in
            var lines: [String] = []
            for index in 0..<(3 + seed % 9) {
                // One input in four is good throughout (blank lines aside), so both outcomes occur.
                let shape = (seed / (index + 1)) % 5
                switch seed % 4 == 0 && shape < 3 ? 4 : shape {
                case 0: lines.append("{\"tenant_id\": ")
                case 1: lines.append(good[(seed + index) % good.count].replacingOccurrences(of: "\"purpose_of_use\"", with: "\"purpose\""))
                case 2:
                    lines.append(
                        good[(seed + index) % good.count].replacingOccurrences(
                            of: #"("timestamp":")[^"]*"#, with: "$1\(future)", options: .regularExpression
                        )
                    )
                case 3: lines.append("   ")
                default: lines.append(good[(seed + index) % good.count])
                }
            }
            let text = lines.joined(separator: "\n")
            let path = folder.appendingPathComponent("mixed-\(seed).jsonl").path
            try? text.write(toFile: path, atomically: true, encoding: .utf8)
            var fromFile: CareTrailError?
            do throws(CareTrailError) { _ = try log.ingest(path: path) } catch { fromFile = error }
            var fromBody: CareTrailError?
            do throws(CareTrailError) { _ = try await log.ingest(body: Array(text.utf8)) } catch { fromBody = error }
            guard let fromFile, let fromBody else {
                // Only good lines: both appended.
                #expect(fromFile == nil && fromBody == nil, "one way in refused what the other accepted")
                counter.add(to: "accepted")
                return
            }
            counter.add(to: "refused")
            #expect(fromFile.code == fromBody.code)
            #expect(fromFile.message == fromBody.message)
            let describe = { (error: CareTrailError) in error.recordErrors.map { "\($0.line ?? 0) \($0.code) \($0.field ?? "")" } }
            #expect(describe(fromFile) == describe(fromBody))
            #expect(fromFile.recordErrors.allSatisfy { $0.line != nil }, "every error names its line")
        }
        #expect(counter["refused"] > 0 && counter["accepted"] > 0)
        #expect(try log.verify().isIntact)
    }

    /// The same lines through a file, a body and decoded records store the same content.
    @Test func everyWayInStoresTheSameEntries() async throws {
        let folder = temporaryFolder()
        let log = try newLog(folder)
        let path = try sampleWorkload(lines: 12, in: folder)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        _ = try log.ingest(path: path)
        _ = try await log.ingest(body: Array(text.utf8))
        let records = try text.split(separator: "\n").enumerated().map { index, line in
            try Array(line.utf8).withUnsafeBufferPointer { try IngestContract.decode(bytes: $0, lineNumber: index + 1) }
        }
        _ = try await log.record(records)
        let accesses = try log.entries(from: 1, through: 1000).filter { $0.content.kind != .alert }.map(\.content)
        #expect(accesses.count == 36)
        #expect(Array(accesses[0..<12]) == Array(accesses[12..<24]))
        #expect(Array(accesses[0..<12]) == Array(accesses[24..<36]))
    }
}
