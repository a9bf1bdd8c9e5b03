// Where messages for the person who ran the command go. Normally stderr; with --log-file,
// stderr carries the logs into that file, so the command's own stderr is kept apart here until
// the daemon is ready and lets go of the terminal: one-line errors and the progress of the
// tree fetch then still reach the user.
import Glibc
import Synchronization

public enum UserOutput {
    private static let saved = Atomic<Int32>(-1)

    /// The descriptor to write user messages to.
    public static var descriptor: Int32 {
        let fd = saved.load(ordering: .acquiring)
        return fd >= 0 ? fd : 2
    }

    /// Keeps a copy of the current stderr as the user's, before fd 2 is pointed at a log file.
    public static func keepCurrentStderr() {
        let copy = fcntl(2, F_DUPFD_CLOEXEC, 3)
        if copy >= 0 { saved.store(copy, ordering: .releasing) }
    }

    /// Back to plain stderr (the daemon detached from the terminal). The saved descriptor is
    /// pointed at /dev/null rather than closed: a thread still writing to it must not write
    /// into whatever file would reuse its number.
    public static func release() {
        let fd = saved.exchange(-1, ordering: .acquiringAndReleasing)
        guard fd >= 0 else { return }
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        if devNull >= 0 {
            dup2(devNull, fd)
            close(devNull)
        }
    }

    /// Writes `text` to the user; when logs go elsewhere, to the log as well.
    public static func write(_ text: String) {
        let target = descriptor
        text.withCString { pointer in
            _ = Glibc.write(target, pointer, strlen(pointer))
            if target != 2 { _ = Glibc.write(2, pointer, strlen(pointer)) }
        }
    }

    /// Writes `text` to the user only (progress lines, which would clutter a log).
    public static func writeToUserOnly(_ text: String) {
        let target = descriptor
        text.withCString { pointer in _ = Glibc.write(target, pointer, strlen(pointer)) }
    }
}
