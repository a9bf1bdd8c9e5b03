// Reading a pack's entries one at a time, from a whole pack or while it arrives, so that a caller
// can resolve and hand out each object before the next is inflated. Decides what a pack must
// satisfy: the "PACK" signature, version 2 or 3, entry types 1-4, 6 and 7 only, OFS_DELTA offsets
// that land on the start of an earlier entry, sizes below PackLimits.maxObjectSize that the
// compressed bytes could inflate to, exactly the declared number of entries, then the trailing
// SHA-1 of everything before it and nothing after. A whole pack has its trailer checked before a
// single entry is looked at; a pack read as it arrives has it checked at the end (finish), so
// its caller must undo what it did with the entries when that fails.
//
// While a pack arrives, an entry whose zlib stream has not fully arrived is tried again only
// once more has come (at least 256 KiB more, or twice what was there): a large entry is inflated
// at most about twice over, and small ones go through as soon as they are complete. Bytes before
// the current entry are dropped, so memory holds what has arrived but is not read yet.
import Crypto

/// The entries of one pack, in order.
struct PackEntryReader {
    private var buffer: [UInt8] = []
    /// The pack offset of buffer[0].
    private var bufferStart = 0
    /// The pack offset of the next entry.
    private var position = PackParser.headerSize
    /// Everything has arrived (and, for a whole pack, the trailer is checked).
    private var complete = false
    /// The number of entries the header declares, once it has arrived.
    private(set) var count: Int?
    private var index = 0
    /// Entry index by start offset, for OFS_DELTA bases.
    private var indexByOffset: [Int: Int] = [:]
    /// The SHA-1 of the bytes before the last 20 received (the trailer is the last 20).
    private var hasher = Insecure.SHA1()
    private var hashedUpTo = 0
    /// Received bytes needed before the next entry is tried again.
    private var retryAt = 0

    private var received: Int { bufferStart + buffer.count }

    /// A pack that will arrive with `append`.
    init() {}

    /// A whole pack: checks its header and trailing checksum now.
    init(_ pack: [UInt8]) throws(PackError) {
        guard pack.count >= 4 else { throw .truncated("pack header") }
        buffer = pack
        try readHeader()
        guard pack.count >= PackParser.headerSize + PackParser.trailerSize else { throw .truncated("pack header and trailer") }
        let end = pack.count - PackParser.trailerSize
        let checksum = pack.withUnsafeBytes { ObjectHasher.sha1(UnsafeRawBufferPointer(rebasing: $0[0..<end])) }
        guard checksum.elementsEqual(pack[end...]) else { throw .checksumMismatch }
        hashedUpTo = -1  // checked
        complete = true
    }

    /// How many entries to reserve room for: the declared count, bounded by what the bytes
    /// could hold (the smallest entry is a 1-byte header plus a 7-byte zlib stream).
    var capacityHint: Int { min(count ?? 0, max(0, received - PackParser.headerSize) / 8) }

