// Starting helper processes (fusermount3, the daemonized copy of ourselves) with posix_spawn,
// handing over exactly one extra descriptor. Foundation's Process closes inherited descriptors
// and cannot start a new session, which both of those uses need.
import CScorpioLinux
import Glibc
import SystemPackage

/// A started child process.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    /// Starts `arguments[0]` (searched in PATH) with `environment` ("K=V" strings). `passing`
    /// is dup2()ed to `as` in the child.
    public static func spawn(_ arguments: [String], environment: [String], passing: FileDescriptor? = nil,
                             as target: Int32 = 3, newSession: Bool = false) throws(Errno) -> ChildProcess {
        try spawn(arguments, environment: environment, descriptors: passing.map { [($0, target)] } ?? [], newSession: newSession)
    }

    /// Starts `arguments[0]` with each (descriptor, number) pair dup2()ed into the child.
    public static func spawn(_ arguments: [String], environment: [String], descriptors: [(FileDescriptor, Int32)],
                             newSession: Bool = false) throws(Errno) -> ChildProcess {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let from = descriptors.map { $0.0.rawValue }
        let to = descriptors.map { $0.1 }
        let result = scorpio_spawn(arguments[0], &argv, &envp, from, to, Int32(descriptors.count), newSession ? 1 : 0, &pid)
        guard result == 0 else { throw Errno(rawValue: result) }
        return ChildProcess(pid: pid)
    }

    /// waitpid(2); returns the exit status, or 128 + signal number when it was killed.
    public func wait() throws(Errno) -> Int32 {
        var status: Int32 = 0
        _ = try retrying { waitpid(pid, &status, 0) }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// pipe2(2) with O_CLOEXEC: (read end, write end).
public func makePipe() throws(Errno) -> (FileDescriptor, FileDescriptor) {
    var fds: [Int32] = [0, 0]
    try retryingVoid { scorpio_pipe_cloexec(&fds) }
    return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
}

/// The current environment as "K=V" strings.
public func currentEnvironment() -> [String] {
    var result: [String] = []
    var pointer = environ
    while let entry = pointer.pointee {
        result.append(String(cString: entry))
        pointer += 1
    }
    return result
}

/// Signal handling for daemons: block the termination signals in every thread, take them on one.
public enum TerminationSignals {
    /// Must be called before any thread is started.
    public static func block() { _ = scorpio_block_termination_signals() }
    /// Waits for SIGTERM, SIGINT, SIGHUP or SIGUSR1; returns its number.
    public static func wait() -> Int32 { scorpio_wait_signal() }
    /// SIGPIPE ignored process-wide (writes to a vanished peer fail with EPIPE instead).
    public static func ignoreBrokenPipe() { scorpio_ignore_broken_pipe() }
}
