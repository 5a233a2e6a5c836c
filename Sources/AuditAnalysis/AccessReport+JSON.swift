import AuditChain
public import AuditCore
public import AuditStore

extension AccessReport {
    /// The report as JSON, schema version 1 (documented in the README):
    /// `report`, `schema_version`, `patient_id`, `pseudonyms`, `period` (`from`, `to`),
    /// `generated_at`, `total_accesses`, `unique_users`, `summary`, `accesses`, `alerts`, `integrity`.
    public var jsonValue: JSONValue {
        func number(_ value: Int) -> JSONValue { .number(Double(value)) }
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        let states = breakGlassReviewStates
        let summary: JSONValue = .object([
            "total_accesses": number(totalAccesses), "unique_users": number(uniqueUsers), "failures": number(failures),
            "by_purpose": .array(byPurpose.map { .object(["code": .string($0.code), "display": .string($0.display), "count": number($0.count)]) }),
            "by_tool": .array(byTool.map { .object(["tool_name": .string($0.tool), "count": number($0.count)]) }),
            "by_access": .object(Dictionary(grouping: accesses, by: \.access).mapValues { number($0.count) }),
            "break_glass": .object([
                "count": number(breakGlassAccesses.count), "alerts_reviewed": number(states.reviewed),
                "alerts_open": number(states.open), "alerts_overdue": number(states.overdue),
            ]),
            "alerts": number(alerts.count),
        ])
        return .object([
            "report": "patient_access", "schema_version": 1, "patient_id": text(patientID),
            "pseudonyms": .array(pseudonyms.map(JSONValue.string)),
            "period": .object(["from": text(from?.description), "to": text(to?.description)]),
            "generated_at": .string(generatedAt.description), "total_accesses": number(totalAccesses),
            "unique_users": number(uniqueUsers), "summary": summary,
            "accesses": .array(accesses.map(\.jsonValue)),
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
            "tool_name": text(row.toolName), "action": text(row.action), "access": .string(access),
            "purpose_of_use": text(row.purposeOfUse), "purpose_display": text(purposeDisplay), "outcome": text(row.outcome),
            "break_glass": .bool(row.breakGlass), "break_glass_reason": text(row.breakGlassReason),
            "conversation_id": text(row.conversationID), "trace_id": text(row.traceID), "model": .string(row.model),
        ])
    }
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
            return "verified incrementally: entries up to \(previous.head.seq) were verified at \(previous.verifiedAt), \(entriesChecked) appended since re-hashed now (\(at))"
        }
        return "verified in full: \(entriesChecked) entries re-hashed and linked (\(at))"
    }
}
