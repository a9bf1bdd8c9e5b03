// Encodes replies into a caller-owned buffer (one per worker thread, reused for every request),
// so a reply costs no allocation. The 16-byte struct fuse_out_header is written first and its
// length is patched in by `finish`.

/// Writes little-endian fields into a borrowed reply buffer.
public struct ReplyWriter {
    /// sizeof(struct fuse_out_header)
    public static let headerSize = 16

    @usableFromInline let buffer: UnsafeMutableRawBufferPointer
    @usableFromInline var offset: Int

    /// Starts a reply to `unique` with error 0; the body follows.
    public init(buffer: UnsafeMutableRawBufferPointer, unique: RequestID) {
        precondition(buffer.count >= ReplyWriter.headerSize + 4096, "reply buffer too small")
        self.buffer = buffer
        self.offset = 0
        put(UInt32(0))
        put(Int32(0))
        put(unique.rawValue)
    }

    /// Bytes written so far, header included.
    public var count: Int { offset }
    /// Bytes that still fit.
    public var remaining: Int { buffer.count - offset }

    /// Appends one little-endian integer. Callers size replies against `remaining` first; a
    /// write past the end is a programming error in the encoder, not something input can cause.
    @inlinable
    public mutating func put<T: FixedWidthInteger>(_ value: T) {
        let size = MemoryLayout<T>.size
        precondition(offset + size <= buffer.count, "reply overflow")
        buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
        offset += size
    }

    /// Appends `count` zero bytes (padding and unused fields).
    public mutating func zeros(_ count: Int) {
        precondition(offset + count <= buffer.count, "reply overflow")
        (buffer.baseAddress! + offset).initializeMemory(as: UInt8.self, repeating: 0, count: count)
        offset += count
    }

    /// Appends raw bytes.
    public mutating func bytes(_ data: UnsafeRawBufferPointer) {
        precondition(offset + data.count <= buffer.count, "reply overflow")
        if let base = data.baseAddress, data.count > 0 {
            (buffer.baseAddress! + offset).copyMemory(from: base, byteCount: data.count)
        }
        offset += data.count
    }

    /// Appends raw bytes from an array.
    public mutating func bytes(_ data: [UInt8]) {
        data.withUnsafeBytes { bytes($0) }
    }

    /// The unwritten tail, for a filesystem to fill in place (READ data); follow with `advance`.
    public var tail: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: buffer[offset...])
    }

    /// Accounts for `count` bytes written into `tail`.
    public mutating func advance(_ count: Int) {
        precondition(count >= 0 && offset + count <= buffer.count, "reply overflow")
        offset += count
    }

    /// Patches the header's length and returns the finished message.
    public mutating func finish() -> UnsafeRawBufferPointer {
        buffer.storeBytes(of: UInt32(offset).littleEndian, toByteOffset: 0, as: UInt32.self)
        return UnsafeRawBufferPointer(rebasing: buffer[0..<offset])
    }

    /// Finishes a header whose `externalBytes` of data the transport holds elsewhere: the
    /// length field counts them, the returned message does not contain them.
    public mutating func finish(externalBytes: Int) -> UnsafeRawBufferPointer {
        buffer.storeBytes(of: UInt32(offset + externalBytes).littleEndian, toByteOffset: 0, as: UInt32.self)
        return UnsafeRawBufferPointer(rebasing: buffer[0..<offset])
    }

    /// Rewrites the message as an error reply: header only, `error = -errno`.
    /// The single place an error reply is built (virtiofsd's `reply_error`).
    public mutating func finishError(_ errno: Int32) -> UnsafeRawBufferPointer {
        let positive = errno > 0 ? errno : 5  // EIO for anything that is not a real errno
        offset = ReplyWriter.headerSize
        buffer.storeBytes(of: Int32(-positive).littleEndian, toByteOffset: 4, as: Int32.self)
        return finish()
    }
}
