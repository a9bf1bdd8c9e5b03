// Reading git pack files (Documentation/gitformat-pack.txt) received from a remote. Decides what
// a pack must satisfy before any object is handed out: the "PACK" signature, version 2 or 3, a
// trailing SHA-1 that matches everything before it (checked before a single entry is looked at),
// exactly the declared number of entries filling the space up to the trailer, entry types 1-4, 6
// and 7 only, OFS_DELTA offsets that land on the start of an earlier entry, and sizes below
// PackLimits.maxObjectSize that the remaining compressed bytes could plausibly inflate to.
// Entries are first read in order (PackParser.scan), then deltas are resolved (DeltaResolver).
// Either every object is returned or an error is thrown.

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
    /// The object count of a pack's header, once its first 12 bytes are there (for progress).
    static func declaredObjectCount(_ pack: [UInt8]) -> Int? {
        guard pack.count >= 12, pack[0] == 0x50, pack[1] == 0x41, pack[2] == 0x43, pack[3] == 0x4B else { return nil }
        return Int(bigEndian32(pack, at: 8))
    }

    public static func parse(
        _ pack: [UInt8], externalBase: (ObjectID) -> GitObject? = { _ in nil }
    ) throws(PackError) -> [GitObject] {
        let entries = try scan(pack)
        var resolver = DeltaResolver(entries: entries)
        return try resolver.resolve(externalBase: externalBase)
    }

    /// Checks the header and trailer, then reads every entry in order (no delta resolution).
    static func scan(_ pack: [UInt8]) throws(PackError) -> [PackEntry] {
        guard pack.count >= 4 else { throw .truncated("pack header") }
        guard pack[0] == UInt8(ascii: "P"), pack[1] == UInt8(ascii: "A"),
              pack[2] == UInt8(ascii: "C"), pack[3] == UInt8(ascii: "K")
        else { throw .badSignature }
        guard pack.count >= headerSize + trailerSize else { throw .truncated("pack header and trailer") }
        let version = bigEndian32(pack, at: 4)
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let count = Int(bigEndian32(pack, at: 8))

        let end = pack.count - trailerSize
        let checksum = pack.withUnsafeBytes { ObjectHasher.sha1(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        guard checksum.elementsEqual(pack[end...]) else { throw .checksumMismatch }

        var entries: [PackEntry] = []
        // The smallest entry is a 1-byte header plus a 7-byte zlib stream.
        entries.reserveCapacity(min(count, (end - headerSize) / 8))
        var indexByOffset: [Int: Int] = [:]
        var pos = headerSize
        for index in 0..<count {
            guard pos < end else { throw .truncated("pack ends after \(index) of \(count) objects") }
            let start = pos
            let (typeCode, size) = try readEntryHeader(pack, &pos, end: end)
            let kind: PackEntry.Kind
            switch typeCode {
            case 1...4:
                // The range guarantees a valid raw value.
                kind = .plain(ObjectType(rawValue: typeCode)!)
            case 6:
                let distance = try readBaseDistance(pack, &pos, end: end)
                guard distance > 0, distance <= start - headerSize,
                      let baseIndex = indexByOffset[start - distance]
                else { throw .corruptObject("OFS_DELTA at \(start) does not point to an earlier entry") }
                kind = .offsetDelta(baseIndex: baseIndex)
            case 7:
                guard end - pos >= 20 else { throw .truncated("REF_DELTA base id at \(pos)") }
                // Exactly 20 bytes.
                kind = .refDelta(ObjectID(bytes: Array(pack[pos..<pos + 20]))!)
                pos += 20
            default:
                throw .corruptObject("invalid object type \(typeCode) at offset \(start)")
            }
            guard size <= PackLimits.maxObjectSize,
                  size <= PackLimits.maxInflatedSize(fromCompressed: end - pos)
            else { throw .corruptObject("entry at \(start) declares an implausible size \(size)") }
            let (data, consumed) = try Inflater.inflate(pack, in: pos..<end, expectedSize: size)
            pos += consumed
            indexByOffset[start] = index
            entries.append(PackEntry(offset: start, kind: kind, data: data))
        }
        guard pos == end else { throw .corruptObject("\(end - pos) bytes after the last object") }
        return entries
    }

    /// Reads an entry header: 3 type bits and a size split into 4 bits, then 7 bits per byte
    /// (least significant first) while the high bit is set.
    private static func readEntryHeader(_ pack: [UInt8], _ pos: inout Int, end: Int) throws(PackError) -> (UInt8, Int) {
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
    private static func readBaseDistance(_ pack: [UInt8], _ pos: inout Int, end: Int) throws(PackError) -> Int {
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

    private static func bigEndian32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
