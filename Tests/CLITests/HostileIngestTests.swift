import AuditCore
import AuditTestSupport
import Foundation
import PropertyBased
import Testing

/// Generated files of valid and invalid records through `caretrail ingest`: each file is
/// appended whole (exit 0) or not at all (exit 2, naming lines and fields, never a value);
/// the command never traps, and the log verifies after every run.
@Suite("caretrail ingest of hostile files")
struct HostileIngestTests {
    let session = CLISession()
    var db: String { session.db }

    func caretrail(_ arguments: String...) throws -> CLI.Output { try CLI.run(arguments, in: session.folder) }

    func count() throws -> Int {
        let head = try JSONParser.parse(try caretrail("head", "--db", db).stdout)
        return Int(head["seq"]?.numberValue ?? 0)
    }

    @Test func generatedFilesAreAppendedWholeOrNotAtAll() async throws {
        #expect(try caretrail("init", "--db", db).status == 0)
        let counts = Counter()
        let pick = Gen.int(in: 0...1_000_000)
        await propertyCheck(count: 24, input: pick, pick, Gen.int(in: 1...100)) { a, b, lines in
            do {
                // Every fourth file holds only records built to be valid.
                let valid = a % 4 == 0
                let text = (0..<lines).map { i in
                    valid
                        ? Hostile.record(number: 1, timestamp: 5, string: 0, purpose: 0, action: 0, shape: 3 + 7 * i)
                        : Hostile.record(
                            number: a + i, timestamp: b + i, string: a / 7 + i, purpose: b / 3, action: a / 5 + i, shape: b + i)
                }.joined(separator: "\n")
                let file = session.folder.appendingPathComponent("hostile-\(a)-\(b).jsonl").path
                try text.write(toFile: file, atomically: true, encoding: .utf8)
                let before = try count()
                let result = try caretrail("ingest", "--db", db, file, "--format", "json")
                counts.add(lines, to: "lines")
                #expect(result.status == 0 || result.status == 2, "exit \(result.status): \(result.stderr.prefix(300))")
                if result.status == 2 {
                    #expect(try count() == before, "a refused file left entries behind")
                    #expect(result.stderr.contains("line "))
                    #expect(!result.stderr.contains("Garcia"))
                } else {
                    #expect(try count() >= before + lines)
                }
                if valid { #expect(result.status == 0, "\(result.stderr.prefix(300))") }
            } catch {
                Issue.record("\(error)")
            }
        }
        #expect(counts["lines"] > 24)
        #expect(try caretrail("verify", "--db", db).status == 0)
    }
}
