// mount(2)/umount2(2) and the device ioctls of /dev/fuse.
import CScorpioLinux
import Glibc
import SystemPackage

/// Mounting and unmounting.
public enum MountCalls {
    public static let noSuid: UInt = 2       // MS_NOSUID
    public static let noDev: UInt = 4        // MS_NODEV
    public static let detach: Int32 = 2      // MNT_DETACH
    public static let force: Int32 = 1       // MNT_FORCE

    /// mount(2).
    public static func mount(source: String, target: String, type: String, flags: UInt, data: String) throws(Errno) {
        try retryingVoid { scorpio_mount(source, target, type, flags, data) }
    }

    /// umount2(2).
    public static func unmount(_ target: String, flags: Int32) throws(Errno) {
        try retryingVoid { scorpio_umount2(target, flags) }
    }
}

/// ioctl(2) with a pointer argument.
public func ioctlPointer(_ fd: FileDescriptor, _ request: UInt, _ argument: UnsafeMutableRawPointer) throws(Errno) -> Int32 {
    try retrying { scorpio_ioctl_ptr(fd.rawValue, request, argument) }
}
