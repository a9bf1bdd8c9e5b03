// Shared mappings of guest memory (memfd regions QEMU passes over vhost-user), and the ordered
// loads and stores a virtqueue needs on memory the guest writes concurrently.
import CScorpioLinux
import Glibc
import SystemPackage

/// One mmap(2) of a whole file, unmapped by `unmap`.
public struct MemoryMapping {
    public let base: UnsafeMutableRawPointer
    public let length: Int

    /// Maps `length` bytes of `descriptor` from offset 0, shared and read-write.
    public static func mapShared(_ descriptor: FileDescriptor, length: Int) throws(Errno) -> MemoryMapping {
        guard length > 0 else { throw .invalidArgument }
        let pointer = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor.rawValue, 0)
        guard let pointer, pointer != MAP_FAILED else { throw Errno(rawValue: Glibc.errno) }
        return MemoryMapping(base: pointer, length: length)
    }

    /// A memfd of `size` bytes (tests use one as a guest's RAM, as QEMU's memory-backend-memfd does).
    public static func sharedMemoryFile(name: String, size: Int) throws(Errno) -> FileDescriptor {
        let fd = FileDescriptor(rawValue: try retrying { scorpio_memfd_create(name, 1 /* MFD_CLOEXEC */) })
        do throws(Errno) {
            try retryingVoid { ftruncate(fd.rawValue, off_t(size)) }
        } catch {
            fd.closeQuietly()
            throw error
        }
        return fd
    }

    public func unmap() {
        munmap(base, length)
    }
}

/// Ordered accesses to ring indices shared with the guest.
public enum SharedMemoryOrder {
    @inline(__always) public static func loadAcquire(_ pointer: UnsafeRawPointer) -> UInt16 { scorpio_load_acquire_u16(pointer) }
    @inline(__always) public static func storeRelease(_ pointer: UnsafeMutableRawPointer, _ value: UInt16) { scorpio_store_release_u16(pointer, value) }
    @inline(__always) public static func fullFence() { scorpio_fence_full() }
}

/// Counters in a file that several processes map (the blob pin tables `cache gc` reads).
public enum SharedCounter {
    /// Adds `delta` and returns the new value.
    @discardableResult @inline(__always)
    public static func add(_ pointer: UnsafeMutableRawPointer, _ delta: Int32) -> UInt32 { scorpio_atomic_add_u32(pointer, delta) }
    @inline(__always) public static func load(_ pointer: UnsafeRawPointer) -> UInt32 { scorpio_atomic_load_u32(pointer) }
}
