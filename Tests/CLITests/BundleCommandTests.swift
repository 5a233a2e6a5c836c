import AuditChain
import AuditCore
import AuditTestSupport
import Foundation
import Testing

@Suite("Verifiable export bundles")
struct BundleCommandTests {
    let session = CLISession()
    static let checker = FixturePath.root.deletingLastPathComponent().appendingPathComponent("scripts/check-transparency.py").path

    /// The report fixture's log, a bundle of PAT-100 and the verifier key file.
    func bundle() throws -> (bundle: String, key: String) {
        #expect(try session.caretrail("init", "--db", session.db).status == 0)
        #expect(try session.caretrail("ingest", "--db", session.db, FixturePath.url("report/calls.jsonl").path).status == 0)
        let bundle = session.folder.appendingPathComponent("pat-100.bundle").path
        let written = try session.caretrail("bundle", "--db", session.db, "--patient", "PAT-100", "--out", bundle)
        #expect(written.status == 0, "\(written.stderr)")
        let key = session.folder.appendingPathComponent("key.txt")
        try session.caretrail("checkpoint", "key", "--db", session.db).stdout.write(to: key, atomically: true, encoding: .utf8)
        return (bundle, key.path)
    }

    /// The bundle's lines, to damage one.
    func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
    }

    func write(_ lines: [String], _ name: String) throws -> String {
        let url = session.folder.appendingPathComponent(name)
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func aPatientsBundleVerifiesOfflineHereAndInAnIndependentChecker() throws {
        let (bundle, key) = try bundle()
        let checked = try session.caretrail("verify-bundle", bundle, "--key", key)
        #expect(checked.status == 0, "\(checked.stderr)")
        let report = try session.json(try session.caretrail("report", "patient", "PAT-100", "--db", session.db, "--format", "json"))
        let accesses = try #require(report["accesses"]?.arrayValue?.count)
        let header = try JSONParser.parse(try lines(bundle)[0])
        // Every access of the report is in the bundle (with the patient's alerts and reviews).
        #expect(try #require(header["entries"]?.numberValue) >= Double(accesses))
        #expect(accesses > 3)
        let outside = try runProgram(["python3", Self.checker, "bundle", key, bundle])
        #expect(outside.status == 0, "\(outside.output)")
    }

    @Test func anEditedEntryAChangedProofOrAnotherKeyIsRefusedWithItsReason() throws {
        let (bundle, key) = try bundle()
        var edited = try lines(bundle)
        edited[1] = edited[1].replacingOccurrences(of: "\"action\":\"R\"", with: "\"action\":\"W\"")
        let editedFile = try write(edited, "edited.bundle")
        let refused = try session.caretrail("verify-bundle", editedFile, "--key", key)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("line 2: entry_edited"))
        #expect(try runProgram(["python3", Self.checker, "bundle", key, editedFile]).status == 1)

        var changed = try lines(bundle)
        var proof = try #require(JSONParser.parse(changed[2]).objectValue)
        var hashes = try #require(proof["hashes"]?.arrayValue)
        hashes[0] = .string(Data(repeating: 9, count: 32).base64EncodedString())
        proof["hashes"] = .array(hashes)
        var bytes: [UInt8] = []
        CanonicalJSON.write(.object(proof), into: &bytes)
        changed[2] = String(decoding: bytes, as: UTF8.self)
        let changedFile = try write(changed, "changed.bundle")
        let mismatch = try session.caretrail("verify-bundle", changedFile, "--key", key)
        #expect(mismatch.status == 1)
        #expect(mismatch.stderr.contains("line 3: proof_mismatch"))

        let other = CLISession()
        #expect(try other.caretrail("init", "--db", other.db).status == 0)
        let otherKey = other.folder.appendingPathComponent("key.txt")
        try other.caretrail("checkpoint", "key", "--db", other.db).stdout.write(to: otherKey, atomically: true, encoding: .utf8)
        let wrongKey = try session.caretrail("verify-bundle", bundle, "--key", otherKey.path)
        #expect(wrongKey.status == 1)
        #expect(wrongKey.stderr.contains("wrong_key"))

        var dropped = try lines(bundle)
        dropped.remove(at: 2)
        let droppedFile = try write(dropped, "dropped.bundle")
        #expect(try session.caretrail("verify-bundle", droppedFile, "--key", key).status == 2)
    }
}
