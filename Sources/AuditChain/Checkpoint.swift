import Foundation

/// The state of the log at one tree size, in the C2SP tlog-checkpoint format: the origin
/// line that names the log, the tree size in decimal, and the base64 Merkle root, one per
/// line. Signed as a ``SignedNote``, it commits the log to every entry up to that size: a
/// later log that does not extend it, by a consistency proof, was rewritten or truncated.
public struct Checkpoint: Sendable, Equatable {
    /// The log's name: which log, and which of its chains, the checkpoint is of.
    public var origin: String
    public var size: Int64
    public var root: ChainHash

    /// Why a checkpoint's text was refused.
    public enum Failure: String, Sendable, Error, Equatable {
        case malformed = "malformed_checkpoint"
    }

    public init(origin: String, size: Int64, root: ChainHash) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// The note text: three lines, each ending in a newline.
    public var text: String {
        "\(origin)\n\(size)\n\(Data(root.bytes).base64EncodedString())\n"
    }

    /// Reads a checkpoint from a note's text; extension lines after the third are allowed
    /// and ignored.
    public init(text: String) throws(Failure) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard text.hasSuffix("\n"), lines.count >= 4, !lines[0].isEmpty,
            lines[1].allSatisfy({ $0.isASCII && $0.isNumber }), lines[1] == "0" || !lines[1].hasPrefix("0"),
            let size = Int64(lines[1]), let raw = Data(base64Encoded: String(lines[2])), let root = ChainHash(bytes: [UInt8](raw))
        else { throw .malformed }
        self.init(origin: String(lines[0]), size: size, root: root)
    }
}
