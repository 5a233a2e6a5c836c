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
        /// Several pseudonyms of one person, such as those ``AuditLog/pseudonyms(for:)`` gives
        /// for a value under every key of the ring.
        case pseudonyms([String])
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
        let key = patientKey(subject)
        return try storeCall { () throws(StoreError) in
            let integrity = verifyFull ? try store.verify() : try store.verifyIncrementally()
            return try AccessReport.build(
                store: reader, key: key, from: from, to: to, integrity: integrity,
                deadlineDays: configuration.reviewDeadlineDays, now: store.clock()
            )
        }
    }

    /// What the store files a subject's entries under.
    func patientKey(_ subject: ReportSubject) -> PatientKey {
        switch subject {
        case .patientID(let id): .patientID(id)
        case .pseudonym(let token): .pseudonyms([token])
        case .pseudonyms(let tokens): .pseudonyms(tokens)
        case .clearText(let value): .pseudonyms(pseudonyms(for: value))
        }
    }

    /// The pseudonyms of `value` under every key of the ring, in the ring's order: what a
    /// search by a clear-text value looks for, since entries written before a key rotation
    /// carry an older key's pseudonym.
    public func pseudonyms(for value: String) -> [String] {
        keyRing.keys.compactMap { keyRing.pseudonymizer(keyID: $0.id)?.pseudonym(for: value) }
    }
}
