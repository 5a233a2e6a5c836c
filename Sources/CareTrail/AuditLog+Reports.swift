public import AuditAnalysis
public import AuditCore
import AuditKeys
import AuditStorage

extension AuditLog {
    /// Whom a report is about, as a privacy officer names them.
    public enum ReportSubject: Sendable, Hashable {
        /// The patient's record id.
        case patientID(String)
        /// A pseudonym (`hmac-sha256:…`) as the log stores it.
        case pseudonym(String)
        /// A clear-text value (a name, an SSN): pseudonymised with every key of the ring before
        /// the query; never stored or logged.
        case clearText(String)
    }

    /// A patient access report for `from...to` (both ends included). The log is verified first,
    /// incrementally (only what was appended since the last verification) unless `verifyFull`,
    /// and the report lists only entries up to the head that was verified.
    public func patientReport(
        _ subject: ReportSubject, from: Timestamp?, to: Timestamp?, verifyFull: Bool = false
    ) throws(CareTrailError) -> AccessReport {
        let key: PatientKey
        switch subject {
        case .patientID(let id): key = .patientID(id)
        case .pseudonym(let token): key = .pseudonyms([token])
        case .clearText(let value):
            key = .pseudonyms(keyRing.keys.compactMap { keyRing.pseudonymizer(keyID: $0.id)?.pseudonym(for: value) })
        }
        return try storeCall { () throws(StoreError) in
            let integrity = verifyFull ? try store.verify() : try store.verifyIncrementally()
            return try AccessReport.build(
                store: reader, key: key, from: from, to: to, integrity: integrity,
                deadlineDays: configuration.reviewDeadlineDays, now: store.clock()
            )
        }
    }
}
