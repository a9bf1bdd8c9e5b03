// Reading git pack files (Documentation/gitformat-pack.txt) received from a remote: the errors,
// the limits applied to untrusted content, and the two ways to read a pack. What a pack must
// satisfy is checked by PackEntryReader (whole pack first, then each entry); deltas are resolved
// by DeltaResolver as entries are read. `parse` returns every object of a whole pack or throws;
// PackStream hands objects out while the pack arrives.

/// Why a pack (or a delta inside it) was rejected.
public enum PackError: Error, Equatable, Sendable {
    /// The data does not start with "PACK".
    case badSignature
    /// A pack version other than 2 or 3.
    case unsupportedVersion(UInt32)
    /// The data ends before something it declares (header, entry, zlib stream).
    case truncated(String)
    /// The trailing SHA-1 does not match the pack's content.
    case checksumMismatch
    /// An entry is invalid: bad type, bad size or offset, corrupt zlib data, trailing garbage.
    case corruptObject(String)
    /// An object supplied as a delta base carries a different id than the one asked for.
    case objectIDMismatch(expected: ObjectID, actual: ObjectID)
    /// A REF_DELTA base is neither in the pack nor available from the caller.
    case deltaBaseMissing(ObjectID)
    /// A delta chain is longer than PackLimits.maxDeltaDepth.
    case deltaChainTooDeep
    /// A delta's instructions are invalid for its base.
    case badDelta(String)
}

/// Bounds applied to untrusted pack content.
enum PackLimits {
    /// The largest object (or delta payload) accepted: just under 4 GiB.
    static let maxObjectSize = Int(UInt32.max) - 1
    /// The longest delta chain accepted (git itself writes at most 4095).
    static let maxDeltaDepth = 10_000
    /// The largest size `compressed` bytes of deflate data may inflate to. Deflate cannot
    /// exceed a ratio of about 1032:1; the constant covers zlib's header and tiny streams.
    static func maxInflatedSize(fromCompressed compressed: Int) -> Int {
        compressed > (Int.max - 1024) / 1032 ? Int.max : compressed * 1032 + 1024
    }
}

/// One pack entry as stored: its kind and its inflated payload (content or delta).
struct PackEntry: Sendable {
    enum Kind: Sendable, Equatable {
        /// A whole object (types 1-4).
        case plain(ObjectType)
        /// OFS_DELTA (type 6); the base is the entry with this index.
        case offsetDelta(baseIndex: Int)
        /// REF_DELTA (type 7); the base is the object with this id.
        case refDelta(ObjectID)
    }

    /// Where the entry starts in the pack.
    let offset: Int
    let kind: Kind
    /// The inflated payload: object content for `.plain`, delta instructions otherwise.
    let data: [UInt8]
}

/// Parses whole pack files into objects.
public enum PackParser {
    static let headerSize = 12
    static let trailerSize = 20

    /// Parses a complete pack and returns every object in it, deltas resolved, in pack order.
    ///
    /// The caller checks that the objects it wanted are among them.
    /// - Parameters:
    ///   - pack: the whole pack, including the 12-byte header and the 20-byte SHA-1 trailer.
    ///   - externalBase: looks up REF_DELTA bases that are not in the pack (thin packs). Asked
    ///     only after everything resolvable inside the pack is resolved; the object returned must
    ///     carry the id asked for.
    /// - Throws: `PackError`; nothing is returned when any part of the pack is invalid.
    public static func parse(
        _ pack: [UInt8], externalBase: (ObjectID) -> GitObject? = { _ in nil }
    ) throws(PackError) -> [GitObject] {
        var reader = try PackEntryReader(pack)
        var objects: [GitObject?] = []
        objects.reserveCapacity(reader.capacityHint)
        // Everything stays in memory here, so no base is ever dropped or read back.
        var resolver = DeltaResolver(baseCacheBytes: Int.max, loadBase: { _ in nil })
        do {
            while let entry = try reader.next() {
                objects.append(nil)
                try resolver.add(entry, index: objects.count - 1) { index, object in objects[index] = object }
            }
            try reader.finish()
            try resolver.finish(externalBase: externalBase) { index, object in objects[index] = object }
        } catch let error as PackError {
            throw error
        } catch {
            throw .corruptObject("\(error)")  // unreachable: only the resolver throws here
        }
        return objects.map { $0! }  // finish throws unless every entry resolved
    }

    /// Checks the header and trailer, then reads every entry in order (no delta resolution).
    static func scan(_ pack: [UInt8]) throws(PackError) -> [PackEntry] {
        var reader = try PackEntryReader(pack)
        var entries: [PackEntry] = []
        entries.reserveCapacity(reader.capacityHint)
        while let entry = try reader.next() { entries.append(entry) }
        try reader.finish()
        return entries
    }

    /// Reads an entry header: 3 type bits and a size split into 4 bits, then 7 bits per byte
    /// (least significant first) while the high bit is set.
    static func readEntryHeader(_ pack: [UInt8], _ pos: inout Int, end: Int) throws(PackError) -> (UInt8, Int) {
        var byte = pack[pos]
        pos += 1
        let typeCode = (byte >> 4) & 0x7
        var size = Int(byte & 0x0f)
        var shift = 4
        while byte & 0x80 != 0 {
            guard pos < end else { throw .truncated("entry header at \(pos)") }
            // 4 + 5 * 7 = 39 bits is more than any accepted size; stop before overflowing.
            guard shift <= 32 else { throw .corruptObject("entry size header too long at \(pos)") }
            byte = pack[pos]
            pos += 1
            size |= Int(byte & 0x7f) << shift
            shift += 7
        }
        return (typeCode, size)
    }

    /// Reads an OFS_DELTA base distance: big-endian groups of 7 bits, where every continuation
    /// adds one before shifting (so each length has its own range and no encoding is redundant).
    static func readBaseDistance(_ pack: [UInt8], _ pos: inout Int, end: Int) throws(PackError) -> Int {
        guard pos < end else { throw .truncated("OFS_DELTA offset at \(pos)") }
        var byte = pack[pos]
        pos += 1
        var distance = Int(byte & 0x7f)
        while byte & 0x80 != 0 {
            guard pos < end else { throw .truncated("OFS_DELTA offset at \(pos)") }
            guard distance < 1 << 48 else { throw .corruptObject("OFS_DELTA offset too large at \(pos)") }
            byte = pack[pos]
            pos += 1
            distance = ((distance + 1) << 7) | Int(byte & 0x7f)
        }
        return distance
    }

    static func bigEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
