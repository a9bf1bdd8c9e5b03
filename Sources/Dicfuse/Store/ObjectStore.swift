// The on-disk cache under --cache, shared by every mount and repository on the host:
//   objects/xx/<38 hex>   commits and trees, raw content, verified by id before storing
//   blobs/xx/<38 hex>     file contents, one plain file per blob (opened for FUSE passthrough)
//   sizes/<tree hex>      known blob sizes of one tree (object-info), 8 bytes per entry
//   complete/<commit hex> marker: every tree of this commit is in objects/
//   refs/<url hash>/<ref> the commit a ref named when it was last resolved
//   tmp/                  files being written; renamed into place only when complete
// No file appears under its real name before it is complete, so a killed daemon leaves no
// torn or zero-byte object, and the next start uses the cache as is. Files are not fsynced
// (a cold read writes tens of thousands): after a power loss a file may be empty or torn, so
// commits and trees are checked against their id when read, and an empty blob file that is
// not the empty blob is dropped; either is then fetched again. Objects are written as
// anonymous files (O_TMPFILE) in their fanout directory and linked when complete: one
// directory update instead of a create and a rename. Everything else, and objects where the
// filesystem has no O_TMPFILE, is written to tmp/ and renamed.
import Glibc
import ScorpioSys
import Synchronization
import SystemPackage

/// Files of the object cache.
public final class ObjectStore: Sendable {
    public let root: String
    /// blobs/ and objects/, held open. An object's file is reached relative to them
    /// ("xx/<38 hex>"): no absolute path built as a String and no walk through the cache's own
    /// path for every stat, open and link (a cold read stats, opens or links each blob several
    /// times: planning, storing, serving).
    private let blobs: FileDescriptor
    private let objects: FileDescriptor
    /// Fanout directories known to exist, as 256 × kind + first byte (mkdir once per directory,
    /// not per object).
    private let madeDirectories = Mutex<Set<Int>>([])

    /// Opens (creating) the cache directory.
    public init(root: String) throws(Errno) {
        self.root = root
        for directory in ["", "/objects", "/blobs", "/sizes", "/complete", "/refs", "/tmp"] {
            try Self.makeDirectoryIfMissing(root + directory)
        }
        let here = FileDescriptor(rawValue: AT_FDCWD_VALUE)
        let blobs = try here.open(at: Array("\(root)/blobs".utf8), flags: O_RDONLY_VALUE | O_DIRECTORY_VALUE)
        do {
            objects = try here.open(at: Array("\(root)/objects".utf8), flags: O_RDONLY_VALUE | O_DIRECTORY_VALUE)
        } catch {
            blobs.closeQuietly()
            throw error
        }
        self.blobs = blobs
        Self.removeOrphanedTemporaries(in: root + "/tmp")
    }

    /// tmp/ files are named "<pid>-<random>"; those of processes that are gone, and untouched
    /// for an hour, were left by a killed writer. (A pid alone is not enough: a daemon in
    /// another pid namespace or on another host may share the cache; a write takes moments.)
    private static func removeOrphanedTemporaries(in directory: String) {
        let here = FileDescriptor(rawValue: AT_FDCWD_VALUE)
        guard let names = try? here.listDirectory(at: Array(directory.utf8)) else { return }
        let hourAgo = Int64(time(nil)) - 3600
        for name in names.map(\.name) {
            let path = directory + "/" + String(decoding: name, as: UTF8.self)
            guard let pid = Int32(String(decoding: name.prefix { $0 != UInt8(ascii: "-") }, as: UTF8.self)), pid > 0,
                  kill(pid, 0) != 0, Glibc.errno == ESRCH,
                  let stat = try? here.stat(at: Array(path.utf8)), stat.modificationTime.seconds < hourAgo else { continue }
            unlink(path)
        }
    }

    deinit {
        blobs.closeQuietly()
        objects.closeQuietly()
    }

    /// "xx/<38 hex>": an object's file relative to blobs/ or objects/.
    static func relativePath(_ id: ObjectID) -> [UInt8] {
        var path = id.hexDigits
        path.insert(UInt8(ascii: "/"), at: 2)
        return path
    }

    /// The absolute path of an object's file under `kind` (blobs or objects), for the tmp/
    /// and rename fallback.
    private func absolutePath(_ kind: String, _ id: ObjectID) -> String {
        "\(root)/\(kind)/\(String(decoding: Self.relativePath(id), as: UTF8.self))"
    }

