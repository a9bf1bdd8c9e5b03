// Open flags and other constants re-exported for modules that do not import Glibc themselves.
import CScorpioLinux
import Glibc

public let AT_FDCWD_VALUE: Int32 = AT_FDCWD
public let O_RDONLY_VALUE: Int32 = O_RDONLY
public let O_WRONLY_VALUE: Int32 = O_WRONLY
public let O_RDWR_VALUE: Int32 = O_RDWR
public let O_ACCMODE_VALUE: Int32 = O_ACCMODE
public let O_CREAT_VALUE: Int32 = O_CREAT
public let O_EXCL_VALUE: Int32 = O_EXCL
public let O_TRUNC_VALUE: Int32 = O_TRUNC
public let O_APPEND_VALUE: Int32 = O_APPEND
public let O_NOCTTY_VALUE: Int32 = O_NOCTTY
public let O_DIRECTORY_VALUE: Int32 = O_DIRECTORY
public let O_NOFOLLOW_VALUE: Int32 = O_NOFOLLOW
public let O_CLOEXEC_VALUE: Int32 = O_CLOEXEC
public let O_DIRECT_VALUE: Int32 = scorpio_o_direct()
public let O_NOATIME_VALUE: Int32 = scorpio_o_noatime()
public let SEEK_DATA_VALUE: Int32 = scorpio_seek_data()
public let SEEK_HOLE_VALUE: Int32 = scorpio_seek_hole()

/// Converts a glibc dev_t to the kernel's 32-bit new_encode_dev() form used in fuse_attr.rdev.
public func encodeDeviceForFUSE(_ device: UInt64) -> UInt32 {
    let major = scorpio_major(device), minor = scorpio_minor(device)
    return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)
}

/// Converts the kernel's new_encode_dev() form (FUSE_MKNOD rdev) to a glibc dev_t.
public func decodeDeviceFromFUSE(_ device: UInt32) -> UInt64 {
    let major = (device & 0xfff00) >> 8
    let minor = (device & 0xff) | ((device >> 12) & 0xfff00)
    return scorpio_makedev(major, minor)
}

/// The effective user id of the daemon.
public var effectiveUserID: UInt32 { geteuid() }
