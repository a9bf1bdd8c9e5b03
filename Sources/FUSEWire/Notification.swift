// Unsolicited messages to the kernel (FUSE_NOTIFY_*): a fuse_out_header with unique 0 and the
// notification code in the error field, then the code's struct. The transport only delivers
// the bytes (KernelNotifier.deliver); the encoding lives here with the rest of the codec.
import SystemPackage

/// Delivers encoded notifications to the kernel; the transport implements it, because it owns
/// the device descriptor.
public protocol KernelNotifier: Sendable {
    /// Writes one notification. Throws what the kernel answered (ENOENT: it does not know the
    /// inode any more).
    func deliver(_ notification: UnsafeRawBufferPointer) throws(Errno)
}

public enum FUSENotification {
    /// enum fuse_notify_code
    static let invalidateInodeCode: Int32 = 2
    static let storeCode: Int32 = 4
    /// fuse_out_header + struct fuse_notify_store_out { nodeid, offset, size, padding }
    public static let storeHeaderSize = 16 + 24

    /// FUSE_NOTIFY_INVAL_INODE for attributes only (offset -1: the page cache stays): the next
    /// stat asks us again.
    public static func invalidateAttributes(_ inode: InodeNumber, into buffer: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer {
        var w = NotificationWriter(buffer: buffer, code: invalidateInodeCode)
        w.put(inode.rawValue)
        w.put(Int64(-1))  // off
        w.put(Int64(0))  // len
        return w.finish(dataBytes: 0)
    }

    /// FUSE_NOTIFY_STORE of `dataCount` bytes at `offset` of `inode`'s page cache. The data must
    /// already sit right after the header, at `buffer[storeHeaderSize...]`.
    public static func store(_ inode: InodeNumber, offset: UInt64, dataCount: Int,
                             in buffer: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer {
        var w = NotificationWriter(buffer: buffer, code: storeCode)
        w.put(inode.rawValue)
        w.put(offset)
        w.put(UInt32(dataCount))
        w.put(UInt32(0))  // padding
        return w.finish(dataBytes: dataCount)
    }
}

extension KernelNotifier {
    /// FUSE_NOTIFY_INVAL_INODE for attributes only. Best effort: an inode the kernel has
    /// forgotten has nothing to invalidate.
    public func invalidateAttributes(_ inode: InodeNumber) {
        withUnsafeTemporaryAllocation(byteCount: 40, alignment: 8) { buffer in
            try? deliver(FUSENotification.invalidateAttributes(inode, into: buffer))
        }
    }
}

/// Little-endian fields after a notification header.
private struct NotificationWriter {
    let buffer: UnsafeMutableRawBufferPointer
    var offset = 0

    init(buffer: UnsafeMutableRawBufferPointer, code: Int32) {
        self.buffer = buffer
        put(UInt32(0))  // len, patched by finish
        put(code)
        put(UInt64(0))  // unique 0: a notification
    }

    mutating func put<T: FixedWidthInteger>(_ value: T) {
        precondition(offset + MemoryLayout<T>.size <= buffer.count, "notification overflow")
        buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
    }

    func finish(dataBytes: Int) -> UnsafeRawBufferPointer {
        precondition(offset + dataBytes <= buffer.count, "notification overflow")
        buffer.storeBytes(of: UInt32(offset + dataBytes).littleEndian, toByteOffset: 0, as: UInt32.self)
        return UnsafeRawBufferPointer(rebasing: buffer[0..<(offset + dataBytes)])
    }
}
