import AuditCore
import Foundation

/// A set of entries an auditor can check offline, with nothing but the bundle and the log's
/// verifier key: each entry's canonical bytes, its inclusion proof, and the signed checkpoint
/// the proofs lead to.
///
/// The file is JSON Lines, UTF-8, each line ending in a newline:
/// 1. a header object: `format` (`caretrail-bundle/1`), `origin`, `tree_size`, `checkpoint`
///    (the signed note, as a JSON string), `key` (the verifier key line), `from` and `to`
///    (the window asked for, or null) and `entries` (how many follow);
/// 2. then, for each entry in log order, two lines: the entry's canonical JSON exactly as
///    hashed, and its inclusion proof `{"leaf_index", "tree_size", "leaf_hash", "hashes"}`.
///
/// An entry's chain hash is the SHA-256 of its line's bytes (without the newline), its leaf
/// hash SHA-256(0x00 ‖ chain hash), its leaf index its `seq` minus one.
public struct LogBundle: Sendable, Equatable {
    public static let format = "caretrail-bundle/1"

    public var note: SignedNote
    public var checkpoint: Checkpoint
    public var verifierKey: NoteVerifierKey
    public var from: String?
    public var to: String?
    /// Each entry's canonical bytes and its proof.
    public var entries: [(canonical: [UInt8], proof: InclusionProof)]

    /// Why a bundle was refused: a named reason and the line it concerns.
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public enum Reason: String, Sendable, Equatable {
            /// Not the format: a line that is not the JSON it should be, a count that differs.
            case malformed = "malformed_bundle"
            /// The checkpoint is not signed by the key given.
            case wrongKey = "wrong_key"
            /// A signature by the key given that does not verify.
            case badSignature = "bad_signature"
            /// The header and the checkpoint disagree (origin, tree size).
            case checkpointMismatch = "checkpoint_mismatch"
            /// An entry's bytes do not hash to the leaf its proof is for: the entry was edited.
            case entryEdited = "entry_edited"
            /// A proof does not lead to the checkpoint's root.
            case proofMismatch = "proof_mismatch"
        }
        public var reason: Reason
        /// The 1-based line of the bundle, when one line is at fault.
        public var line: Int?
        public var message: String

