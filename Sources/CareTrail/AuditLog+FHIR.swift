public import AuditChain
import AuditCore
import AuditFHIR
import AuditStorage
import Foundation

/// What a FHIR import appended.
public struct FHIRImportSummary: Sendable, Hashable {
    /// AuditEvents appended as `fhir_audit_event` entries.
    public var imported: Int
    /// AuditEvents exported from this very log (their chain entry is here): not appended again.
    public var alreadyInLog: Int
    public var head: ChainHead?
}

extension AuditLog {
    /// Imports FHIR AuditEvents (R4: JSON resource, Bundle or NDJSON; XML resource or Bundle)
    /// into the chain, all or nothing. Each is kept as given in its entry's body, with the
    /// mapped fields as columns; an AuditEvent this log exported itself is recognised by its
    /// `chain-entry` extension and not appended twice.
    public func importFHIR(path: String) throws(CareTrailError) -> FHIRImportSummary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CareTrailError(code: .input, message: "cannot read \(path)")
        }
        let events: [JSONValue]
        do {
            events = try FHIRImporter.auditEvents(in: data)
        } catch {
            throw CareTrailError(code: .invalidArgument, message: "\(path): \(error.message); nothing was imported")
        }
        var contents: [EncodedEntry] = []
        var already = 0
        for event in events {
            if let origin = FHIRImporter.chainEntry(event),
                let entry = try storeCall({ () throws(StoreError) in try store.entry(seq: origin.seq) }), entry.entryHash == origin.hash
            {
                already += 1
                continue
            }
            contents.append(EncodedEntry(FHIRImporter.content(event, keyID: sanitizer.pseudonymizer.keyID)))
        }
        let receipt = try storeCall { () throws(StoreError) in
            contents.isEmpty ? AppendReceipt(entries: [], head: try store.head()) : try store.appendNow(contents)
        }
        return FHIRImportSummary(imported: contents.count, alreadyInLog: already, head: receipt.head)
    }
}
