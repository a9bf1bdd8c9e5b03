// Creating files as the program that asked for them. The daemon runs as root; an object it
// creates for another user would be root's until a chown, and a daemon killed in between
// leaves a root-owned entry behind. Switching the serving thread's fsuid/fsgid for the one
// create call makes the object the caller's from its first instant, and the kernel applies
// the setgid-directory rule itself. The thread keeps root's permitted capabilities in effect,
// so access is still decided by the kernel's check on the mount, not by the upper's modes (the
// caller's supplementary groups are not the daemon's).
import CScorpioLinux
import Glibc
import SystemPackage

public enum CallerIdentity {
    /// The daemon's own ids, read once (it never changes them).
    private static let processUID = geteuid()
    private static let processGID = getegid()

    /// Runs `body` with the calling thread's filesystem identity set to uid/gid, restoring it
    /// after. `body` learns whether the switch took: false when this process may not switch
    /// (not root, or no CAP_SETUID), and the object then needs a chown.
    public static func creating<R>(uid: UInt32, gid: UInt32, _ body: (_ asCaller: Bool) throws(Errno) -> R) throws(Errno) -> R {
        if uid == processUID && gid == processGID { return try body(true) }
        guard processUID == 0, scorpio_become_fs_identity(uid, gid) == 0 else { return try body(false) }
        defer { scorpio_restore_fs_identity() }
        return try body(true)
    }
}
