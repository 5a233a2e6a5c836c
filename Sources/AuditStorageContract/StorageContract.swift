public import AuditChain
public import AuditCore
public import AuditStorage

/// A failed expectation of the storage contract, naming the check and what was seen.
public struct ContractViolation: Error, CustomStringConvertible {
    public let description: String
}

/// What every backend of the audit log must do, checked through the storage protocols alone:
/// append, reads by seq, trace, conversation, patient, user and time range, what verify
/// reads, SIEM cursors and API keys. Each backend's tests run every check against a fresh,
/// empty store of their own (``make``); a new backend reuses the suite unchanged.
///
/// The checks throw ``ContractViolation`` rather than using a test framework, so that any
/// test target can call them.
public struct StorageContract: Sendable {
    /// Makes a new, empty store.
    public let make: @Sendable () throws -> any AuditStore

    public init(_ make: @escaping @Sendable () throws -> any AuditStore) {
        self.make = make
    }

    /// Every check, by name, for suites that run them as parameterised tests.
    public static let checkNames = [
        "append", "appendAll", "groupedAppends", "readsBySeq", "readsByQuery", "readsByTime", "pagedReads",
        "verify", "accessHistory", "streamCursors", "apiKeys", "toolStatistics",
    ]

    /// Runs the check named `name` (one of ``checkNames``).
    public func run(_ name: String) async throws {
        switch name {
        case "append": try appendChainsEntriesGapFree()
        case "appendAll": try appendAllIsAllOrNothing()
        case "groupedAppends": try await concurrentAppendsStayLinear()
        case "readsBySeq": try readsBySeqAndRange()
        case "readsByQuery": try readsByTraceConversationPatientAndUser()
        case "readsByTime": try readsByTimeRange()
        case "pagedReads": try pagedReadsResumeAfterACursor()
        case "verify": try verifyReadsEveryEntry()
        case "accessHistory": try accessHistoryListsAPatientsAccesses()
        case "streamCursors": try streamCursorsAreDurable()
        case "apiKeys": try apiKeysAreStoredWithTheirEvent()
        case "toolStatistics": try toolStatisticsCountCalls()
        default: throw ContractViolation(description: "no contract check named \(name)")
        }
    }

    // MARK: Append

    /// Appended entries get gap-free sequence numbers from 1, each linked to the one before,
    /// and read back exactly as given.
    public func appendChainsEntriesGapFree() throws {
        let store = try make()
        try expect(try store.head() == nil, "a new store has no head")
        let first = try store.appendNow((1...3).map { Self.entry($0) })
        let second = try store.appendNow((4...5).map { Self.entry($0) })
        try expect(first.entries.map(\.seq) == [1, 2, 3] && second.entries.map(\.seq) == [4, 5], "sequence numbers are gap-free")
        try expect(second.head == second.entries.last && (try store.head()) == second.head, "the receipt's head is the head")
        try expect((try store.count()) == 5, "count")
        var previous = ChainHash.genesis
        for seq in Int64(1)...5 {
            let stored = try require(try store.entry(seq: seq), "entry \(seq) reads back")
            try expect(stored.prevHash == previous, "entry \(seq) links to the one before")
            try expect(stored.content == Self.entry(Int(seq)), "entry \(seq) reads back as given")
            var buffer: [UInt8] = []
            try expect(EntryHasher().isValid(stored, buffer: &buffer), "entry \(seq) hashes to its stored hash")
            previous = stored.entryHash
        }
        try expect((try store.entry(seq: 6)) == nil, "no entry past the head")
    }

    /// `appendAll` stores everything it was given in one transaction, or nothing when its
    /// producer throws.
    public func appendAllIsAllOrNothing() throws {
        let store = try make()
        struct Refused: Error {}
        do {
            _ = try store.appendAll { append in
                try append((1...10).map { Self.entry($0) })
                throw Refused()
            }
            throw ContractViolation(description: "appendAll: the producer's error was swallowed")
        } catch is Refused {}
        try expect((try store.count()) == 0, "appendAll: nothing of a failed producer is stored")
        let result = try store.appendAll { append in
            try append((1...10).map { Self.entry($0) })
            try append((11...12).map { Self.entry($0) })
        }
        try expect(result.count == 12 && result.head?.seq == 12, "appendAll: counts and head")
        try expect((try store.verify()).isIntact, "appendAll: the chain verifies")
    }

