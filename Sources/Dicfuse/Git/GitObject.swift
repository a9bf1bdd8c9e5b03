// Git object types, a decoded object (id + type + content) and how an object id is computed:
// SHA-1 over the loose-object header "<type> <size>\0" followed by the content. Everything that
// names an object by id (pack parsing, tree walking) goes through ObjectHasher, so there is one
// place that decides what an id is.
import Crypto

/// The four git object types, with the numbers pack files use for them.
public enum ObjectType: UInt8, Sendable {
    case commit = 1
    case tree = 2
    case blob = 3
    case tag = 4

    /// The name git uses in object headers and `git cat-file -t` ("commit", "tree", "blob", "tag").
    public var name: String {
        switch self {
        case .commit: "commit"
        case .tree: "tree"
        case .blob: "blob"
        case .tag: "tag"
        }
    }
}

/// One git object with its full (inflated, delta-resolved) content.
public struct GitObject: Sendable {
    /// The object's id: SHA-1 of "<type> <size>\0" + data.
    public let id: ObjectID
    /// The object's type.
    public let type: ObjectType
    /// The object's content, without the loose-object header.
    public let data: [UInt8]

    /// Wraps an already known id. The id is not checked against the content.
    public init(id: ObjectID, type: ObjectType, data: [UInt8]) {
        self.id = id
        self.type = type
        self.data = data
    }

    /// Builds an object and computes its id from the content.
    public init(type: ObjectType, data: [UInt8]) {
        self.init(id: ObjectHasher.id(type: type, data: data), type: type, data: data)
    }
}

/// Computes git object ids.
public enum ObjectHasher {
    /// The id of an object with this type and content: SHA-1 of "<type> <size>\0" + data.
    public static func id(type: ObjectType, data: [UInt8]) -> ObjectID {
        var hasher = Insecure.SHA1()
        let header = Array("\(type.name) \(data.count)\0".utf8)
        header.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        data.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        // A SHA-1 digest is always 20 bytes.
        return ObjectID(bytes: Array(hasher.finalize()))!
    }

    /// The plain SHA-1 of some bytes (20 bytes), as used for pack trailers.
    static func sha1(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = Insecure.SHA1()
        hasher.update(bufferPointer: bytes)
        return Array(hasher.finalize())
    }

    /// The plain SHA-1 of some bytes (20 bytes), as used for pack trailers.
    static func sha1(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { sha1($0) }
    }
}
