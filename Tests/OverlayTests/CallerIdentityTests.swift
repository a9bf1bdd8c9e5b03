// The per-thread filesystem identity that creates objects as their caller (CallerIdentity):
// owner from the first instant, root's access kept, other threads and later calls unaffected.
import Foundation
import Glibc
import ScorpioSys
import SystemPackage
import Testing

struct CallerIdentityTests {
    @Test func objectsCreatedInsideBelongToTheCallerAndOnlyThere() throws {
        try #require(geteuid() == 0, "CallerIdentity switches identities only as root (CI runs as root)")
        let directory = NSTemporaryDirectory() + "caller-identity-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Root-only directory: the caller could not write here with its own rights; the daemon
        // keeps root's access (the kernel already checked the caller's on the mount).
        #expect(chmod(directory, 0o700) == 0)

        // Another thread, started before the switch (a thread inherits the identity of the
        // thread that starts it), creates a file while this one is switched.
        let go = ConditionLock(false)
        let other = try KernelThread.start {
            go.wait(until: { $0 }) { _ in }
            let fd = open(directory + "/theirs", O_CREAT | O_EXCL | O_WRONLY, 0o644)
            if fd >= 0 { close(fd) }
        }
        let created: Bool = try CallerIdentity.creating(uid: 65534, gid: 65533) { (asCaller) throws(Errno) -> Bool in
            let fd = open(directory + "/mine", O_CREAT | O_EXCL | O_WRONLY, 0o644)
            guard fd >= 0 else { throw Errno(rawValue: errno) }
            close(fd)
            #expect(mkdir(directory + "/mydir", 0o755) == 0)
            go.withLock { $0 = true }
            go.broadcast()
            other.join()
            return asCaller
        }
        #expect(created, "the switch took")
        var status = stat()
        #expect(stat(directory + "/mine", &status) == 0 && status.st_uid == 65534 && status.st_gid == 65533)
        #expect(stat(directory + "/mydir", &status) == 0 && status.st_uid == 65534 && status.st_gid == 65533)
        #expect(stat(directory + "/theirs", &status) == 0 && status.st_uid == 0, "another thread kept root's identity")
        // After the call the thread creates as root again, with root's access.
        let after = open(directory + "/after", O_CREAT | O_EXCL | O_WRONLY, 0o644)
        #expect(after >= 0)
        if after >= 0 { close(after) }
        #expect(stat(directory + "/after", &status) == 0 && status.st_uid == 0 && status.st_gid == 0)
        #expect(chown(directory + "/mine", 0, 0) == 0, "CAP_CHOWN is back")
    }
}