    /// Appends from many tasks at once share commits and still form one linear chain.
    public func concurrentAppendsStayLinear() async throws {
        let store = try make()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for index in 0..<8 { _ = try await store.append([Self.entry(task * 8 + index + 1)]) }
                }
            }
            try await group.waitForAll()
        }
        try expect((try store.count()) == 128 && (try store.head())?.seq == 128, "128 concurrent appends, 128 entries")
        let report = try store.verify()
        try expect(report.isIntact && report.entriesChecked == 128, "concurrent appends verify")
    }

    // MARK: Reads

    /// Reads by sequence number and by ranges, with their limits, in order.
    public func readsBySeqAndRange() throws {
        let store = try make()
        _ = try store.appendNow((1...20).map { Self.entry($0) })
        let range = try store.entries(from: 5, through: 9, limit: 1000)
        try expect(range.map(\.seq) == [5, 6, 7, 8, 9], "a range reads in order")
        try expect((try store.entries(from: 5, through: 9, limit: 2)).map(\.seq) == [5, 6], "a range honours its limit")
        try expect((try store.entries(from: 19, through: 40, limit: 1000)).map(\.seq) == [19, 20], "a range ends at the head")
        try expect((try store.entries(kind: .toolCall)).count == 20, "entries of a kind")
        try expect((try store.latest(.toolCall))?.seq == 20, "the latest entry of a kind")
        try expect((try store.latest(.alert)) == nil, "no entry of a kind never written")
    }

    /// Reads by trace, conversation, patient (direct and through a query's results), user,
    /// tool and failures.
    public func readsByTraceConversationPatientAndUser() throws {
        let store = try make()
        var entries = (1...30).map { Self.entry($0) }
        entries[9].action = "E"
        entries[9].patientID = nil
        entries[9].patientIDs = #"["PAT-A","PAT-Z"]"#
        entries[12].outcome = "failure"
        _ = try store.appendNow(entries)
        try expect((try store.entries(trace: "tr-2")).map(\.seq) == [6, 7, 8], "by trace")
        try expect((try store.entries(.conversation("conv-1"))).map(\.seq) == Array(9...17), "by conversation")
        let patientA = try store.entries(.patient("PAT-A")).map(\.seq)
        try expect(patientA == [3, 6, 9, 10, 12, 15, 18, 21, 24, 27, 30], "by patient, with the query that named them")
        try expect((try store.entries(.patient("PAT-Z"))).map(\.seq) == [10], "a patient named only by a query's results")
        try expect((try store.entries(.user("usr-3"))).map(\.seq) == [3, 10, 17, 24], "by user")
        try expect((try store.entries(.tool("order_lab"))).count == 10, "by tool")
        try expect((try store.entries(.failures)).map(\.seq) == [13], "failures")
        try expect((try store.entries(.patient("PAT-NONE"))).isEmpty, "a patient never seen")
    }

    /// Reads limited to an event-time range, ends included.
    public func readsByTimeRange() throws {
        let store = try make()
        _ = try store.appendNow((1...10).map { Self.entry($0) })
        let from = try require(Timestamp(rfc3339: Self.time(3)), "time")
        let to = try require(Timestamp(rfc3339: Self.time(6)), "time")
        let seqs = try store.entries(.patient("PAT-B"), from: from, to: to).map(\.seq)
        try expect(seqs == [4], "by patient and time range")
        let users = try store.entries(.user("usr-3"), from: from, to: to).map(\.seq)
        try expect(users == [3], "by user and time range, ends included")
    }

    /// Paging reads start after a cursor and stop when asked.
    public func pagedReadsResumeAfterACursor() throws {
        let store = try make()
        _ = try store.appendNow((1...30).map { Self.entry($0) })
        var page: [Int64] = []
        try store.forEachEntry(.patient("PAT-A"), after: 6, through: 24) { entry in
            page.append(entry.seq)
            return page.count < 3
        }
        try expect(page == [9, 12, 15], "a page starts after its cursor and stops when full")
        page = []
        try store.forEachEntry(.user("usr-1"), after: 0, through: 20) { entry in
            page.append(entry.seq)
            return true
        }
        try expect(page == [1, 8, 15], "a user's page ends at its upper bound")
        try expect(try store.lastEntries(.user("usr-1"), count: 2).map(\.seq) == [22, 29], "a user's last entries, in log order")
        try expect(try store.lastEntries(.user("usr-1"), count: 10).map(\.seq) == [1, 8, 15, 22, 29], "no more than there are")
        try expect(try store.lastEntries(.user("usr-1"), count: 0).isEmpty, "none asked, none read")
        let calls = try store.entries(kind: .toolCall, after: 27).map(\.seq)
        try expect(calls == [28, 29, 30], "entries of a kind after a sequence number")
    }

    // MARK: Verify

    /// Verify re-hashes every entry, reports the head, keeps an intact result for the next
    /// incremental pass, and refuses a head the log does not hold.
    public func verifyReadsEveryEntry() throws {
        let store = try make()
        let empty = try store.verify()
        try expect(empty.isIntact && empty.entriesChecked == 0, "an empty log verifies")
        let receipt = try store.appendNow((1...50).map { Self.entry($0) })
        let report = try store.verify()
        try expect(report.isIntact && report.entriesChecked == 50 && report.head == receipt.head, "verify checks every entry")
        try expect((try store.lastVerification())?.head == receipt.head, "an intact verification is kept")
        _ = try store.appendNow((51...60).map { Self.entry($0) })
        let incremental = try store.verifyIncrementally()
        try expect(incremental.isIntact && incremental.mode == .incremental, "incremental verification after a full one")
        try expect(incremental.entriesChecked <= 11, "incremental verification reads only what is new")
        let forged = ChainHead(seq: 20, hash: ChainHash(unchecked: Array(repeating: 7, count: 32)))
        try expect(!(try store.verify(expectHead: forged)).isIntact, "a head the log does not hold is refused")
        let held = try require(try store.entry(seq: 20), "entry 20")
        try expect((try store.verify(expectHead: ChainHead(seq: 20, hash: held.entryHash))).isIntact, "a head the log holds is accepted")
    }

    // MARK: Reports

    /// A patient's access history: accesses in the time range, queries that named them.
    public func accessHistoryListsAPatientsAccesses() throws {
        let store = try make()
        var entries = (1...12).map { Self.entry($0) }
        entries[4].action = "E"
        entries[4].patientID = nil
        entries[4].patientIDs = #"["PAT-A"]"#
        _ = try store.appendNow(entries)
        var rows: [AccessRow] = []
        try store.forEachAccess(to: .patientID("PAT-A"), from: nil, to: nil, through: nil) { rows.append($0) }
        try expect(rows.map(\.seq) == [3, 5, 6, 9, 12], "every access to the patient, in log order")
        try expect(rows.first { $0.seq == 5 }?.viaQuery == true, "a query's result is marked as such")
        try expect(rows.first { $0.seq == 3 }?.userID == "usr-3", "rows carry who accessed")
        try expect((try store.patientSeqs("PAT-A")) == [3, 5, 6, 9, 12], "the patient's sequence numbers")
        rows = []
        try store.forEachAccess(to: .patientID("PAT-A"), from: nil, to: nil, through: 6) { rows.append($0) }
        try expect(rows.map(\.seq) == [3, 5, 6], "history up to a verified head")
    }

    /// Per-tool statistics count calls, failures and users.
    public func toolStatisticsCountCalls() throws {
        let store = try make()
        var entries = (1...9).map { Self.entry($0) }
        entries[2].outcome = "failure"
        _ = try store.appendNow(entries)
        let stats = try store.toolStatistics(tool: nil, fromDay: nil, toDay: nil)
        let record = try require(stats.first { $0.toolName == "get_patient_record" }, "statistics of a tool")
        try expect(record.calls == 3 && record.failures == 1, "calls and failures of a tool")
    }

    // MARK: SIEM cursors and keys

    /// A destination's cursor starts at 0 and keeps what it was set to.
    public func streamCursorsAreDurable() throws {
        let store = try make()
        try expect((try store.streamCursor("siem-a")) == 0, "a new destination starts at 0")
        try store.setStreamCursor("siem-a", to: 41)
        try store.setStreamCursor("siem-b", to: 7)
        try store.setStreamCursor("siem-a", to: 42)
        try expect((try store.streamCursor("siem-a")) == 42 && (try store.streamCursor("siem-b")) == 7, "cursors are per destination")
    }

    /// API keys are stored with their event entry, revoked with another, and never lost.
    public func apiKeysAreStoredWithTheirEvent() throws {
        let store = try make()
        let key = APIKeyRecord(
            id: "key-1", secretHash: Array(repeating: 1, count: 32), role: .privacyOfficer, tenantID: "hospital-1", name: "po",
            createdAt: Self.time(1)
        )
        try store.addAPIKey(key, event: Self.keyEvent("created"))
        try expect((try store.apiKey(id: "key-1")) == key, "a key reads back")
        try expect((try store.count()) == 1 && (try store.latest(.keyEvent)) != nil, "adding a key chains its event")
        try expect(try store.revokeAPIKey(id: "key-1", at: Self.time(2), event: Self.keyEvent("revoked")), "a live key is revoked")
        try expect((try store.apiKey(id: "key-1"))?.isRevoked == true, "a revoked key reads as revoked")
        do {
            _ = try store.revokeAPIKey(id: "key-9", at: Self.time(3), event: Self.keyEvent("revoked"))
            throw ContractViolation(description: "storage contract: revoking a key that does not exist succeeded")
        } catch let error as StoreError {
            try expect(error.code == .notFound, "revoking a key that does not exist is not_found")
        }
        try expect((try store.count()) == 2, "a refused revocation chains nothing")
        try expect((try store.apiKeys()).map(\.id) == ["key-1"], "every key is listed")
        try expect((try store.verify()).isIntact, "key events verify")
    }

    // MARK: Fixtures

    /// The `index`-th entry: patients PAT-A, PAT-B, PAT-C in turn (`PAT-A` every third from 3),
    /// users usr-0…usr-6, traces of three, conversations of nine, three tools in turn, one
    /// minute apart from 2026-01-05T08:00Z. No real person's data.
    public static func entry(_ index: Int) -> EncodedEntry {
        EncodedEntry(
            kind: "tool_call", tenantID: "hospital-1", userID: "usr-\(index % 7)", model: "model-1",
            toolName: ["get_patient_record", "order_lab", "search_patients"][index % 3], action: "R",
            patientID: ["PAT-A", "PAT-B", "PAT-C"][index % 3], patientIDs: nil, purposeOfUse: "TREAT", outcome: "success",
            conversationID: "conv-\(index / 9)", traceID: "tr-\(index / 3)", timestamp: time(index), keyID: "k1",
            body: #"{"trigger":"user_request","turn_number":\#(index % 9)}"#
        )
    }

    /// 2026-01-05T08:00Z plus `index` minutes.
    static func time(_ index: Int) -> String {
        Timestamp(millisecondsSinceEpoch: 1_767_600_000_000 + Int64(index) * 60_000).description
    }

    /// The event of key `key-1` as CareTrail writes it: verify rebuilds the key table from
    /// the id, role, tenant and secret hash these events carry.
    static func keyEvent(_ event: String) -> EncodedEntry {
        EncodedEntry(
            kind: "key_event", tenantID: "hospital-1", userID: "admin", model: "caretrail", toolName: nil, action: nil,
            patientID: nil, patientIDs: nil, purposeOfUse: nil, outcome: nil, conversationID: nil, traceID: nil,
            timestamp: nil, keyID: "k1",
            body:
                #"{"event":"\#(event)","key_id":"key-1","role":"privacy_officer","secret_hash":"\#(String(repeating: "01", count: 32))","tenant":"hospital-1"}"#
        )
    }

    private func expect(_ condition: Bool, _ what: String) throws {
        if !condition { throw ContractViolation(description: "storage contract: \(what)") }
    }

    private func require<T>(_ value: T?, _ what: String) throws -> T {
        guard let value else { throw ContractViolation(description: "storage contract: \(what)") }
        return value
    }
}
