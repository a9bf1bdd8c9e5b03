// Reading a pack's entries one at a time, so that a caller can resolve and hand out each object
// before the next is inflated. The whole pack is checked first: its signature, version and
// trailing SHA-1 (before a single entry is looked at). Each entry is then checked as it is read:
// types 1-4, 6 and 7 only, OFS_DELTA offsets that land on the start of an earlier entry, sizes
// below PackLimits.maxObjectSize that the remaining compressed bytes could inflate to, and
// exactly the declared number of entries filling the space up to the trailer.

/// The entries of one complete pack, in order.
struct PackEntryReader {
    private let pack: [UInt8]
    /// The number of entries the header declares.
    let count: Int
    /// Where the trailer starts.
    private let end: Int
    private var position = PackParser.headerSize
    private var index = 0
    /// Entry index by start offset, for OFS_DELTA bases.
    private var indexByOffset: [Int: Int] = [:]

    /// Checks the header and the trailing checksum.
    init(_ pack: [UInt8]) throws(PackError) {
        guard pack.count >= 4 else { throw .truncated("pack header") }
        guard pack[0] == UInt8(ascii: "P"), pack[1] == UInt8(ascii: "A"),
              pack[2] == UInt8(ascii: "C"), pack[3] == UInt8(ascii: "K")
        else { throw .badSignature }
        guard pack.count >= PackParser.headerSize + PackParser.trailerSize else { throw .truncated("pack header and trailer") }
        let version = PackParser.bigEndian32(pack, at: 4)
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let end = pack.count - PackParser.trailerSize
        let checksum = pack.withUnsafeBytes { ObjectHasher.sha1(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        guard checksum.elementsEqual(pack[end...]) else { throw .checksumMismatch }
        self.pack = pack
        self.count = Int(PackParser.bigEndian32(pack, at: 8))
        self.end = end
    }

    /// How many entries to reserve room for: the declared count, bounded by what the bytes
    /// could hold (the smallest entry is a 1-byte header plus a 7-byte zlib stream).
    var capacityHint: Int { min(count, (end - PackParser.headerSize) / 8) }

    /// The next entry, inflated; nil after the last one.
    mutating func next() throws(PackError) -> PackEntry? {
        guard index < count else {
            guard position == end else { throw .corruptObject("\(end - position) bytes after the last object") }
            return nil
        }
        guard position < end else { throw .truncated("pack ends after \(index) of \(count) objects") }
        let start = position
        let (typeCode, size) = try PackParser.readEntryHeader(pack, &position, end: end)
        let kind: PackEntry.Kind
        switch typeCode {
        case 1...4:
            // The range guarantees a valid raw value.
            kind = .plain(ObjectType(rawValue: typeCode)!)
        case 6:
            let distance = try PackParser.readBaseDistance(pack, &position, end: end)
            guard distance > 0, distance <= start - PackParser.headerSize,
                  let baseIndex = indexByOffset[start - distance]
            else { throw .corruptObject("OFS_DELTA at \(start) does not point to an earlier entry") }
            kind = .offsetDelta(baseIndex: baseIndex)
        case 7:
            guard end - position >= 20 else { throw .truncated("REF_DELTA base id at \(position)") }
            // Exactly 20 bytes.
            kind = .refDelta(ObjectID(bytes: Array(pack[position..<position + 20]))!)
            position += 20
        default:
            throw .corruptObject("invalid object type \(typeCode) at offset \(start)")
        }
        guard size <= PackLimits.maxObjectSize,
              size <= PackLimits.maxInflatedSize(fromCompressed: end - position)
        else { throw .corruptObject("entry at \(start) declares an implausible size \(size)") }
        let (data, consumed) = try Inflater.inflate(pack, in: position..<end, expectedSize: size)
        position += consumed
        indexByOffset[start] = index
        index += 1
        return PackEntry(offset: start, kind: kind, data: data)
    }
}
