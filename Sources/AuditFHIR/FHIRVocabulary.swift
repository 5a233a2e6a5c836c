/// The canonical URLs of CareTrail's FHIR artefacts, and the code systems it uses.
///
/// Base URL: `https://caretrail.dev/fhir`. Profiles and extensions are under
/// `StructureDefinition/`, our trigger codes under `CodeSystem/`; the JSON files are in
/// `fhir-profiles/`.
public enum FHIRVocabulary {
    public static let base = "https://caretrail.dev/fhir"
    public static let profileR4 = "\(base)/StructureDefinition/caretrail-auditevent"
    public static let profileR5 = "\(base)/StructureDefinition/caretrail-auditevent-r5"
    public static let triggerSystem = "\(base)/CodeSystem/caretrail-trigger"
    /// Identifier systems.
    public static let userSystem = "\(base)/sid/user-id"
    public static let toolCallSystem = "\(base)/sid/tool-call"
    public static let observerSystem = "\(base)/sid/deployment"

    /// Our extensions, by short name.
    public enum Extension: String, CaseIterable, Sendable {
        case toolName = "tool-name"
        case conversationID = "conversation-id"
        case traceID = "trace-id"
        case turnNumber = "turn-number"
        case trigger = "trigger"
        case durationMS = "duration-ms"
        case tokenUsage = "token-usage"
        case chainEntry = "chain-entry"
        case tenant = "tenant"
        case alert = "alert"

        public var url: String { "\(FHIRVocabulary.base)/StructureDefinition/\(rawValue)" }
    }

    public static let auditEventType = "http://terminology.hl7.org/CodeSystem/audit-event-type"
    public static let restfulInteraction = "http://hl7.org/fhir/restful-interaction"
    public static let dicom = "http://dicom.nema.org/resources/ontology/DCM"
    public static let sourceType = "http://terminology.hl7.org/CodeSystem/security-source-type"
    public static let entityType = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
    public static let objectRole = "http://terminology.hl7.org/CodeSystem/object-role"
    public static let participationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
    public static let actReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
    public static let eventOutcome = "http://hl7.org/fhir/audit-event-outcome"
    /// R5: the outcome and severity code systems.
    public static let eventOutcomeR5 = "http://terminology.hl7.org/CodeSystem/audit-event-outcome"
    public static let eventSeverity = "http://hl7.org/fhir/audit-event-severity"

    /// Every code CareTrail emits, by system, with its display: tests check each exists in the
    /// code system files of `fixtures/fhir/`.
    public static let emitted: [(system: String, code: String, display: String)] = [
        (auditEventType, "rest", "RESTful Operation"),
        (restfulInteraction, "read", "read"), (restfulInteraction, "search-type", "search-type"),
        (restfulInteraction, "create", "create"), (restfulInteraction, "update", "update"),
        (restfulInteraction, "delete", "delete"),
        (dicom, "110150", "Application"), (dicom, "110152", "Destination Role ID"), (dicom, "110153", "Source Role ID"),
        (dicom, "110113", "Security Alert"), (dicom, "110127", "Emergency Override Started"),
        (sourceType, "4", "Application Server"),
        (entityType, "1", "Person"), (entityType, "2", "System Object"),
        (objectRole, "1", "Patient"), (objectRole, "4", "Domain Resource"), (objectRole, "24", "Query"),
        (participationType, "IRCP", "information recipient"),
    ]

    static func coding(_ system: String, _ code: String, _ display: String? = nil) -> FHIRNode {
        var members = FHIRMembers()
        members.add("system", string: system)
        members.add("code", string: code)
        members.add("display", string: display ?? emitted.first { $0.system == system && $0.code == code }?.display)
        return .object(members.members)
    }
}
