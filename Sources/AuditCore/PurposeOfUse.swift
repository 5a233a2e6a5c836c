/// Why data was accessed: a code of the HL7 v3 ActReason code system, restricted to the
/// descendants of its abstract concept PurposeOfUse (the FHIR value set `v3-PurposeOfUse`).
///
/// Every tool call must carry one. The codes and display names are those of FHIR R4 4.0.1's
/// `CodeSystem-v3-ActReason.json`.
public struct PurposeOfUse: Sendable, Hashable, CustomStringConvertible {
    /// The code system every purpose-of-use code belongs to.
    public static let system = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

    /// The code, e.g. `TREAT`.
    public let code: String
    /// The display name from the code system, e.g. `treatment`.
    public let display: String
    /// The parent concept's code, `nil` for the top-level purposes.
    public let parent: String?

    /// The purpose with this code, or `nil` if the code is not in the value set.
    /// Codes are case-sensitive, as the code system says.
    public init?(code: String) {
        guard let entry = Self.byCode[code] else { return nil }
        self = entry
    }

    private init(code: String, display: String, parent: String?) {
        self.code = code
        self.display = display
        self.parent = parent
    }

    /// Every code of the value set, in the code system's order.
    public static let all: [PurposeOfUse] = table.map { PurposeOfUse(code: $0.code, display: $0.display, parent: $0.parent) }

    private static let byCode: [String: PurposeOfUse] = Dictionary(
        uniqueKeysWithValues: all.map { ($0.code, $0) }
    )

    /// Whether this code is `ancestor` or one of its descendants (`BTG` is a kind of `ETREAT`,
    /// which is a kind of `TREAT`).
    public func isA(_ ancestor: String) -> Bool {
        var current: PurposeOfUse? = self
        while let purpose = current {
            if purpose.code == ancestor { return true }
            current = purpose.parent.flatMap { PurposeOfUse(code: $0) }
        }
        return false
    }

    /// Emergency purposes: emergency treatment and its descendants (break the glass, ER treatment).
    public var isEmergency: Bool { isA("ETREAT") }

    public var description: String { code }

    public static let treatment = PurposeOfUse(code: "TREAT", display: "treatment", parent: nil)
    public static let emergencyTreatment = PurposeOfUse(code: "ETREAT", display: "Emergency Treatment", parent: "TREAT")
    public static let breakTheGlass = PurposeOfUse(code: "BTG", display: "break the glass", parent: "ETREAT")
    public static let payment = PurposeOfUse(code: "HPAYMT", display: "healthcare payment", parent: nil)
    public static let operations = PurposeOfUse(code: "HOPERAT", display: "healthcare operations", parent: nil)
    public static let research = PurposeOfUse(code: "HRESCH", display: "healthcare research", parent: nil)
    public static let publicHealth = PurposeOfUse(code: "PUBHLTH", display: "public health", parent: nil)
}