    /// More of a pack that is arriving.
    mutating func append(_ bytes: ArraySlice<UInt8>) {
        precondition(!complete, "append to a pack that has arrived")
        buffer.append(contentsOf: bytes)
        let hashEnd = received - PackParser.trailerSize
        if hashEnd > hashedUpTo {
            buffer.withUnsafeBytes { raw in
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: raw[(hashedUpTo - bufferStart)..<(hashEnd - bufferStart)]))
            }
            hashedUpTo = hashEnd
        }
    }

    /// The next entry, inflated, when it has arrived; nil when more bytes are needed or every
    /// entry has been read.
    mutating func next() throws(PackError) -> PackEntry? {
        if count == nil {
            if received < PackParser.headerSize { return nil }
            try readHeader()
        }
        guard let count, index < count, received >= retryAt else { return nil }
        // A pack that arrived whole ends where its trailer starts; one arriving may end anywhere.
        let end = complete ? received - PackParser.trailerSize : received
        guard position < end else {
            if complete { throw .truncated("pack ends after \(index) of \(count) objects") }
            return nil
        }
        let entry: PackEntry
        do {
            entry = try readEntry(end: end)
        } catch .truncated where !complete {
            let available = received - position
            retryAt = position + max(available + (256 << 10), 2 * available)
            return nil
        }
        index += 1
        dropReadBytes()
        return entry
    }

    /// After the last byte arrived: reads what is left and checks the entry count and trailer.
    /// Returns the entries not read yet (none for a whole pack read to its end).
    @discardableResult
    mutating func finish() throws(PackError) -> [PackEntry] {
        if !complete {
            guard received >= PackParser.headerSize + PackParser.trailerSize else { throw .truncated("pack header and trailer") }
            complete = true
            retryAt = 0
        }
        var rest: [PackEntry] = []
        while let entry = try next() { rest.append(entry) }
        if count == nil { try readHeader() }
        let end = received - PackParser.trailerSize
        guard position == end else {
            throw position < end ? .corruptObject("\(end - position) bytes after the last object")
                                 : .truncated("pack ends inside its last object")
        }
        if hashedUpTo >= 0 {
            let checksum = Array(hasher.finalize())
            guard checksum.elementsEqual(buffer[(end - bufferStart)...]) else { throw .checksumMismatch }
        }
        return rest
    }

    /// Checks the signature and version, and reads the entry count.
    private mutating func readHeader() throws(PackError) {
        guard buffer[0] == UInt8(ascii: "P"), buffer[1] == UInt8(ascii: "A"),
              buffer[2] == UInt8(ascii: "C"), buffer[3] == UInt8(ascii: "K")
        else { throw .badSignature }
        guard received >= PackParser.headerSize else { throw .truncated("pack header") }
        let version = PackParser.bigEndian32(buffer, at: 4)
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        count = Int(PackParser.bigEndian32(buffer, at: 8))
    }

    /// Reads the entry at `position`, whose bytes end at or before `end` (a pack offset).
    private mutating func readEntry(end packEnd: Int) throws(PackError) -> PackEntry {
        let start = position
        let end = packEnd - bufferStart
        var cursor = start - bufferStart
        let (typeCode, size) = try PackParser.readEntryHeader(buffer, &cursor, end: end)
        let kind: PackEntry.Kind
        switch typeCode {
        case 1...4:
            // The range guarantees a valid raw value.
            kind = .plain(ObjectType(rawValue: typeCode)!)
        case 6:
            let distance = try PackParser.readBaseDistance(buffer, &cursor, end: end)
            guard distance > 0, distance <= start - PackParser.headerSize,
                  let baseIndex = indexByOffset[start - distance]
            else { throw .corruptObject("OFS_DELTA at \(start) does not point to an earlier entry") }
            kind = .offsetDelta(baseIndex: baseIndex)
        case 7:
            guard end - cursor >= 20 else { throw .truncated("REF_DELTA base id at \(cursor + bufferStart)") }
            // Exactly 20 bytes.
            kind = .refDelta(ObjectID(bytes: Array(buffer[cursor..<cursor + 20]))!)
            cursor += 20
        default:
            throw .corruptObject("invalid object type \(typeCode) at offset \(start)")
        }
        guard size <= PackLimits.maxObjectSize else { throw .corruptObject("entry at \(start) declares an implausible size \(size)") }
        guard size <= PackLimits.maxInflatedSize(fromCompressed: end - cursor) else {
            // Not plausible from the bytes there are; while more may come, wait for them.
            if complete { throw .corruptObject("entry at \(start) declares an implausible size \(size)") }
            throw .truncated("entry at \(start)")
        }
        let (data, consumed) = try Inflater.inflate(buffer, in: cursor..<end, expectedSize: size)
        position = cursor + consumed + bufferStart
        indexByOffset[start] = index
        return PackEntry(offset: start, kind: kind, data: data)
    }

    /// Drops bytes before the next entry (and already hashed) once they are a large share.
    private mutating func dropReadBytes() {
        guard !complete else { return }
        let droppable = min(position, hashedUpTo) - bufferStart
        if droppable >= 1 << 20, droppable * 2 >= buffer.count {
            buffer.removeFirst(droppable)
            bufferStart += droppable
        }
    }
}
