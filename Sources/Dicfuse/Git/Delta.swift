// Applying git's binary delta format (the payload of OFS_DELTA and REF_DELTA pack entries).
// Decides what a valid delta is: the declared base size equals the base's length, the declared
// result size is at most PackLimits.maxObjectSize, every copy lies inside the base, no
// instruction writes past the declared result size, opcode 0 is an error, and the result has
// exactly the declared size. Nothing is allocated from the declared size beyond a capped
// reservation, so a tiny hostile delta cannot demand gigabytes up front.

/// Reconstructs objects from a base and a delta.
enum DeltaApplier {
    /// The most result capacity reserved in advance; larger results grow as they are written.
    private static let maxReservation = 1 << 26

    /// Applies `delta` to `base`.
    ///
    /// Format: base size (varint), result size (varint), then instructions until the end:
    /// - `1xxxxxxx`: copy from the base. Bits 0-3 say which of up to four little-endian offset
    ///   bytes follow, bits 4-6 which of up to three size bytes follow; size 0 means 0x10000.
    /// - `0nnnnnnn` with n in 1...127: insert the next n bytes of the delta.
    /// - `00000000`: reserved, rejected.
    /// - Throws: `PackError.badDelta` for any violation.
    static func apply(_ delta: [UInt8], to base: [UInt8]) throws(PackError) -> [UInt8] {
        var pos = 0
        let baseSize = try readSize(delta, &pos)
        guard baseSize == base.count else {
            throw .badDelta("delta expects a base of \(baseSize) bytes, base has \(base.count)")
        }
        let resultSize = try readSize(delta, &pos)
        guard resultSize <= PackLimits.maxObjectSize else {
            throw .badDelta("result size \(resultSize) too large")
        }

        var result: [UInt8] = []
        result.reserveCapacity(min(resultSize, maxReservation))
        while pos < delta.count {
            let op = delta[pos]
            pos += 1
            if op & 0x80 != 0 {
                var offset = 0
                var size = 0
                for i in 0..<4 where op & (1 << i) != 0 {
                    guard pos < delta.count else { throw .badDelta("truncated copy offset") }
                    offset |= Int(delta[pos]) << (8 * i)
                    pos += 1
                }
                for i in 0..<3 where op & (0x10 << i) != 0 {
                    guard pos < delta.count else { throw .badDelta("truncated copy size") }
                    size |= Int(delta[pos]) << (8 * i)
                    pos += 1
                }
                if size == 0 { size = 0x10000 }
                guard offset <= base.count, size <= base.count - offset else {
                    throw .badDelta("copy of \(size) bytes at \(offset) outside a base of \(base.count) bytes")
                }
                guard size <= resultSize - result.count else {
                    throw .badDelta("copy past the declared result size \(resultSize)")
                }
                result.append(contentsOf: base[offset..<offset + size])
            } else if op != 0 {
                let count = Int(op)
                guard count <= delta.count - pos else { throw .badDelta("truncated insert") }
                guard count <= resultSize - result.count else {
                    throw .badDelta("insert past the declared result size \(resultSize)")
                }
                result.append(contentsOf: delta[pos..<pos + count])
                pos += count
            } else {
                throw .badDelta("reserved opcode 0")
            }
        }
        guard result.count == resultSize else {
            throw .badDelta("result has \(result.count) bytes, delta declared \(resultSize)")
        }
        return result
    }

    /// Reads a size: little-endian groups of 7 bits, high bit set on all but the last byte.
    private static func readSize(_ delta: [UInt8], _ pos: inout Int) throws(PackError) -> Int {
        var value = 0
        var shift = 0
        while true {
            guard pos < delta.count else { throw .badDelta("truncated size header") }
            let byte = delta[pos]
            pos += 1
            // Past 5 groups (35 bits) the size is beyond any object accepted; stop before the
            // shift could push bits out of an Int.
            guard shift <= 35 else { throw .badDelta("size header too long") }
            value |= Int(byte & 0x7f) << shift
            shift += 7
            if byte & 0x80 == 0 { return value }
        }
    }
}