        public var description: String { "\(line.map { "line \($0): " } ?? "")\(reason.rawValue): \(message)" }
    }

    public init(
        note: SignedNote, checkpoint: Checkpoint, verifierKey: NoteVerifierKey, from: String?, to: String?,
        entries: [(canonical: [UInt8], proof: InclusionProof)]
    ) {
        self.note = note
        self.checkpoint = checkpoint
        self.verifierKey = verifierKey
        self.from = from
        self.to = to
        self.entries = entries
    }

    public static func == (a: LogBundle, b: LogBundle) -> Bool {
        a.note == b.note && a.verifierKey == b.verifierKey && a.from == b.from && a.to == b.to
            && a.entries.map(\.canonical) == b.entries.map(\.canonical) && a.entries.map(\.proof) == b.entries.map(\.proof)
    }

    /// The file's bytes.
    public var serialized: [UInt8] {
        let header: [String: JSONValue] = [
            "format": .string(Self.format), "origin": .string(checkpoint.origin), "tree_size": .number(Double(checkpoint.size)),
            "checkpoint": .string(note.serialized), "key": .string(verifierKey.description), "entries": .number(Double(entries.count)),
            "from": from.map(JSONValue.string) ?? .null, "to": to.map(JSONValue.string) ?? .null,
        ]
        var out: [UInt8] = []
        CanonicalJSON.write(.object(header), into: &out)
        out.append(0x0A)
        for entry in entries {
            out.append(contentsOf: entry.canonical)
            out.append(0x0A)
            let proof = entry.proof
            out.append(
                contentsOf:
                    "{\"leaf_index\":\(proof.leafIndex),\"tree_size\":\(proof.treeSize),\"leaf_hash\":\"\(proof.leafHash.base64)\",\"hashes\":[\(proof.hashes.map { "\"\($0.base64)\"" }.joined(separator: ","))]}\n"
                    .utf8)
        }
        return out
    }

    /// Reads a bundle and checks everything in it against `key`: the checkpoint's signature,
    /// the header against the checkpoint, and each entry's hash and proof against the
    /// checkpoint's root. Returns the bundle only when all of it holds.
    public static func verified(_ bytes: [UInt8], key: NoteVerifierKey) throws(Failure) -> LogBundle {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        guard bytes.last == 0x0A, lines.count >= 2 else { throw Failure(reason: .malformed, line: nil, message: "not a bundle") }
        lines.removeLast()
        guard case .object(let header)? = try? JSONParser.parse(String(decoding: lines[0], as: UTF8.self)),
            header["format"]?.stringValue == format, let noteText = header["checkpoint"]?.stringValue,
            let count = header["entries"]?.numberValue, count == Double(Int(count)), Int(count) * 2 == lines.count - 1
        else { throw Failure(reason: .malformed, line: 1, message: "the header is not a \(format) header for the lines that follow") }
        let note: SignedNote
        let checkpoint: Checkpoint
        do {
            note = try SignedNote(parsing: Array(noteText.utf8))
            checkpoint = try Checkpoint(text: note.text)
        } catch {
            throw Failure(reason: .malformed, line: 1, message: "the checkpoint is not a signed checkpoint note")
        }
        do {
            try note.verify(with: key)
        } catch .unsignedByKey {
            throw Failure(
                reason: .wrongKey, line: 1, message: "the checkpoint has no signature by \(key.name)+\(NoteVerifierKey.hex(key.keyHash))")
        } catch {
            throw Failure(reason: .badSignature, line: 1, message: "the checkpoint's signature does not verify")
        }
        guard header["origin"]?.stringValue == checkpoint.origin, header["tree_size"]?.numberValue == Double(checkpoint.size) else {
            throw Failure(reason: .checkpointMismatch, line: 1, message: "the header's origin or tree size is not the checkpoint's")
        }
        var entries: [(canonical: [UInt8], proof: InclusionProof)] = []
        for index in 0..<Int(count) {
            let entryLine = 2 + 2 * index
            let canonical = lines[entryLine - 1]
            let proof = try Self.proof(lines[entryLine], line: entryLine + 1, checkpoint: checkpoint)
            let (seq, leaf) = canonical.withUnsafeBufferPointer { bytes in
                (CanonicalEntry.link(bytes).seq, MerkleTree.leafHash(CanonicalEntry.hash(bytes)))
            }
            guard let seq, seq == proof.leafIndex + 1 else {
                throw Failure(reason: .malformed, line: entryLine, message: "the entry's seq is not its proof's leaf index plus one")
            }
            guard leaf == proof.leafHash else {
                throw Failure(reason: .entryEdited, line: entryLine, message: "entry \(seq) does not hash to the leaf its proof is for")
            }
            do {
                try proof.verify()
            } catch {
                throw Failure(
                    reason: .proofMismatch, line: entryLine + 1,
                    message: "the proof of entry \(seq) does not lead to the checkpoint's root (\(error.rawValue))")
            }
            entries.append((canonical, proof))
        }
        return LogBundle(
            note: note, checkpoint: checkpoint, verifierKey: key, from: header["from"]?.stringValue, to: header["to"]?.stringValue,
            entries: entries)
    }

    /// A proof line, with the checkpoint's size and root.
    private static func proof(_ bytes: [UInt8], line: Int, checkpoint: Checkpoint) throws(Failure) -> InclusionProof {
        guard case .object(let object)? = try? JSONParser.parse(String(decoding: bytes, as: UTF8.self)),
            let index = object["leaf_index"]?.numberValue, index >= 0, index == Double(Int64(index)),
            let size = object["tree_size"]?.numberValue, let leaf = object["leaf_hash"]?.stringValue.flatMap(ChainHash.init(base64:)),
            let hashes = object["hashes"]?.arrayValue, hashes.count <= 64
        else { throw Failure(reason: .malformed, line: line, message: "not an inclusion proof") }
        let path = hashes.compactMap { $0.stringValue.flatMap(ChainHash.init(base64:)) }
        guard path.count == hashes.count else {
            throw Failure(reason: .malformed, line: line, message: "a proof hash is not base64 of 32 bytes")
        }
        guard size == Double(checkpoint.size) else {
            throw Failure(reason: .proofMismatch, line: line, message: "the proof is for another tree size than the checkpoint's")
        }
        return InclusionProof(leafIndex: Int64(index), treeSize: checkpoint.size, leafHash: leaf, hashes: path, root: checkpoint.root)
    }
}
