/// The questions privacy officers ask of the log, each answered through an index.
public enum EntryQuery: Sendable, Hashable {
    /// Every access to a patient: reads and changes of the record, and queries whose result named them.
    case patient(String)
    /// Everything a user did.
    case user(String)
    /// One conversation's entries.
    case conversation(String)
    /// One agent request's entries (its request record and tool calls).
    case trace(String)
    /// One tool's calls.
    case tool(String)
    /// Failed calls.
    case failures
}