    /// Opens a cached blob's content file; `.noSuchFileOrDirectory` when it is not cached.
    public func openBlob(_ id: ObjectID) throws(Errno) -> FileDescriptor {
        let fd = try blobs.open(at: Self.relativePath(id), flags: O_RDONLY_VALUE)
        if id != ObjectID.emptyBlob, (try? fd.stat())?.size == 0 {
            fd.closeQuietly()
            removeBlob(id)  // emptied by a power loss (see the header)
            throw .noSuchFileOrDirectory
        }
        return fd
    }

    /// Sets a cached blob's access time (the LRU clock of `cache gc`) to now when it is older
    /// than `seconds`. Missing blobs are left alone.
    func touchBlobIfStale(_ id: ObjectID, olderThan seconds: Int64) {
        let path = Self.relativePath(id)
        guard let stat = try? blobs.stat(at: path), Int64(time(nil)) - stat.accessTime.seconds > seconds else { return }
        try? blobs.setTimes(at: path, access: .now, modification: .omit)
    }

    /// Size of a cached blob, nil when it is not cached.
    public func cachedBlobSize(_ id: ObjectID) -> UInt64? {
        guard let size = (try? blobs.stat(at: Self.relativePath(id)))?.size else { return nil }
        if size == 0 && id != ObjectID.emptyBlob {
            removeBlob(id)  // emptied by a power loss (see the header)
            return nil
        }
        return size
    }

    /// Raw content of a stored commit or tree, checked against its id: a damaged file (see the
    /// header) is removed and reads as missing.
    public func metadata(_ id: ObjectID) -> [UInt8]? {
        guard let data = readFile(Self.relativePath(id), in: objects) else { return nil }
        if ObjectHasher.id(type: .tree, data: data) == id || ObjectHasher.id(type: .commit, data: data) == id
            || ObjectHasher.id(type: .tag, data: data) == id { return data }
        try? objects.remove(at: Self.relativePath(id), directory: false)
        return nil
    }

    /// Whether a commit or tree is stored, without reading it.
    public func hasMetadata(_ id: ObjectID) -> Bool { (try? objects.stat(at: Self.relativePath(id))) != nil }

    /// Stores a verified object: blobs into blobs/, everything else into objects/. Returns
    /// false when another writer had stored it already.
    @discardableResult
    public func store(_ object: GitObject) throws(Errno) -> Bool {
        let isBlob = object.type == .blob
        let directory = isBlob ? blobs : objects
        // No check for an existing file first: objects are stored because they were missing,
        // and linking over one another writer stored meanwhile fails harmlessly (EEXIST).
        let path = Self.relativePath(object.id)
        let fanoutKey = (isBlob ? 256 : 0) + Int(object.id.bytes[0])
        if !madeDirectories.withLock({ $0.contains(fanoutKey) }) {
            do {
                try directory.makeDirectory(at: Array(path.prefix(2)), mode: 0o755)
            } catch .fileExists {}
            _ = madeDirectories.withLock { $0.insert(fanoutKey) }
        }
        return try linkComplete(path, object.data, in: directory) { [self] in absolutePath(isBlob ? "blobs" : "objects", object.id) }
    }

    /// A cached blob's content; nil when it is not cached (or cannot be read).
    public func blobContent(_ id: ObjectID) -> [UInt8]? { readFile(Self.relativePath(id), in: blobs) }

    /// Removes a cached blob (a fetch undoing what it stored from a pack it rejected).
    public func removeBlob(_ id: ObjectID) {
        try? blobs.remove(at: Self.relativePath(id), directory: false)
    }

    /// Writes `bytes` as an anonymous file in the fanout directory of `path` (relative to
    /// `directory`) and links it there once complete; on failure (a full disk) the file
    /// vanishes with its descriptor. An object linked by another writer meanwhile is the same
    /// object. Falls back to tmp/ and a rename to `absolutePath()`.
    private func linkComplete(_ path: [UInt8], _ bytes: [UInt8], in directory: FileDescriptor,
                              absolutePath: () -> String) throws(Errno) -> Bool {
        let fd: FileDescriptor
        do {
            fd = try directory.open(at: Array(path.prefix(2)), flags: FileDescriptor.tmpFileFlag | O_WRONLY_VALUE, mode: 0o444)
        } catch .notSupported {
            try atomicWrite(absolutePath(), bytes)
            return true
        } catch .isDirectory {
            try atomicWrite(absolutePath(), bytes)  // kernels that predate O_TMPFILE
            return true
        }
        defer { fd.closeQuietly() }
        try typedErrno { try bytes.withUnsafeBytes { try fd.writeAll($0) } }
        do {
            try directory.linkAnonymous(fd, to: path)
        } catch .fileExists {
            return false
        } catch .noSuchFileOrDirectory {
            try atomicWrite(absolutePath(), bytes)  // no /proc to link through
        }
        return true
    }

