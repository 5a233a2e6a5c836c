public import AuditChain

/// The verdict of `verify`.
public struct VerificationReport: Sendable, Hashable {
    /// The first thing found wrong, or `nil` when the log is intact.
    public var problem: ChainProblem?
    /// How many entries were re-hashed and linked before the verdict.
    public var entriesChecked: Int64
    /// The head that was verified up to.
    public var head: ChainHead?
    /// The earlier head that was checked to still be in the log, if one was given.
    public var expectedHead: ChainHead?
    /// `full`: every entry was re-hashed now. `incremental`: only the entries appended since
    /// ``previous`` were, and the entry at its head was checked to be unchanged.
    public var mode: VerificationMode = .full
    /// For an incremental verification: the earlier verification it builds on.
    public var previous: VerificationRecord?

    public init(
        problem: ChainProblem?, entriesChecked: Int64, head: ChainHead?, expectedHead: ChainHead? = nil, mode: VerificationMode = .full,
        previous: VerificationRecord? = nil
    ) {
        self.problem = problem
        self.entriesChecked = entriesChecked
        self.head = head
        self.expectedHead = expectedHead
        self.mode = mode
        self.previous = previous
    }

    public var isIntact: Bool { problem == nil }
}

/// How much of the log a verification re-hashed.
public enum VerificationMode: String, Sendable, Hashable {
    case full
    case incremental
}

/// What a verification proved: the log was intact up to a head, at a time. Kept in the log's
/// `verification` table (outside the chain: it is a record of work done, not audit data).
public struct VerificationRecord: Sendable, Hashable {
    public var head: ChainHead
    public var verifiedAt: String
    public var mode: VerificationMode
    public var entriesChecked: Int64

    public init(
        head: ChainHead, verifiedAt: String, mode: VerificationMode, entriesChecked: Int64
    ) {
        self.head = head
        self.verifiedAt = verifiedAt
        self.mode = mode
        self.entriesChecked = entriesChecked
    }
}
