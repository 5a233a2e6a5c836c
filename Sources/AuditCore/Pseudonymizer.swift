/// Turns a value that identifies a person into a keyed, linkable token.
///
/// The same value under the same key gives the same token, so investigators can still find
/// every entry about one person; without the key the token says nothing, and a dictionary
/// attack over all SSNs or birth dates is useless. `AuditKeys.KeyRing` is the implementation
/// (HMAC-SHA256); tests may supply their own.
public protocol Pseudonymizer: Sendable {
    /// The id of the key tokens are made with; it is part of every token.
    var keyID: String { get }
    /// The token for `value`, e.g. `hmac-sha256:k1:3f9a…`.
    func pseudonym(for value: String) -> String
}

/// The marker every pseudonym starts with.
public let pseudonymPrefix = "hmac-sha256:"
