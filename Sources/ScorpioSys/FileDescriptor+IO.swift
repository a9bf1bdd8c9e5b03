// Data-path calls on an open descriptor: positioned reads and writes, sync, size changes, holes,
// in-kernel copies. Buffers are raw pointers so the FUSE reply buffer can be filled in place.
import CScorpioLinux
import Glibc
import SystemPackage

extension FileDescriptor {
    /// Whether the descriptor was opened for writing (O_WRONLY or O_RDWR; fcntl F_GETFL).
    public var isOpenForWriting: Bool {
        fcntl(rawValue, F_GETFL) & O_ACCMODE != O_RDONLY
    }

    /// pread(2) into `buffer`; returns the number of bytes read (0 at end of file).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(Errno) -> Int {
        try retrying { Glibc.pread(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// pread(2) that only copies what the page cache holds: nil where the read would have to
    /// wait for the disk (or the filesystem cannot tell).
    public func readIfCached(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(Errno) -> Int? {
        do {
            return try retrying { scorpio_pread_nowait(rawValue, buffer.baseAddress, buffer.count, offset) }
        } catch .resourceTemporarilyUnavailable, .notSupported {
            return nil
        }
    }

    /// Whether the page cache holds any page of [offset, offset+length) (cachestat(2)); nil
    /// where the kernel cannot tell (before 6.5). "Any", not "all": a read may ask for more
    /// than the file holds, and the pages past its end are never cached.
    public func hasCachedPages(offset: Int64, length: Int) -> Bool? {
        var cached: UInt64 = 0
        guard scorpio_cached_bytes(rawValue, UInt64(offset), UInt64(length), &cached) == 0 else { return nil }
        return cached > 0
    }

    /// pwrite(2) of `buffer`; returns the number of bytes written.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: Int64) throws(Errno) -> Int {
        try retrying { Glibc.pwrite(rawValue, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    /// write(2) of all of `buffer` at the current offset (used for O_APPEND files and pipes).
    public func writeAll(_ buffer: UnsafeRawBufferPointer) throws(Errno) {
        var done = 0
        while done < buffer.count {
            done += try retrying { Glibc.write(rawValue, buffer.baseAddress! + done, buffer.count - done) }
        }
    }

    /// fsync(2), or fdatasync(2) when `dataOnly`.
    public func synchronize(dataOnly: Bool = false) throws(Errno) {
        try retryingVoid { dataOnly ? fdatasync(rawValue) : fsync(rawValue) }
    }

    /// ftruncate(2).
    public func truncate(to size: Int64) throws(Errno) {
        try retryingVoid { ftruncate(rawValue, off_t(size)) }
    }

    /// fallocate(2).
    public func allocate(mode: Int32, offset: Int64, length: Int64) throws(Errno) {
        try retryingVoid { scorpio_fallocate(rawValue, mode, offset, length) }
    }

    /// lseek(2) with SEEK_SET/CUR/END/DATA/HOLE passed through as a raw whence.
    public func seek(offset: Int64, whence: Int32) throws(Errno) -> Int64 {
        Int64(try retrying { Glibc.lseek(rawValue, off_t(offset), whence) })
    }

    /// copy_file_range(2); returns the number of bytes copied (0 at end of input).
    public func copyRange(to output: FileDescriptor, inputOffset: Int64, outputOffset: Int64, length: Int) throws(Errno) -> Int {
        var inOff = inputOffset
        var outOff = outputOffset
        return try retrying { scorpio_copy_file_range(rawValue, &inOff, output.rawValue, &outOff, length, 0) }
    }

    /// fchmod(2).
    public func changeMode(to mode: UInt32) throws(Errno) {
        try retryingVoid { fchmod(rawValue, mode_t(mode)) }
    }

    /// fstatvfs(3) of the filesystem holding this descriptor.
    public func fileSystemStatistics() throws(Errno) -> FileSystemStatistics {
        var s = statvfs()
        try retryingVoid { fstatvfs(rawValue, &s) }
        return FileSystemStatistics(
            blocks: UInt64(s.f_blocks), freeBlocks: UInt64(s.f_bfree), availableBlocks: UInt64(s.f_bavail),
            files: UInt64(s.f_files), freeFiles: UInt64(s.f_ffree), blockSize: UInt32(s.f_bsize),
            nameMax: UInt32(s.f_namemax), fragmentSize: UInt32(s.f_frsize))
    }

    /// close(2), ignoring EINTR (Linux always releases the descriptor; retrying could close a reused one).
    public func closeQuietly() {
        _ = Glibc.close(rawValue)
    }
}

/// statvfs(3) fields, as FUSE_STATFS reports them.
public struct FileSystemStatistics: Sendable, Equatable {
    public var blocks, freeBlocks, availableBlocks, files, freeFiles: UInt64
    public var blockSize, nameMax, fragmentSize: UInt32
    public init(blocks: UInt64, freeBlocks: UInt64, availableBlocks: UInt64, files: UInt64, freeFiles: UInt64,
                blockSize: UInt32, nameMax: UInt32, fragmentSize: UInt32) {
        self.blocks = blocks; self.freeBlocks = freeBlocks; self.availableBlocks = availableBlocks
        self.files = files; self.freeFiles = freeFiles; self.blockSize = blockSize; self.nameMax = nameMax
        self.fragmentSize = fragmentSize
    }
}

extension FileDescriptor {
    /// fchown(2).
    public func changeOwnerOfDescriptor(uid: UInt32, gid: UInt32) throws(Errno) {
        try retryingVoid { fchown(rawValue, uid, gid) }
    }

    /// futimens(3).
    public func setTimesOfDescriptor(access: TimeUpdate, modification: TimeUpdate) throws(Errno) {
        var times = [access.timespecValue, modification.timespecValue]
        try retryingVoid { futimens(rawValue, &times) }
    }
}
