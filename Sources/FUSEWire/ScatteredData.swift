// READ and WRITE data that stays in a transport's own scattered buffers: for virtiofs these are
// the guest's pages, so the file is read straight into guest memory (preadv) and written
// straight from it (pwritev), without passing through the daemon's request or reply buffers.
import Glibc
import SystemPackage

/// A list of buffers (struct iovec) owned by the transport for the duration of one request.
public struct IOVectors {
    public let vectors: UnsafeBufferPointer<iovec>
    /// The sum of the vectors' lengths.
    public let byteCount: Int

    public init(_ vectors: UnsafeBufferPointer<iovec>, byteCount: Int) {
        self.vectors = vectors
        self.byteCount = byteCount
    }

    /// Calls `body` for each buffer, in order, until it returns false.
    public func forEachBuffer(_ body: (UnsafeMutableRawBufferPointer) throws(Errno) -> Bool) throws(Errno) {
        for vector in vectors where vector.iov_len > 0 {
            if try !body(UnsafeMutableRawBufferPointer(start: vector.iov_base, count: vector.iov_len)) { return }
        }
    }
}

/// Where a request's bulk data lives when it is not in the message itself.
public enum ScatteredData {
    /// A WRITE's data, which follows the message's fuse_write_in in these buffers.
    case writeSource(IOVectors)
    /// Room for a READ's data, right after the reply header in the transport's buffers.
    case readDestination(IOVectors)
}

extension FileSystem {
    /// READ into scattered buffers, one contiguous read per buffer; filesystems with a file
    /// descriptor at hand override this with one preadv.
    public func read(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                     into destination: IOVectors) throws(Errno) -> Int {
        var total = 0
        try destination.forEachBuffer { (buffer) throws(Errno) in
            let count = try read(ctx, inode: inode, handle: handle, offset: offset + UInt64(total), into: buffer)
            total += count
            return count == buffer.count
        }
        return total
    }

    /// WRITE from scattered buffers, one contiguous write per buffer.
    public func write(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID, offset: UInt64,
                      from source: IOVectors) throws(Errno) -> Int {
        var total = 0
        try source.forEachBuffer { (buffer) throws(Errno) in
            let count = try write(ctx, inode: inode, handle: handle, offset: offset + UInt64(total), data: UnsafeRawBufferPointer(buffer))
            total += count
            return count == buffer.count
        }
        return total
    }
}
