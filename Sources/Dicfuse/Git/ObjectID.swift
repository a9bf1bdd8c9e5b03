// Git object ids (SHA-1, 20 bytes) and their hex form.

/// A git object id: the SHA-1 of "<type> <size>\0<content>".
public struct ObjectID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 20 raw bytes.
    public let bytes: [UInt8]

    /// The id is a SHA-1, so its first 8 bytes are as well spread as any hash of all 20: one
    /// combine instead of 21 (the synthesized hash fed every byte to the hasher, 2% of the
    /// daemon's CPU in a cold read: in-flight tables, planning sets, tree and size caches).
    public func hash(into hasher: inout Hasher) { hasher.combine(leadingWord) }

    /// The first 8 bytes as one number: as well spread as the whole id, for hashing and for
    /// compact sets of ids.
    var leadingWord: UInt64 {
        var word: UInt64 = 0
        for byte in bytes.prefix(8) { word = word << 8 | UInt64(byte) }
        return word
    }

    /// The empty blob's id, the only blob whose content file is empty.
    public static let emptyBlob = ObjectID(hex: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")!

    /// Wraps 20 raw bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 20 else { return nil }
        self.bytes = bytes
    }

    /// Parses 40 hex digits (either case); nil for anything else.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 40 else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(20)
        var index = 0
        while index < 40 {
            guard let high = ObjectID.nibble(utf8[index]), let low = ObjectID.nibble(utf8[index + 1]) else { return nil }
            result.append(high << 4 | low)
            index += 2
        }
        self.bytes = result
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Lower-case hex, as git prints it.
    public var hex: String { String(decoding: hexDigits, as: UTF8.self) }

    /// The 40 lower-case hex digits as ASCII bytes (for paths built without a String).
    public var hexDigits: [UInt8] {
        let digits: StaticString = "0123456789abcdef"
        var out: [UInt8] = []
        out.reserveCapacity(41)  // room for the content store's fanout slash
        digits.withUTF8Buffer { digits in
            for b in bytes {
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 0xf)])
            }
        }
        return out
    }

    public var description: String { hex }

    public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
