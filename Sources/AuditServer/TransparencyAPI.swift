import AuditChain
import AuditStorage
import CareTrail
import Hummingbird

/// What outsiders check the log with: the latest signed checkpoint and its verifier key
/// (public, as Certificate Transparency logs serve theirs), and Merkle proofs (any API key).
struct TransparencyAPI: Sendable {
    let log: AuditLog
    let api: API
    let checkpoints: CheckpointSchedule?

    /// `GET /v1/checkpoint`: the latest signed checkpoint note, `text/plain`.
    func checkpoint() throws -> Response {
        guard let checkpoints else { throw APIError.notFound("this server signs no checkpoints") }
        let signed: SignedCheckpoint
        if let latest = checkpoints.latest { signed = latest } else { signed = try checkpoints.signNow() }
        return JSONResponse.text(signed.note.serialized, contentType: "text/plain; charset=utf-8")
    }

    /// `GET /v1/checkpoint/key`: the verifier key line, `text/plain`.
    func key() throws -> Response {
        guard let key = checkpoints?.verifierKey else { throw APIError.notFound("this server signs no checkpoints") }
        return JSONResponse.text("\(key)\n", contentType: "text/plain; charset=utf-8")
    }

    /// `GET /v1/proof/inclusion?seq=&size=`.
    func inclusion(_ request: Request, _ context: ServerContext) throws -> Response {
        _ = try api.require(context, Set(APIRole.allCases))
        guard let seq = try QueryValue.integer(request, "seq", in: 1...Int64.max) else {
            throw APIError.badRequest("seq: required, the entry's sequence number")
        }
        let size = try QueryValue.integer(request, "size", in: 1...Int64.max)
        return JSONResponse.text(try log.inclusionProof(seq: seq, treeSize: size).json + "\n", contentType: "application/json")
    }

    /// `GET /v1/proof/consistency?from=&to=`.
    func consistency(_ request: Request, _ context: ServerContext) throws -> Response {
        _ = try api.require(context, Set(APIRole.allCases))
        guard let from = try QueryValue.integer(request, "from", in: 1...Int64.max),
            let to = try QueryValue.integer(request, "to", in: 1...Int64.max)
        else { throw APIError.badRequest("from and to: required, two tree sizes") }
        return JSONResponse.text(try log.consistencyProof(from: from, to: to).json + "\n", contentType: "application/json")
    }
}
