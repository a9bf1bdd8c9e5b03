// /dev/fuse itself: opening it, cloning a descriptor per worker thread (FUSE_DEV_IOC_CLONE),
// and registering passthrough backing files (FUSE_DEV_IOC_BACKING_OPEN/CLOSE, Linux 6.9+).
import FUSEWire
import Glibc
import ScorpioSys
import SystemPackage

/// ioctl numbers from include/uapi/linux/fuse.h (FUSE_DEV_IOC_MAGIC 229).
enum FUSEDeviceIoctl {
    /// _IOR(229, 0, uint32_t)
    static let clone: UInt = 0x8004_E500
    /// _IOW(229, 1, struct fuse_backing_map)
    static let backingOpen: UInt = 0x4010_E501
    /// _IOW(229, 2, uint32_t)
    static let backingClose: UInt = 0x4004_E502
}

/// An open /dev/fuse descriptor of one FUSE connection.
public struct FUSEDevice: Sendable {
    public let descriptor: FileDescriptor

    public init(descriptor: FileDescriptor) { self.descriptor = descriptor }

    /// Opens /dev/fuse for a new connection.
    public static func open() throws(Errno) -> FUSEDevice {
        let fd = try retrying { Glibc.open("/dev/fuse", O_RDWR | O_CLOEXEC) }
        return FUSEDevice(descriptor: FileDescriptor(rawValue: fd))
    }

    /// A second descriptor on the same connection with its own request queue position, so that
    /// each worker thread reads and replies on its own descriptor.
    public func clone() throws(Errno) -> FUSEDevice {
        let copy = try FUSEDevice.open()
        var master = UInt32(bitPattern: descriptor.rawValue)
        do {
            _ = try ioctlPointer(copy.descriptor, FUSEDeviceIoctl.clone, &master)
        } catch {
            copy.descriptor.closeQuietly()
            throw error
        }
        return copy
    }
}

/// Writes notifications to the device (the kernel tells them from replies by unique 0 and
/// the notification code in the error field).
public struct DeviceNotifier: KernelNotifier {
    let device: FUSEDevice

    public init(device: FUSEDevice) { self.device = device }

    public func deliver(_ notification: UnsafeRawBufferPointer) throws(Errno) {
        try device.descriptor.writeAll(notification)
    }
}

/// Passthrough registration through the connection's device descriptor.
public struct DeviceBackingRegistrar: BackingFileRegistrar {
    let device: FUSEDevice

    public init(device: FUSEDevice) { self.device = device }

    public func open(_ fd: FileDescriptor) throws(Errno) -> BackingID {
        // struct fuse_backing_map { int32_t fd; uint32_t flags; uint64_t padding; }
        var map: (Int32, UInt32, UInt64) = (fd.rawValue, 0, 0)
        let id = try ioctlPointer(device.descriptor, FUSEDeviceIoctl.backingOpen, &map)
        return BackingID(rawValue: id)
    }

    public func close(_ id: BackingID) {
        var raw = UInt32(bitPattern: id.rawValue)
        _ = try? ioctlPointer(device.descriptor, FUSEDeviceIoctl.backingClose, &raw)
    }
}
