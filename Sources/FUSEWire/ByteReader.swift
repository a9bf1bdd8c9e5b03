// Bounds-checked little-endian decoding of wire structs, field by field. Nothing here trusts a
// length from the wire: every read checks what is left and throws `.truncated` instead.

/// Errors in the shape of a request. The dispatcher replies EINVAL (or drops the request when
/// even the header is unreadable) and logs; it never traps.
public enum FUSEWireError: Error, Equatable, Sendable {
    /// The buffer ended `need` bytes into a field with only `have` left.
    case truncated(need: Int, have: Int)
    /// A name was not NUL-terminated inside the request.
    case unterminatedString
    /// `len` in the header disagrees with the bytes received.
    case headerLengthMismatch(declared: UInt32, received: Int)
    /// A name was empty or contained '/'.
    case invalidName
}

/// Reads little-endian integers and byte strings from a borrowed buffer.
public struct ByteReader {
    @usableFromInline let buffer: UnsafeRawBufferPointer
    @usableFromInline var offset: Int
    /// Bytes of the request that the transport keeps outside this buffer (a WRITE's data).
    public var externalBytes = 0
    /// FUSE_SETXATTR_EXT was agreed: SETXATTR carries the 16-byte fuse_setxattr_in.
    public var extendedSetxattr = false

    public init(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        self.offset = 0
    }

    /// Bytes not read yet.
    public var remaining: Int { buffer.count - offset }

    /// Reads one fixed-width little-endian integer.
    @inlinable
    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws(FUSEWireError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(need: size, have: remaining) }
        let value = buffer.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Skips `count` bytes (padding, unused fields).
    public mutating func skip(_ count: Int) throws(FUSEWireError) {
        guard remaining >= count else { throw .truncated(need: count, have: remaining) }
        offset += count
    }

    /// Reads a NUL-terminated string and returns its bytes without the NUL.
    public mutating func readCString() throws(FUSEWireError) -> [UInt8] {
        let rest = UnsafeRawBufferPointer(rebasing: buffer[offset...])
        guard let end = rest.firstIndex(of: 0) else { throw .unterminatedString }
        let bytes = Array(rest[..<end])
        offset += end + 1
        return bytes
    }

    /// Reads a file name: a C string that is non-empty and has no '/'.
    public mutating func readName() throws(FUSEWireError) -> [UInt8] {
        let name = try readCString()
        guard !name.isEmpty, !name.contains(UInt8(ascii: "/")) else { throw .invalidName }
        return name
    }

    /// Returns the next `count` bytes as a view into the request buffer (no copy).
    public mutating func readBytes(_ count: Int) throws(FUSEWireError) -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else { throw .truncated(need: count, have: remaining) }
        let slice = UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + count)])
        offset += count
        return slice
    }
}
