// Backgrounding without fork(): a multithreaded Swift process cannot safely fork, so the
// command starts a copy of itself with --foreground in a new session and waits on a pipe.
// The copy writes "ready" once the kernel's INIT was answered (the mount then serves
// requests), and only then detaches from the terminal. Until that moment its errors go to the
// user's stderr and its exit status becomes ours, so `scorpio-provider ... && ls MNT` works.
import Foundation
import Glibc
import ScorpioSys
import SystemPackage

enum Daemon {
    /// Environment variable naming the descriptor the foreground copy reports readiness on.
    static let readyVariable = "SCORPIO_READY_FD"

    /// Starts the daemon copy and waits until it is ready or has failed; returns the exit status.
    static func start(settings: HostMountSettings) -> Int32 {
        // Close-on-exec: the copy gets the write end as descriptor 3 only. Inherited under its
        // own number as well, it stayed open in the daemon and in every git process it started.
        let readEnd: FileDescriptor, writeEnd: FileDescriptor
        do {
            (readEnd, writeEnd) = try makePipe()
        } catch {
            printError("pipe failed: \(error)")
            return ExitStatus.runtimeFailure
        }
        let fds = [readEnd.rawValue, writeEnd.rawValue]
        let selfPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn([selfPath] + settings.arguments + ["--foreground"],
                                           environment: environment(adding: settings.daemonEnvironment + ["\(readyVariable)=3"]),
                                           passing: FileDescriptor(rawValue: fds[1]), as: 3, newSession: true)
        } catch {
            printError("cannot start the daemon: \(error)")
            return ExitStatus.runtimeFailure
        }
        close(fds[1])
        var byte: UInt8 = 0
        let got = read(fds[0], &byte, 1)
        close(fds[0])
        if got == 1 { return ExitStatus.success }
        return (try? child.wait()) ?? ExitStatus.runtimeFailure
    }

    /// Our environment with `entries` ("NAME=value") set, replacing variables of those names.
    private static func environment(adding entries: [String]) -> [String] {
        let names = Set(entries.map { $0.prefix { $0 != "=" } })
        return currentEnvironment().filter { !names.contains($0.prefix { $0 != "=" }) } + entries
    }

    /// In the daemon copy, first thing: the readiness descriptor is close-on-exec, so the git
    /// processes a --repo mount starts before it is ready do not inherit it.
    static func keepReadinessDescriptorToOurselves() {
        guard let value = ProcessInfo.processInfo.environment[readyVariable], let fd = Int32(value) else { return }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    /// In the daemon copy: report readiness and let go of the terminal.
    static func notifyReady() {
        guard let value = ProcessInfo.processInfo.environment[readyVariable], let fd = Int32(value) else { return }
        var byte = UInt8(ascii: "R")
        _ = write(fd, &byte, 1)
        close(fd)
        UserOutput.release()
        let devNull = open("/dev/null", O_RDWR)
        guard devNull >= 0 else { return }
        dup2(devNull, 0)
        dup2(devNull, 1)
        if ProcessInfo.processInfo.environment["SCORPIO_LOG_TO_FILE"] == nil { dup2(devNull, 2) }
        close(devNull)
    }

    /// With --log-file, stderr (where logs go) is appended to that file.
    static func redirectStderrToLogFile(_ path: String?) {
        guard let path else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            printError("cannot open log file \(path): \(String(cString: strerror(errno)))")
            return
        }
        setenv("SCORPIO_LOG_TO_FILE", "1", 1)
        UserOutput.keepCurrentStderr()  // errors and progress still go to the user's stderr
        dup2(fd, 2)
        close(fd)
    }
}
