import AuditChain
public import AuditCore
public import AuditStorage

extension AccessReport {
    /// The report as JSON, schema version 1 (documented in docs/reports-and-queries.md):
    /// `report`, `schema_version`, `patient_id`, `pseudonyms`, `period` (`from`, `to`),
    /// `generated_at`, `total_accesses`, `unique_users`, `summary`, `accesses`, `alerts`, `integrity`.
    public var jsonValue: JSONValue {
        object(accesses: .array(accesses.map(\.jsonValue)))
    }

    /// ``jsonValue`` in canonical form (RFC 8785), as the API serves it, written without a
    /// tree per access: the accesses, nearly all of a report's bytes, go straight to bytes.
    /// `accesses` sorts first among the members, so the rest is the canonical form of the
    /// report with no accesses, spliced in after them.
    public var canonicalJSON: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512 + accesses.count * 480)
        out.append(contentsOf: Self.accessesPrefix)
        for (index, access) in accesses.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            access.writeCanonical(into: &out)
        }
        out.append(UInt8(ascii: "]"))
        var rest: [UInt8] = []
        CanonicalJSON.write(object(accesses: .array([])), into: &rest)
        // `{"accesses":[]` then `,` and the other members.
        out.append(contentsOf: rest.dropFirst(Self.accessesPrefix.count + 1))
        return out
    }

    private static let accessesPrefix: [UInt8] = Array(#"{"accesses":["#.utf8)

    private func object(accesses accessList: JSONValue) -> JSONValue {
        func number(_ value: Int) -> JSONValue { .number(Double(value)) }
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        let states = breakGlassReviewStates
        let users = uniqueUsers
        let summary: JSONValue = .object([
            "total_accesses": number(totalAccesses), "unique_users": number(users), "failures": number(failures),
            "by_purpose": .array(
                byPurpose.map { .object(["code": .string($0.code), "display": .string($0.display), "count": number($0.count)]) }),
            "by_tool": .array(byTool.map { .object(["tool_name": .string($0.tool), "count": number($0.count)]) }),
            "by_access": .object(byAccess.mapValues { number($0) }),
            "break_glass": .object([
                "count": number(accesses.reduce(0) { $0 + ($1.row.breakGlass ? 1 : 0) }), "alerts_reviewed": number(states.reviewed),
                "alerts_open": number(states.open), "alerts_overdue": number(states.overdue),
            ]),
            "alerts": number(alerts.count),
        ])
        return .object([
            "report": "patient_access", "schema_version": 1, "patient_id": text(patientID),
            "pseudonyms": .array(pseudonyms.map(JSONValue.string)),
            "period": .object(["from": text(from?.description), "to": text(to?.description)]),
            "generated_at": .string(generatedAt.description), "total_accesses": number(totalAccesses),
            "unique_users": number(users), "summary": summary,
            "accesses": accessList,
            "alerts": .array(alerts.map(\.jsonValue)),
            "integrity": integrity.jsonValue,
        ])
    }
}

extension AccessReport.Access {
    /// One access as JSON.
    public var jsonValue: JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            "seq": .number(Double(row.seq)), "time": .string(row.time), "recorded_at": .string(row.recordedAt),
            "tenant_id": .string(row.tenantID), "user_id": .string(row.userID), "user_role": text(row.userRole),
            "tool_name": text(row.toolName), "action": text(row.action?.rawValue), "access": .string(access),
            "purpose_of_use": text(row.purposeOfUse), "purpose_display": text(purposeDisplay), "outcome": text(row.outcome?.rawValue),
            "break_glass": .bool(row.breakGlass), "break_glass_reason": text(row.breakGlassReason),
            "conversation_id": text(row.conversationID), "trace_id": text(row.traceID), "model": .string(row.model),
        ])
    }
}

extension AccessReport.Access {
    /// Writes ``jsonValue`` canonically: the members in sorted order, straight to bytes.
    func writeCanonical(into out: inout [UInt8]) {
        func member(_ name: StaticString, _ value: String?) {
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            if let value { CanonicalJSON.writeString(value, into: &out) } else { out.append(contentsOf: Self.null) }
        }
        member(#"{"access":"#, access)
        member(#","action":"#, row.action?.rawValue)
        out.append(contentsOf: row.breakGlass ? Self.breakGlassTrue : Self.breakGlassFalse)
        member(#","break_glass_reason":"#, row.breakGlassReason)
        member(#","conversation_id":"#, row.conversationID)
        member(#","model":"#, row.model)
        member(#","outcome":"#, row.outcome?.rawValue)
        member(#","purpose_display":"#, purposeDisplay)
        member(#","purpose_of_use":"#, row.purposeOfUse)
        member(#","recorded_at":"#, row.recordedAt)
        out.append(contentsOf: Self.seqMember)
        CanonicalJSON.writeNumber(Double(row.seq), into: &out)
        member(#","tenant_id":"#, row.tenantID)
        member(#","time":"#, row.time)
        member(#","tool_name":"#, row.toolName)
        member(#","trace_id":"#, row.traceID)
        member(#","user_id":"#, row.userID)
        member(#","user_role":"#, row.userRole)
        out.append(UInt8(ascii: "}"))
    }

    private static let null: [UInt8] = Array("null".utf8)
    private static let breakGlassTrue: [UInt8] = Array(#","break_glass":true"#.utf8)
    private static let breakGlassFalse: [UInt8] = Array(#","break_glass":false"#.utf8)
    private static let seqMember: [UInt8] = Array(#","seq":"#.utf8)
}

extension VerificationReport {
    /// `verified`, `mode`, `head` (`seq`, `hash`), `entries_checked`, `previous` and `problem`.
    public var jsonValue: JSONValue {
        .object([
            "verified": .bool(isIntact), "mode": .string(mode.rawValue),
            "head": head.map(\.jsonValue) ?? .null, "entries_checked": .number(Double(entriesChecked)),
            "previous": previous.map { previous in
                .object([
                    "seq": .number(Double(previous.head.seq)), "hash": .string(previous.head.hash.hex),
                    "verified_at": .string(previous.verifiedAt), "mode": .string(previous.mode.rawValue),
                ])
            } ?? .null,
            "problem": problem.map { problem in
                .object(["kind": .string(problem.kind.rawValue), "seq": .number(Double(problem.seq)), "message": .string(problem.message)])
            } ?? .null,
        ])
    }

    /// One line for people.
    public var summaryLine: String {
        let at = head.map { "head \($0.seq):\($0.hash.hex)" } ?? "empty log"
        guard isIntact else {
            return "NOT VERIFIED: \(problem.map { "\($0.kind.rawValue) at seq \($0.seq): \($0.message)" } ?? "damaged") (\(at))"
        }
        if mode == .incremental, let previous {
            return
                "verified incrementally: entries up to \(previous.head.seq) were verified at \(previous.verifiedAt), \(entriesChecked) appended since re-hashed now (\(at))"
        }
        return "verified in full: \(entriesChecked) entries re-hashed and linked (\(at))"
    }
}
