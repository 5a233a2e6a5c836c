package import AuditChain
import AuditCore

/// The keys an entry is found under: the patients, user, conversation, trace and tool it
/// names, whether it failed, and the pseudonyms in its body. Every place that files entries
/// (a backend's posting lists, an archive segment's index) derives them here, so that a
/// question gets the same answer from each.
package struct EntryKeys {
    /// What a key is: the answer to one kind of ``EntryQuery``.
    package enum Kind: Int64, CaseIterable, Sendable {
        /// `patient_id`, and every patient of a query's `patient_ids`.
        case patient = 1
        case user = 2
        case conversation = 3
        case trace = 4
        /// A pseudonym found in an entry's body (see ``BodyScan``).
        case token = 5
        /// `tool_name`.
        case tool = 6
        /// Entries whose outcome is a failure, under the one key ``failureKey``.
        case failure = 7
    }

    /// The key every failure is filed under.
    package static let failureKey = "failure"

    package var keys: [(Kind, String)] = []
    /// The body's pseudonyms and duration: tool calls and agent requests only.
    package var scan: BodyScan?

    /// The keys of `entry`; without `scanningBody`, the pseudonyms in its body are left out
    /// (and ``scan`` is `nil`): reading the body costs more than everything else.
    package init(_ entry: StoredEntry, scanningBody: Bool = true) {
        let content = entry.content
        if let patient = content.patientID { keys.append((.patient, patient)) }
        // A query concerns every patient its result named.
        if content.action == .execute {
            for patient in Set(content.patientIDList) where patient != content.patientID { keys.append((.patient, patient)) }
        }
        keys.append((.user, content.userID))
        if let conversation = content.conversationID { keys.append((.conversation, conversation)) }
        if let trace = content.traceID { keys.append((.trace, trace)) }
        if let tool = content.toolName { keys.append((.tool, tool)) }
        if content.outcome == .failure { keys.append((.failure, Self.failureKey)) }
        guard scanningBody, content.kind == .toolCall || content.kind == .agentRequest else { return }
        let scan = BodyScan(content.body)
        for token in Set(scan.tokens) { keys.append((.token, token)) }
        self.scan = scan
    }

    /// The key that answers `query`.
    package static func key(_ query: EntryQuery) -> (Kind, String) {
        switch query {
        case .patient(let patient): (.patient, patient)
        case .user(let user): (.user, user)
        case .conversation(let conversation): (.conversation, conversation)
        case .trace(let trace): (.trace, trace)
        case .tool(let tool): (.tool, tool)
        case .failures: (.failure, failureKey)
        }
    }
}
