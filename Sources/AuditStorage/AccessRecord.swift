import AuditCore
import Foundation

/// An ``AccessRow`` packed into bytes, stored beside a patient's sequence numbers in the
/// posting lists, so that a patient report reads its rows from a few contiguous records instead
/// of seeking every entry in the log (at ten million entries, 500 seeks in a 14 GB table).
///
/// A record holds the row's fields in a fixed order, each a text written as a LEB128 length
/// plus one (0 for NULL) and its UTF-8 bytes; records follow each other with no separator, in
/// the order of their sequence numbers, which the posting list holds. Records of entries that
/// are not tool calls (alerts and reviews about a patient) carry their kind only: a report
/// reads those entries whole.
///
/// Records are derived data, like the posting lists: written from the entries when a block
/// is complete, never by an append, and rebuilt by opening a log whose records are missing.
package enum AccessRecord {
    /// Appends the record of `row` (its sequence number and body are not part of it).
    package static func append(_ row: AccessRow, to data: inout [UInt8]) {
        func text(_ value: String?) {
            guard var text = value else {
                data.append(0)
                return
            }
            text.withUTF8 { appendField($0, to: &data) }
        }
        text(row.kind.rawValue)
        guard row.kind == .toolCall else { return }
        text(row.time)
        text(row.recordedAt)
        text(row.tenantID)
        text(row.userID)
        text(row.userRole)
        text(row.model)
        text(row.toolName)
        text(row.action?.rawValue)
        text(row.purposeOfUse)
        text(row.outcome?.rawValue)
        text(row.breakGlass ? "1" : nil)
        text(row.breakGlassReason)
        text(row.conversationID)
        text(row.traceID)
    }

    /// Appends one field of a record: a LEB128 length plus one (0 is NULL), then the bytes.
    /// ``CanonicalRecord`` writes records through it too, so both write the same bytes.
    package static func appendField(_ bytes: UnsafeBufferPointer<UInt8>, to data: inout [UInt8]) {
        var length = UInt64(bytes.count) + 1
        while length >= 0x80 {
            data.append(UInt8(truncatingIfNeeded: length) | 0x80)
            length >>= 7
        }
        data.append(UInt8(length))
        data.append(contentsOf: bytes)
    }

    /// Reads records one after another from a run of bytes.
    package struct Reader {
        private let bytes: UnsafeRawBufferPointer
        private var offset = 0

        package init(_ bytes: UnsafeRawBufferPointer) {
            self.bytes = bytes
        }

        /// The next record as the row of entry `seq`: `.row` for a tool call, `.entry` for
        /// another kind (to be read whole), `nil` at the end or at damaged bytes.
        package mutating func next(seq: Int64) -> Decoded? {
            guard case let storedKind?? = field() else { return nil }
            let kind = RecordKind(stored: storedKind)
            guard kind == .toolCall else { return .entry }
            guard case let time?? = field(), case let recordedAt?? = field(), case let tenant?? = field(),
                case let user?? = field(), case let role? = field(), case let model?? = field(),
                case let tool? = field(), case let action? = field(), case let purpose? = field(),
                case let outcome? = field(), case let breakGlass? = field(), case let reason? = field(),
                case let conversation? = field(), case let trace? = field()
            else { return nil }
            return .row(
                AccessRow(
                    seq: seq, kind: kind, time: time, recordedAt: recordedAt, tenantID: tenant, userID: user, userRole: role,
                    model: model, toolName: tool, action: action.map(ToolAction.init(stored:)), purposeOfUse: purpose,
                    outcome: outcome.map(Outcome.init(stored:)), breakGlass: breakGlass != nil, breakGlassReason: reason,
                    conversationID: conversation, traceID: trace, viaQuery: action == ToolAction.execute.rawValue, body: nil
                ))
        }

        /// The bytes of the next record, without decoding it; `nil` at the end or at damaged bytes.
        package mutating func skip() -> Range<Int>? {
            let start = offset
            guard offset < bytes.count, let kind = skipText(), let kind else { return nil }
            if bytes[kind].elementsEqual(Self.toolCall) {
                for _ in 0..<14 { guard skipText() != nil else { return nil } }
            }
            return start..<offset
        }

        private static let toolCall = Array(RecordKind.toolCall.rawValue.utf8)

        /// Skips a field: the range of its bytes, `.some(nil)` for NULL, `nil` past the end.
        private mutating func skipText() -> Range<Int>?? {
            var length: UInt64 = 0
            var shift: UInt64 = 0
            var complete = false
            while offset < bytes.count, shift < 64 {
                let byte = bytes[offset]
                offset += 1
                length |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 {
                    complete = true
                    break
                }
                shift += 7
            }
            guard complete else { return nil }
            if length == 0 { return .some(nil) }
            let count = Int(length - 1)
            guard count <= bytes.count - offset else { return nil }
            offset += count
            return offset - count..<offset
        }

        package enum Decoded: Equatable {
            case row(AccessRow)
            case entry
        }

        /// A field: `.some(nil)` for NULL, `nil` past the end.
        private mutating func field() -> String?? {
            guard let field = skipText() else { return nil }
            guard let range = field else { return .some(nil) }
            return .some(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self))
        }
    }
}
