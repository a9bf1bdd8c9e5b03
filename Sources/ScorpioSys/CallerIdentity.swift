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
    /// The text of /proc/PID/status (a few KiB), nil if the process is gone.
    private static func procStatus(_ pid: UInt32) -> [UInt8]? {
        let fd = open("/proc/\(pid)/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 64 << 10 {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        return bytes
    }

    /// Whether the process `pid` is in group `gid`: its (fs)gid `primary`, or one of the
    /// supplementary groups /proc/PID/status lists. Read only when a setgid bit depends on it.
    public static func isMember(_ pid: UInt32, primary: UInt32, of gid: UInt32) -> Bool {
        if primary == gid { return true }
        guard let status = procStatus(pid),
              let line = status.split(separator: UInt8(ascii: "\n")).first(where: { $0.starts(with: Array("Groups:".utf8)) }) else {
            return true  // unknown (the process is gone): keep the bit, as for a member
        }
        let groups = line.dropFirst("Groups:".utf8.count).split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
        return groups.contains { UInt32(String(decoding: $0, as: UTF8.self)) == gid }
    }

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
