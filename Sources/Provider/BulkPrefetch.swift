// The bulk path of `scorpio-provider prefetch`: one control getxattr per path makes the daemon
// fetch the whole subtree in large batches; this process only waits, shows the daemon's
// progress counters, and sends the cancel request on Ctrl-C.
import Dicfuse
import Foundation
import Glibc
import ScorpioSys
import Synchronization
import SystemPackage

struct BulkPrefetch {
    enum Outcome: Equatable {
        case done, stopped, unsupported
        case failed(String)
    }

    let mountPoint: String
    let roots: [String]

    func run() -> Outcome {
        TerminationSignals.block()
        let state = BulkPrefetchState()
        let mount = mountPoint
        _ = try? KernelThread.start {
            _ = TerminationSignals.wait()
            state.interrupted.store(true, ordering: .relaxed)
            _ = try? ExtendedAttributes.set(path: Array(mount.utf8), name: Array("user.scorpio.cancel".utf8),
                                            value: UnsafeRawBufferPointer(start: nil, count: 0), flags: 0)
        }
        let started = monotonicSeconds()
        let baseline = progress()
        let roots = self.roots
        let worker = try? KernelThread.start {
            for root in roots where !state.interrupted.load(ordering: .relaxed) {
                do {
                    let answer = try BulkPrefetch.control(root, "user.scorpio.prefetch")
                    state.fetched.wrappingAdd(Int(answer.split(separator: "=").last ?? "") ?? 0, ordering: .relaxed)
                } catch .noData, .notSupported {  // an older daemon, or one run with --no-xattr
                    state.outcome.withLock { $0 = $0 ?? .unsupported }
                    break
                } catch {
                    state.outcome.withLock { $0 = $0 ?? .failed("\(root): the daemon could not fetch everything: \(error) (see its log)") }
                    break
                }
            }
            state.finished.store(true, ordering: .releasing)
        }
        let terminal = isatty(2) != 0
        while !state.finished.load(ordering: .acquiring) {
            if terminal { report(since: baseline, started: started, final: false, stopped: false) }
            usleep(200_000)
        }
        worker?.join()
        let outcome = state.outcome.withLock { $0 }
        if outcome == .unsupported { return .unsupported }
        let stopped = state.interrupted.load(ordering: .relaxed)
        report(since: baseline, started: started, final: true, stopped: stopped)
        return outcome ?? (stopped ? .stopped : .done)
    }

    /// The daemon's totals: (objects, bytes) fetched since it started.
    private func progress() -> (Int, Int) {
        guard let answer = try? BulkPrefetch.control(mountPoint, "user.scorpio.progress") else { return (0, 0) }
        var values: [String: Int] = [:]
        for field in answer.split(separator: " ") {
            let parts = field.split(separator: "=")
            if parts.count == 2 { values[String(parts[0])] = Int(parts[1]) }
        }
        return (values["objects"] ?? 0, values["bytes"] ?? 0)
    }

    private func report(since baseline: (Int, Int), started: Double, final: Bool, stopped: Bool) {
        let now = progress()
        // The daemon's totals count from its start: one restarted meanwhile counts from zero.
        let objects = max(0, now.0 - baseline.0)
        // Bytes as received: packs are compressed, so this is less than the files' sizes.
        let megabytes = Double(max(0, now.1 - baseline.1)) / 1_048_576
        let seconds = max(0.001, monotonicSeconds() - started)
        var line = "prefetch: \(objects) objects, \(String(format: "%.1f", megabytes)) MiB received in \(String(format: "%.1f", seconds)) s"
        line += ", \(String(format: "%.1f", megabytes / seconds)) MiB/s"
        if stopped { line += " (stopped)" }
        FileHandle.standardError.write(Data((final ? line + "\n" : "\r" + line + "\u{1B}[K").utf8))
    }

    /// One control getxattr; its answer as text.
    static func control(_ path: String, _ name: String) throws(Errno) -> String {
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = try typedErrno {
            try buffer.withUnsafeMutableBytes { raw in
                try ExtendedAttributes.get(path: Array(path.utf8), name: Array(name.utf8), into: raw)
            }
        }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }
}

/// What the waiting, the signal and the reporting threads share.
final class BulkPrefetchState: Sendable {
    let interrupted = Atomic<Bool>(false)
    let finished = Atomic<Bool>(false)
    let fetched = Atomic<Int>(0)
    let outcome = Mutex<BulkPrefetch.Outcome?>(nil)
}
