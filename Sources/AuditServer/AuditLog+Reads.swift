import AuditAnalysis
import AuditStorage
import CareTrail

extension AuditLog {
    /// Chains a read by the holder of `key` through `channel` (`api`, `console`): the reader is
    /// the key's name (or id), its view the key's tenant (`*` for an admin); empty parameters
    /// are left out.
    func recordRead(by key: APIKeyRecord, channel: String, _ query: String, _ parameters: [String: String], results: Int) throws {
        try recordAuditAccess(
            AuditAccess(
                reader: key.name ?? key.id, role: key.role.rawValue, tenant: key.role == .admin ? "*" : key.tenantID, query: query,
                parameters: parameters.filter { !$0.value.isEmpty }, results: results, channel: channel))
    }
}
