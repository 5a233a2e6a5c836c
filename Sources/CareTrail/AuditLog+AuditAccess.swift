public import AuditAnalysis
public import AuditChain
import AuditCore

extension AuditLog {
    /// Chains a reader's read of the log (see ``AuditAccess``). A read that cannot be recorded
    /// is not answered: callers record before they return what was read.
    @discardableResult
    public func recordAuditAccess(_ access: AuditAccess) throws(CareTrailError) -> ChainHead {
        var access = access
        access.parameters = access.parameters.mapValues { sanitizer.scrubNote($0) }
        return try appendOwn(access.entryContent(keyID: sanitizer.pseudonymizer.keyID))
    }
}
