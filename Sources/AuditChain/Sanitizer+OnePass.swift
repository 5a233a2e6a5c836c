package import AuditCore

extension Sanitizer {
    /// The stored entry of a tool call read in one pass, its body written as canonical bytes
    /// member by member, in order, without a tree: byte for byte what
    /// `EncodedEntry(sanitize(.toolCall(call)))` stores for the same line (with `late` and the
    /// retention category added as the ingest path adds them). `nil` when the call needs what only the tree path does: a
    /// result to summarise, or member names that collide once scrubbed.
    ///
    /// Each member goes through the sanitizer's own rules (``collectKnownValues(member:_:freeText:into:)``,
    /// ``storedName(_:_:)``, ``storedValue(_:key:_:)``), in the order the tree path takes them.
    package func encode(_ read: OnePassToolCall, late: Bool, retentionCategory: String) -> EncodedEntry? {
        let call = read.call
        // The values the call gave as identifiers, which the scrubber then finds elsewhere.
        var known: [String] = []
        for (members, freeText) in [(read.arguments, true), (read.result, false), (read.sessionMetadata, false), (read.errorObject, false)]
        {
            for member in members ?? [] {
                collectKnownValues(member: read.text(member.name), read.value(member.value), freeText: freeText, into: &known)
            }
        }
        let scrubber = callScrubber(knownValues: known)
        func top(_ text: String) -> String { storedTopLevel(text, scrubber) }

        var body: [UInt8] = []
        body.reserveCapacity(read.bytes.count)
        var first = true
        func member(_ name: StaticString) {
            body.append(first ? UInt8(ascii: "{") : UInt8(ascii: ","))
            first = false
            body.append(UInt8(ascii: "\""))
            body.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            body.append(contentsOf: "\":".utf8)
        }
        // The body's members in canonical order (their names are ASCII).
        if let arguments = read.arguments {
            member("arguments")
            guard write(arguments, of: read, scrubber, into: &body) else { return nil }
        }
        if let breakGlass = call.breakGlass {
            member("break_glass")
            body.append(UInt8(ascii: "{"))
            if let reason = breakGlass.reason {
                body.append(contentsOf: "\"reason\":".utf8)
                CanonicalJSON.writeString(top(reason), into: &body)
            }
            body.append(UInt8(ascii: "}"))
        }
        if let duration = call.durationMS {
            member("duration_ms")
            CanonicalJSON.writeNumber(duration, into: &body)
        }
        if let errorObject = read.errorObject {
            member("error")
            guard write(errorObject, of: read, scrubber, into: &body) else { return nil }
        } else if let errorText = read.errorText {
            member("error")
            CanonicalJSON.writeString(storedTopLevel(errorText, scrubber), into: &body)
        }
        if late {
            member("late")
            body.append(contentsOf: "true".utf8)
        }
        if let result = read.result {
            let size = Self.approximateObjectSize(result.map { (read.text($0.name), read.value($0.value)) })
            guard size <= policy.resultSizeLimit else { return nil }
            member("result")
            guard write(result, of: read, scrubber, into: &body) else { return nil }
        }
        member("retention_category")
        CanonicalJSON.writeString(retentionCategory, into: &body)
        if let metadata = read.sessionMetadata {
            member("session_metadata")
            guard write(metadata, of: read, scrubber, into: &body) else { return nil }
        }
        // Emergency access is stored with elevated severity, as the tree path stores it.
        if call.breakGlass != nil {
            member("severity")
            CanonicalJSON.writeString(Severity.high.rawValue, into: &body)
        }
        member("trigger")
        CanonicalJSON.writeString(call.trigger.rawValue, into: &body)
        if let turn = call.turnNumber {
            member("turn_number")
            CanonicalJSON.writeNumber(Double(turn), into: &body)
        }
        if let usage = call.usage {
            member("usage")
            CanonicalJSON.write(Self.encode(usage), into: &body)
        }
        if let role = call.userRole {
            member("user_role")
            CanonicalJSON.writeString(top(role), into: &body)
        }
        body.append(UInt8(ascii: "}"))

        return EncodedEntry(
            kind: .toolCall, tenantID: call.tenantID, userID: top(call.userID), model: top(call.model),
            toolName: top(call.toolName), action: call.action, patientID: call.patientID,
            patientIDs: call.patientIDs.map { CanonicalJSON.string(.array($0.map(JSONValue.string))) },
            purposeOfUse: call.purposeOfUse.code, outcome: Self.outcome(of: read),
            conversationID: top(call.conversationID), traceID: call.traceID.map(top), timestamp: call.timestamp?.description,
            keyID: pseudonymizer.keyID, body: String(decoding: body, as: UTF8.self)
        )
    }

    /// ``outcome(of:)-(ToolCall)`` of a call read in one pass.
    static func outcome(of read: OnePassToolCall) -> Outcome {
        if read.errorObject != nil || read.errorText != nil { return .failure }
        if let result = read.result {
            if let error = read.member("error", of: result), !error.isNull { return .failure }
            if case .bool(false)? = read.member("success", of: result) { return .failure }
        }
        return .success
    }

    /// Writes an object of scalars as stored: each name and value through the sanitizer's
    /// rules, in canonical order. `false` when two names are one once scrubbed (the tree path
    /// keeps one of them).
    private func write(_ members: [OnePassToolCall.Member], of read: OnePassToolCall, _ scrubber: CallScrubber, into out: inout [UInt8])
        -> Bool
    {
        var stored: [(name: String, value: JSONValue)] = members.map { member in
            let key = read.text(member.name)
            return (storedName(key, scrubber), storedValue(read.value(member.value), key: key, scrubber))
        }
        if stored.allSatisfy({ $0.name.utf8.allSatisfy { $0 < 0x80 } }) {
            stored.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        } else {
            stored.sort { $0.name.utf16.lexicographicallyPrecedes($1.name.utf16) }
        }
        for index in stored.indices.dropFirst() where stored[index].name.utf8.elementsEqual(stored[index - 1].name.utf8) {
            return false
        }
        out.append(UInt8(ascii: "{"))
        for (index, member) in stored.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            CanonicalJSON.writeString(member.name, into: &out)
            out.append(UInt8(ascii: ":"))
            CanonicalJSON.write(member.value, into: &out)
        }
        out.append(UInt8(ascii: "}"))
        return true
    }
}