    /// Known sizes of the blobs of `tree`, index-aligned with its entries (UInt64.max = unknown).
    public func sizes(of tree: ObjectID) -> [UInt64]? {
        guard let raw = readFile("\(root)/sizes/\(tree.hex)"), raw.count % 8 == 0 else { return nil }
        return stride(from: 0, to: raw.count, by: 8).map { offset in
            raw[offset..<(offset + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        }
    }

    /// Whether the size table of `tree` is stored, without reading it.
    public func hasSizes(of tree: ObjectID) -> Bool { access("\(root)/sizes/\(tree.hex)", F_OK) == 0 }

    public func storeSizes(_ sizes: [UInt64], of tree: ObjectID) throws(Errno) {
        var raw: [UInt8] = []
        raw.reserveCapacity(sizes.count * 8)
        for size in sizes { for shift in stride(from: 0, to: 64, by: 8) { raw.append(UInt8(truncatingIfNeeded: size >> UInt64(shift))) } }
        try atomicWrite("\(root)/sizes/\(tree.hex)", raw)
    }

    public func isComplete(_ commit: ObjectID) -> Bool { access("\(root)/complete/\(commit.hex)", F_OK) == 0 }
    public func markComplete(_ commit: ObjectID) throws(Errno) { try atomicWrite("\(root)/complete/\(commit.hex)", []) }

    /// The commit `ref` of `url` resolved to last time.
    public func cachedRef(url: String, ref: String) -> ObjectID? {
        guard let raw = readFile(refPath(url: url, ref: ref)) else { return nil }
        return ObjectID(hex: String(decoding: raw.prefix(40), as: UTF8.self))
    }

    public func storeRef(url: String, ref: String, commit: ObjectID) throws(Errno) {
        let directory = "\(root)/refs/\(fnv(url))"
        try Self.makeDirectoryIfMissing(directory)
        try atomicWrite(refPath(url: url, ref: ref), Array(commit.hex.utf8))
    }

    private func refPath(url: String, ref: String) -> String {
        "\(root)/refs/\(fnv(url))/\(ref.replacingOccurrences(of: "/", with: "%"))"
    }

    private func fnv(_ text: String) -> String { String(fnv1a(text.utf8), radix: 16) }

    /// mkdir(2) that accepts an existing directory.
    private static func makeDirectoryIfMissing(_ path: String) throws(Errno) {
        if mkdir(path, 0o755) != 0 && Glibc.errno != EEXIST { throw Errno(rawValue: Glibc.errno) }
    }

    /// Writes `bytes` to tmp/ and renames the file to `path`; on failure (a full disk) nothing
    /// is left behind.
    private func atomicWrite(_ path: String, _ bytes: [UInt8]) throws(Errno) {
        let temporary = "\(root)/tmp/\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = try FileDescriptor(rawValue: AT_FDCWD_VALUE).open(at: Array(temporary.utf8), flags: O_WRONLY_VALUE | O_CREAT_VALUE | O_EXCL_VALUE, mode: 0o444)
        do {
            defer { fd.closeQuietly() }
            try typedErrno { try bytes.withUnsafeBytes { try fd.writeAll($0) } }
        } catch {
            unlink(temporary)
            throw error
        }
        do {
            try retryingVoid { rename(temporary, path) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    private func readFile(_ path: String) -> [UInt8]? {
        readFile(Array(path.utf8), in: FileDescriptor(rawValue: AT_FDCWD_VALUE))
    }

    private func readFile(_ path: [UInt8], in directory: FileDescriptor) -> [UInt8]? {
        guard let fd = try? directory.open(at: path, flags: O_RDONLY_VALUE) else { return nil }
        defer { fd.closeQuietly() }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd.rawValue, $0.baseAddress, $0.count) }
            if count < 0 && Glibc.errno == EINTR { continue }
            if count <= 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }
}
