/// Which purposes of use each tenant accepts, e.g. a research deployment that allows only
/// `HRESCH`.
///
/// A listed code allows its descendants too (`TREAT` allows `ETREAT` and `BTG`). A tenant with
/// no entry, and every tenant when ``default`` is `nil`, accepts every code of the value set.
public struct PurposeRestrictions: Sendable, Hashable, Codable {
    /// Allowed codes for tenants not listed in ``tenants``; `nil` allows every code.
    public var `default`: [String]?
    /// Allowed codes per tenant id.
    public var tenants: [String: [String]]

    public init(default: [String]? = nil, tenants: [String: [String]] = [:]) {
        self.default = `default`
        self.tenants = tenants
    }

    /// No restrictions.
    public static let none = PurposeRestrictions()

    /// The codes `tenant` may use, or `nil` when it may use all.
    public func allowedCodes(forTenant tenant: String) -> [String]? {
        tenants[tenant] ?? `default`
    }

    /// Whether `tenant` may record access for `purpose`.
    public func allows(_ purpose: PurposeOfUse, tenant: String) -> Bool {
        guard let allowed = allowedCodes(forTenant: tenant) else { return true }
        return allowed.contains { purpose.isA($0) }
    }

    /// Checks a record's purpose against its tenant's restrictions.
    public func check(_ record: IngestRecord) throws(IngestError) {
        let tenant: String
        let purpose: PurposeOfUse?
        switch record {
        case .toolCall(let call): (tenant, purpose) = (call.tenantID, call.purposeOfUse)
        case .agentRequest(let request): (tenant, purpose) = (request.tenantID, request.purposeOfUse)
        }
        guard let purpose, !allows(purpose, tenant: tenant) else { return }
        let allowed = allowedCodes(forTenant: tenant)?.joined(separator: ", ") ?? ""
        throw IngestError(
            code: .purposeNotAllowed, field: "purpose_of_use",
            message: "this tenant does not accept this purpose of use (allowed: \(allowed))"
        )
    }

    /// Codes that are not in the PurposeOfUse value set, for validating a configuration.
    public var unknownCodes: [String] {
        let all = (`default` ?? []) + tenants.values.flatMap { $0 }
        return Array(Set(all.filter { PurposeOfUse(code: $0) == nil })).sorted()
    }
}
