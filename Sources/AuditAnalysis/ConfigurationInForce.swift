import Synchronization

/// The log's configuration in force: its latest `config` entry, or the defaults, as of the
/// last entry this process saw. Ingest validation (purpose restrictions, record time), the
/// sanitizer's policy and alert detection all read it here.
///
/// It follows the chain: the ``AlertMonitor`` sees every appended entry, those of other
/// processes included, and publishes each configuration change here as it observes it.
public final class ConfigurationInForce: Sendable {
    private let state: Mutex<(configuration: LogConfiguration, seq: Int64)>

    /// Starts from `configuration`, taken from the `config` entry at `seq` (0 for the defaults).
    public init(_ configuration: LogConfiguration = .standard, seq: Int64 = 0) {
        state = Mutex((configuration, seq))
    }

    /// The configuration in force.
    public var current: LogConfiguration { state.withLock { $0.configuration } }

    /// The configuration in force and the `config` entry it came from (0 for the defaults).
    public var currentAndSeq: (LogConfiguration, Int64) { state.withLock { ($0.configuration, $0.seq) } }

    /// Records that the `config` entry at `seq` (0: the defaults) is now in force.
    public func set(_ configuration: LogConfiguration, seq: Int64) {
        state.withLock { $0 = (configuration, seq) }
    }
}
