import Foundation

/// Blocking work of a test (reading a child process's output, waiting for it to end) done on
/// a Dispatch thread rather than on one of Swift concurrency's, which are as many as the cores
/// (two here): a test blocking one of them, while another runs a long computation on the
/// other, leaves the in-process servers of the suites running alongside without a thread, and
/// their clients time out (seen in CI).
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
        DispatchQueue.global().async { c.resume(with: Result { try work() }) }
    }
}

extension Process {
    /// Waits for the process to end, on a Dispatch thread (`offThePool`).
    public func exited() async {
        nonisolated(unsafe) let process = self
        _ = try? await offThePool { process.waitUntilExit() }
    }
}
