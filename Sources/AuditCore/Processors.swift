import Foundation

/// How many cores this process may use, read once. Foundation answers
/// `ProcessInfo.activeProcessorCount` on Linux by reading the cgroup files again on every call
/// (two opens and reads): asked per request or per batch, that is a system call cost on the
/// path of every append.
public enum Processors {
    /// The cores this process may use, as Foundation reported them when first asked.
    public static let active = max(1, ProcessInfo.processInfo.activeProcessorCount)
}
