import AuditChain
import AuditCore
import AuditServer
import CareTrail
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Checkpoints and proofs over HTTP")
struct TransparencyAPITests {
    @Test func theCheckpointAndItsKeyArePublicAndProofsNeedAKey() async throws {
        let fixture = try ServerFixture()
        let keys = try fixture.log.signingKeys(origin: "hospital.example/audit", create: true)
        let schedule = CheckpointSchedule(log: fixture.log, keys: keys, interval: 60)
        let app = Application(router: CareTrailServer.router(log: fixture.log, checkpoints: schedule))
        let size = try #require(try fixture.log.head()?.seq)
        try await app.test(.router) { client in
            var note = ""
            try await client.execute(uri: "/v1/checkpoint", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                note = String(buffer: response.body)
            }
            var key = ""
            try await client.execute(uri: "/v1/checkpoint/key", method: .get) { response in
                #expect(response.status == .ok)
                key = String(buffer: response.body)
            }
            let parsed = try SignedNote(parsing: Array(note.utf8))
            try parsed.verify(with: try NoteVerifierKey(parsing: key))
            let checkpoint = try Checkpoint(text: parsed.text)
            #expect(checkpoint.origin == "hospital.example/audit")
            #expect(checkpoint.size == size)

            try await client.execute(uri: "/v1/proof/inclusion?seq=3&size=\(size)", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/proof/inclusion?seq=3&size=\(size)", method: .get, headers: fixture.headers("siem")) {
                response in
                #expect(response.status == .ok)
                let proof = try json(response)
                #expect(proof["leaf_index"] == 2)
                #expect(proof["root"]?.stringValue == checkpoint.root.base64)
            }
            try await client.execute(
                uri: "/v1/proof/consistency?from=5&to=\(size)", method: .get, headers: fixture.headers("privacy_officer")
            ) { response in
                #expect(response.status == .ok)
                let proof = try json(response)
                let hashes = try #require(proof["hashes"]?.arrayValue?.compactMap { $0.stringValue.flatMap(ChainHash.init(base64:)) })
                let fromRoot = try #require(proof["from_root"]?.stringValue.flatMap(ChainHash.init(base64:)))
                try MerkleProof.verifyConsistency(from: 5, to: size, oldRoot: fromRoot, newRoot: checkpoint.root, proof: hashes)
            }
            for uri in [
                "/v1/proof/inclusion?seq=0", "/v1/proof/inclusion?seq=x", "/v1/proof/inclusion", "/v1/proof/inclusion?seq=\(size + 5)",
                "/v1/proof/inclusion?seq=4&size=3", "/v1/proof/consistency?from=3", "/v1/proof/consistency?from=4&to=3",
                "/v1/proof/consistency?from=1&to=99999999999999999999",
            ] {
                try await client.execute(uri: uri, method: .get, headers: fixture.headers("admin")) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    #expect(response.headers[.contentType] == "application/problem+json", "\(uri)")
                }
            }
        }
    }

    @Test func aServerWithoutCheckpointsAnswers404() async throws {
        let fixture = try ServerFixture()
        let app = Application(router: CareTrailServer.router(log: fixture.log))
        try await app.test(.router) { client in
            try await client.execute(uri: "/v1/checkpoint", method: .get) { response in #expect(response.status == .notFound) }
        }
    }
}
