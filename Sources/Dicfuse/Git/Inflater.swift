// Inflating the zlib streams of pack entries with the system zlib. Decides when a stream is
// acceptable: it must end (Z_STREAM_END, which includes zlib's Adler-32 check) within the given
// input and produce exactly the size the entry header declared. The caller bounds that size
// before calling; the output buffer is sized from it once and never grows. The number of input
// bytes the stream used is returned because pack entries carry no compressed length: the next
// entry starts where zlib stopped.
import CZlib

/// Inflates single zlib streams.
enum Inflater {
    /// Inflates exactly one zlib stream from the start of `input`.
    /// - Parameters:
    ///   - input: bytes beginning with a zlib stream; anything after the stream is left alone.
    ///   - expectedSize: the exact size the inflated content must have. Must be below 4 GiB.
    /// - Returns: the inflated bytes and how many bytes of `input` the stream occupied.
    /// - Throws: `PackError.truncated` when the input ends inside the stream,
    ///   `PackError.corruptObject` for invalid data, a failed checksum or a size mismatch.
    static func inflate(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(PackError) -> (output: [UInt8], consumed: Int) {
        guard expectedSize >= 0, expectedSize < Int(UInt32.max) else {
            throw .corruptObject("object size \(expectedSize) out of range")
        }
        guard let inputBase = input.baseAddress, input.count > 0 else {
            throw .truncated("zlib stream missing")
        }

        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corruptObject("inflateInit failed")
        }
        defer { inflateEnd(&stream) }

        // One byte more than expected, so a stream with too much content is noticed.
        let capacity = expectedSize + 1
        var failure: PackError?
        var consumed = 0
        let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initializedCount in
            stream.next_out = buffer.baseAddress
            stream.avail_out = uInt(capacity)
            var fed = 0
            let outcome = runInflate(&stream, input: inputBase, count: input.count, fed: &fed)
            let produced = capacity - Int(stream.avail_out)
            // zlib wrote these bytes; UInt8 needs no further initialisation.
            initializedCount = produced
            switch outcome {
            case .ended:
                consumed = fed - Int(stream.avail_in)
                if produced != expectedSize {
                    failure = .corruptObject("inflated \(produced) bytes, expected \(expectedSize)")
                }
            case .failed(let error):
                failure = error
            }
        }
        if let failure { throw failure }
        return (output, consumed)
    }

    /// Inflates one stream from a byte range of an array (a convenience over the pointer form).
    static func inflate(_ bytes: [UInt8], in range: Range<Int>, expectedSize: Int) throws(PackError) -> (output: [UInt8], consumed: Int) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(PackError) -> (output: [UInt8], consumed: Int) in
                try Inflater.inflate(UnsafeRawBufferPointer(rebasing: raw[range]), expectedSize: expectedSize)
            }
        }
        return try result.get()
    }

    private enum Outcome {
        case ended
        case failed(PackError)
    }

    /// Runs inflate until the stream ends or fails, feeding the input in chunks zlib can count.
    private static func runInflate(
        _ stream: inout z_stream, input: UnsafeRawPointer, count: Int, fed: inout Int
    ) -> Outcome {
        while true {
            if stream.avail_in == 0 {
                guard fed < count else { return .failed(.truncated("zlib stream ends early")) }
                let chunk = min(count - fed, Int(UInt32.max))
                stream.next_in = UnsafeMutablePointer(mutating: (input + fed).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(chunk)
                fed += chunk
            }
            let status = zlibInflate(&stream)
            switch status {
            case Z_STREAM_END:
                return .ended
            case Z_OK, Z_BUF_ERROR:
                if stream.avail_out == 0 {
                    // The output is full but the stream goes on: more content than declared.
                    return .failed(.corruptObject("zlib stream longer than the declared size"))
                }
                if stream.avail_in != 0 {
                    // Input and output space left, yet no end: zlib cannot continue.
                    if status == Z_BUF_ERROR { return .failed(.corruptObject("zlib made no progress")) }
                }
            // Otherwise the input chunk is used up: feed more (or report truncation) next round.
            default:
                let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                return .failed(.corruptObject("zlib: \(message)"))
            }
        }
    }
}

/// zlib's inflate, outside the Inflater namespace so its name does not resolve to Inflater.inflate.
private func zlibInflate(_ stream: inout z_stream) -> Int32 {
    inflate(&stream, Z_NO_FLUSH)
}
