import AuditChain
import AuditCore
import AuditTestSupport
import Foundation
import GRDB
import Testing

@Suite("Signed checkpoints and Merkle proofs from the command line")
struct CheckpointCommandTests {
    let session = CLISession()
    var folder: URL { session.folder }
    static let checker = FixturePath.root.deletingLastPathComponent().appendingPathComponent("scripts/check-transparency.py").path

    /// A new log in `name` with the first `lines` calls of the sample workload.
    func makeLog(_ name: String, lines: Int, skipping skipped: Int? = nil) throws -> String {
        let db = folder.appendingPathComponent(name).path
        #expect(try session.caretrail("init", "--db", db).status == 0)
        var workload = try String(contentsOfFile: try sampleWorkload(lines: lines + 1, in: folder), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        if let skipped { workload.remove(at: skipped) } else { workload.removeLast() }
        let file = folder.appendingPathComponent("\(name).jsonl")
        try (workload.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let ingested = try session.caretrail("ingest", "--db", db, file.path)
        #expect(ingested.status == 0, "\(ingested.stderr)")
        return db
    }

    func write(_ text: String, _ name: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func aCheckpointIsSignedChainedAndCheckedByAnOutsideEd25519() throws {
        let db = try makeLog("a.sqlite", lines: 120)
        let signed = try session.caretrail("checkpoint", "--db", db, "--origin", "hospital.example/audit")
        #expect(signed.status == 0, "\(signed.stderr)")
        let lines = signed.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "hospital.example/audit")
        #expect(lines[1] == "120")
        // Two signature lines: the signature and the timestamped cosignature.
        #expect(signed.stdout.components(separatedBy: "\u{2014} hospital.example/audit ").count == 3)
        let signingKeys = db + ".signing-keys.json"
        let mode = try FileManager.default.attributesOfItem(atPath: signingKeys)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)

        let key = try session.caretrail("checkpoint", "key", "--db", db)
        let keyFile = try write(key.stdout, "key.txt")
        let note = try write(signed.stdout, "checkpoint.txt")
        let outside = try runProgram(["python3", Self.checker, "note", keyFile, note])
        #expect(outside.status == 0, "\(outside.output)")
        let checked = try session.caretrail("checkpoint", "verify", "--key", keyFile, note)
        #expect(checked.status == 0, "\(checked.stderr)")

        // The checkpoint is entry 121; the next ones cover it and, the log idle, chain nothing more.
        let again = try session.caretrail("checkpoint", "--db", db)
        #expect(again.stdout.split(separator: "\n")[1] == "121")
        let third = try session.caretrail("checkpoint", "--db", db)
        #expect(third.stdout.split(separator: "\n")[1] == "121")
        #expect(try session.json(try session.caretrail("head", "--db", db))["seq"] == 121)
        let shown = try session.json(try session.caretrail("show", "--db", db, "--seq", "121"))
        #expect(shown["kind"] == "checkpoint")
        #expect(shown["body"]?["checkpoint"]?["tree_size"] == 120)
        #expect(try session.caretrail("verify", "--db", db, "--checkpoint", note).status == 0)
    }

    @Test func theCommandLinesProofsAgreeWithAnIndependentImplementation() throws {
        let db = try makeLog("a.sqlite", lines: 150)
        var proofs: [String] = []
        for (seq, size) in [(1, 1), (1, 150), (77, 150), (150, 150), (64, 100), (17, 17)] {
            let proof = try session.caretrail("proof", "inclusion", "--db", db, "--seq", "\(seq)", "--size", "\(size)")
            #expect(proof.status == 0, "\(proof.stderr)")
            proofs.append(proof.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        for (from, to) in [(1, 150), (64, 150), (100, 150), (150, 150), (3, 7)] {
            let proof = try session.caretrail("proof", "consistency", "--db", db, "--from", "\(from)", "--to", "\(to)")
            #expect(proof.status == 0, "\(proof.stderr)")
            proofs.append(proof.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let hashes = try DatabaseQueue(path: db).read { db in try Data.fetchAll(db, sql: "SELECT entry_hash FROM entry ORDER BY seq") }
        let hex = hashes.map { "\"\(ChainHash(unchecked: [UInt8]($0)).hex)\"" }.joined(separator: ",")
        let file = try write("{\"entry_hashes\":[\(hex)],\"proofs\":[\(proofs.joined(separator: ","))]}", "proofs.json")
        let outside = try runProgram(["python3", Self.checker, "proofs", file])
        #expect(outside.status == 0, "\(outside.output)")
        #expect(outside.output.contains("11 proofs over 150 leaves hold"))
    }

    @Test func proofsOutsideTheLogAreRefusedWithExit2() throws {
        let db = try makeLog("a.sqlite", lines: 20)
        for arguments in [
            ["proof", "inclusion", "--db", db, "--seq", "0"], ["proof", "inclusion", "--db", db, "--seq", "21"],
            ["proof", "inclusion", "--db", db, "--seq", "5", "--size", "4"],
            ["proof", "consistency", "--db", db, "--from", "0", "--to", "5"],
            ["proof", "consistency", "--db", db, "--from", "6", "--to", "5"],
            ["proof", "consistency", "--db", db, "--from", "1", "--to", "99"],
            ["proof", "inclusion", "--db", db, "--seq", "x"],
        ] {
            let refused = try CLI.run(arguments, in: folder)
            #expect(refused.status == 2 || refused.status == 64, "\(arguments): \(refused.status) \(refused.stderr)")
            #expect(refused.stdout.isEmpty)
        }
    }

    @Test func aRewrittenOrTruncatedLogIsCaughtAgainstASavedCheckpoint() throws {
        let db = try makeLog("a.sqlite", lines: 120)
        let note = try write(try session.caretrail("checkpoint", "--db", db).stdout, "checkpoint.txt")
        let keyFile = try write(try session.caretrail("checkpoint", "key", "--db", db).stdout, "key.txt")
        #expect(try session.caretrail("verify", "--db", db, "--checkpoint", note).status == 0)

        // A full rewrite: another internally valid chain, without call 40, in place of the log.
        let rewritten = try makeLog("b.sqlite", lines: 140, skipping: 40)
        #expect(try session.caretrail("verify", "--db", rewritten).status == 0)
        let caught = try session.caretrail("verify", "--db", rewritten, "--checkpoint", note, "--key", keyFile, "--format", "json")
        #expect(caught.status == 1, "\(caught.stderr)")
        #expect(try session.json(caught)["problem"]?["kind"] == "rewritten_since_checkpoint")

        // Truncated: the first 100 calls only.
        let truncated = try makeLog("c.sqlite", lines: 100)
        let short = try session.caretrail("verify", "--db", truncated, "--checkpoint", note, "--key", keyFile, "--format", "json")
        #expect(short.status == 1)
        #expect(try session.json(short)["problem"]?["kind"] == "truncated_since_checkpoint")
    }

    @Test func aNoteWithAnotherKeyAnEditOrBadSyntaxIsRefused() throws {
        let db = try makeLog("a.sqlite", lines: 10)
        let signed = try session.caretrail("checkpoint", "--db", db).stdout
        let keyFile = try write(try session.caretrail("checkpoint", "key", "--db", db).stdout, "key.txt")
        let other = try makeLog("b.sqlite", lines: 5)
        let otherKey = try write(try session.caretrail("checkpoint", "key", "--db", other).stdout, "other.txt")
        let note = try write(signed, "checkpoint.txt")
        #expect(try session.caretrail("checkpoint", "verify", "--key", otherKey, note).status == 1)
        let edited = try write(signed.replacingOccurrences(of: "\n10\n", with: "\n11\n"), "edited.txt")
        let refused = try session.caretrail("checkpoint", "verify", "--key", keyFile, edited)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("bad_signature"))
        let malformed = try write(signed.replacingOccurrences(of: "\n\n", with: "\n"), "malformed.txt")
        #expect(try session.caretrail("checkpoint", "verify", "--key", keyFile, malformed).status == 2)
        let badKey = try write("not a key\n", "bad-key.txt")
        #expect(try session.caretrail("checkpoint", "verify", "--key", badKey, note).status == 2)
        // verify --checkpoint with a note the log's keys did not sign: a bad argument.
        let foreign = try write(try session.caretrail("checkpoint", "--db", other).stdout, "foreign.txt")
        #expect(try session.caretrail("verify", "--db", db, "--checkpoint", foreign).status == 2)
    }
}
