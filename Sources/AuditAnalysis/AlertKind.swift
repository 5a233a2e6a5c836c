public import AuditCore

/// What an alert is about: the rule that raised it.
public enum AlertKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// Emergency access: every break-the-glass entry raises one.
    case breakGlass = "break_glass"
    /// Many accesses to one patient in a short time (default 10 within 60 minutes).
    case patientAccessBurst = "patient_access_burst"
    /// One user touching many distinct patients in a short time (default more than 50 in an hour).
    case userManyPatients = "user_many_patients"
    /// Repeated failed or denied calls by one user (default 5 within 10 minutes).
    case repeatedFailures = "repeated_failures"
    /// Access outside working hours for a non-emergency purpose.
    case afterHours = "after_hours"

    /// How urgently a privacy officer should look.
    public var severity: Severity {
        switch self {
        case .breakGlass, .patientAccessBurst, .userManyPatients: .high
        case .repeatedFailures, .afterHours: .medium
        }
    }
}
