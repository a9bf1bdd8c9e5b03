// `scorpio-provider prefetch MNT [PATH...]`: warms subtrees of a mounted workspace. It asks the
// daemon through a control xattr (user.scorpio.prefetch, see Overlay/ControlAttributes.swift)
// to fetch everything below each path in large batches, and shows the daemon's progress; Ctrl-C
// sends the cancel request. Against a daemon without that request it falls back to opening
// and reading the first byte of every file, with bounded concurrency. Everything fetched stays
// in the cache.
import ArgumentParser
import Dicfuse
import Foundation
import Glibc
import ScorpioSys
import Synchronization

struct PrefetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefetch",
        abstract: "Warm subtrees of a mounted workspace in the background, with progress.")

    @Argument(help: "The mount point.")
    var mountPoint: String

    @Argument(help: "Paths inside the mount to warm (default: all of it).")
    var paths: [String] = []

    @Option(help: "Files read at the same time.")
    var jobs: Int = 8

    func run() throws {
        guard SetupChecks.isMountPoint(mountPoint) else {
            printError("\(mountPoint) is not a mounted workspace")
            throw ExitCode(ExitStatus.invalidSetup)
        }
        let roots = try insideTheMount(paths.isEmpty ? [mountPoint] : paths.map { $0.hasPrefix("/") ? $0 : mountPoint + "/" + $0 })
        switch BulkPrefetch(mountPoint: mountPoint, roots: roots).run() {
        case .done: return
        case .failed(let message):
            printError(message)
            throw ExitCode(ExitStatus.runtimeFailure)
        case .stopped: throw ExitCode(130)
        case .unsupported: break  // an older daemon: read the files one by one
        }
        var files: [String] = []
        for root in roots {
            guard let walker = FileManager.default.enumerator(atPath: root) else {
                printError("\(root): cannot be listed")
                throw ExitCode(ExitStatus.invalidSetup)
            }
            while let relative = walker.nextObject() as? String {
                if walker.fileAttributes?[.type] as? FileAttributeType == .typeRegular { files.append(root + "/" + relative) }
            }
        }
        let result = Prefetcher(files: files, jobs: max(1, min(jobs, 64))).run()
        if result.failed > 0 {
            printError("\(result.failed) of \(files.count) files could not be read (see the daemon's log)")
            throw ExitCode(ExitStatus.runtimeFailure)
        }
    }
}

extension PrefetchCommand {
    /// The paths with symlinks resolved (the control xattr of a symlink is never asked for:
    /// the kernel answers user.* xattrs of symlinks itself), each inside the mount: a path
    /// elsewhere would make the fallback read files outside it.
    func insideTheMount(_ paths: [String]) throws -> [String] {
        guard let mount = SetupChecks.canonicalPath(mountPoint) else {
            printError("\(mountPoint): cannot be resolved")
            throw ExitCode(ExitStatus.invalidSetup)
        }
        return try paths.map { path in
            guard let resolved = SetupChecks.canonicalPath(path) else {
                printError("\(path): no such file or directory")
                throw ExitCode(ExitStatus.invalidSetup)
            }
            guard resolved == mount || resolved.hasPrefix(mount == "/" ? "/" : mount + "/") else {
                printError("\(path): not inside the mount \(mountPoint)")
                throw ExitCode(ExitStatus.invalidSetup)
            }
            return resolved
        }
    }
}

/// Reads one byte of each file on `jobs` threads, reporting progress on stderr.
final class Prefetcher: Sendable {
    let files: [String]
    let jobs: Int
    private let next = Atomic<Int>(0)
    private let done = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)
    private let stop = Atomic<Bool>(false)

    init(files: [String], jobs: Int) {
        self.files = files
        self.jobs = jobs
    }

    func run() -> (done: Int, failed: Int) {
        TerminationSignals.block()
        _ = try? KernelThread.start { [self] in
            _ = TerminationSignals.wait()
            stop.store(true, ordering: .relaxed)
        }
        let started = monotonicSeconds()
        var workers: [KernelThread] = []
        for _ in 0..<jobs {
            if let worker = try? KernelThread.start({ [self] in work() }) { workers.append(worker) }
        }
        let terminal = isatty(2) != 0
        while done.load(ordering: .relaxed) < files.count && !stop.load(ordering: .relaxed) {
            if terminal { report(started, final: false) }
            usleep(200_000)
        }
        for worker in workers { worker.join() }
        report(started, final: true)
        return (done.load(ordering: .relaxed), failed.load(ordering: .relaxed))
    }

    private func work() {
        var byte: UInt8 = 0
        while !stop.load(ordering: .relaxed) {
            let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
            guard index < files.count else { return }
            let fd = open(files[index], O_RDONLY | O_CLOEXEC)
            if fd < 0 || read(fd, &byte, 1) < 0 { failed.wrappingAdd(1, ordering: .relaxed) }
            if fd >= 0 { close(fd) }
            done.wrappingAdd(1, ordering: .relaxed)
        }
    }

    private func report(_ started: Double, final: Bool) {
        let count = done.load(ordering: .relaxed)
        let seconds = max(0.001, monotonicSeconds() - started)
        let line = "prefetch: \(count)/\(files.count) files, \(failed.load(ordering: .relaxed)) failed, \(Int(Double(count) / seconds)) files/s"
        FileHandle.standardError.write(Data((final ? line + (stop.load(ordering: .relaxed) ? " (stopped)" : "") + "\n" : "\r" + line).utf8))
    }
}
