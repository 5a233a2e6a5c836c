/// Runs `body` at once, then every `interval` seconds, until the task is cancelled. A failure
/// is reported through `onFailure` and `body` runs again at the next interval: what the
/// checkpoint and retention schedules of `caretrail serve` share.
func repeating(
    every interval: Double, _ body: () async throws(CareTrailError) -> Void, onFailure: @Sendable (CareTrailError) -> Void
) async {
    while !Task.isCancelled {
        do {
            try await body()
        } catch {
            onFailure(error)
        }
        do {
            try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
        } catch {
            return
        }
    }
}
