// preadv/pwritev over a list of buffers (virtiofs moves READ and WRITE data straight between a
// file and guest memory), continuing after short transfers until the list is done or the file
// ends.
import Glibc
import SystemPackage

extension FileDescriptor {
    /// Reads into `vectors` from `offset` until they are full or the file ends; returns the
    /// byte count.
    public func read(into vectors: UnsafeBufferPointer<iovec>, at offset: Int64) throws(Errno) -> Int {
        try transfer(vectors, at: offset) { (base, count, position) throws(Errno) in
            try retrying { preadv(rawValue, base, count, off_t(position)) }
        } single: { (buffer, length, position) throws(Errno) in
            try retrying { Glibc.pread(rawValue, buffer, length, off_t(position)) }
        }
    }

    /// Writes all of `vectors` at `offset`; returns the byte count.
    public func write(from vectors: UnsafeBufferPointer<iovec>, at offset: Int64) throws(Errno) -> Int {
        try transfer(vectors, at: offset) { (base, count, position) throws(Errno) in
            try retrying { pwritev(rawValue, base, count, off_t(position)) }
        } single: { (buffer, length, position) throws(Errno) in
            try retrying { Glibc.pwrite(rawValue, buffer, length, off_t(position)) }
        }
    }

    /// Walks the vectors: whole vectors go in one vectored call; a vector left partly done by a
    /// short transfer is finished on its own before the walk goes on. Stops at a 0-byte result.
    private func transfer(_ vectors: UnsafeBufferPointer<iovec>, at offset: Int64,
                          vectored: (UnsafePointer<iovec>, Int32, Int64) throws(Errno) -> Int,
                          single: (UnsafeMutableRawPointer, Int, Int64) throws(Errno) -> Int) throws(Errno) -> Int {
        guard let base = vectors.baseAddress else { return 0 }
        var total = 0
        var index = 0
        var done = 0  // bytes of vectors[index] already transferred
        while index < vectors.count {
            let count: Int
            if done == 0 {
                count = try vectored(base + index, Int32(min(vectors.count - index, 1024)), offset + Int64(total))
            } else {
                let vector = vectors[index]
                count = try single(vector.iov_base! + done, vector.iov_len - done, offset + Int64(total))
            }
            if count == 0 { break }
            total += count
            var left = done + count
            done = 0
            while index < vectors.count, left >= vectors[index].iov_len {
                left -= vectors[index].iov_len
                index += 1
            }
            done = left
        }
        return total
    }
}
