// Storing the blobs of a fetched pack while it arrives. Each blob is stored as soon as the pack
// yields it (PackStream), so a request holds the bytes not parsed yet and a bounded set of delta
// bases in memory, not its pack or all of its content, and the first blobs of a large request
// are on disk before its last ones are sent. When the pack turns out bad (including its
// trailer, checked last), the server left out a blob asked for, or the disk fills, the blobs
// this pack added are removed again: nothing from a rejected pack stays cached. Every stored
// blob was verified against its id first, so a reader that opened one meanwhile read correct
// content.
import SystemPackage

/// Stores one fetched pack's blobs into the content store. A class: the pack stream's delivery
/// updates what was kept while the stream itself is being modified. Used by one thread.
final class BlobIntake {
    /// The blobs of the pack (stored now, or by another writer before) and their bytes.
    private(set) var ids: [ObjectID] = []
    private(set) var bytes = 0
    private let store: ObjectStore
    private let wanted: [ObjectID]
    private let baseCacheBytes: Int
    private var stream: PackStream
    /// Blobs this pack stored that were not cached before: what a rejection removes.
    private var added: [ObjectID] = []

    /// Learns each blob as soon as it is stored (requests waiting for it go on).
    private let arrived: (ObjectID) -> Void

    init(wanted: [ObjectID], store: ObjectStore, baseCacheBytes: Int, arrived: @escaping (ObjectID) -> Void = { _ in }) {
        self.wanted = wanted
        self.arrived = arrived
        self.store = store
        self.baseCacheBytes = baseCacheBytes
        stream = Self.newStream(store, baseCacheBytes)
    }

    private static func newStream(_ store: ObjectStore, _ baseCacheBytes: Int) -> PackStream {
        PackStream(baseCacheBytes: baseCacheBytes) { id in store.blobContent(id).map { GitObject(type: .blob, data: $0) } }
    }

    /// More of the pack.
    /// - Throws: `.pack` for a bad pack; also when a store failed, which `storeFailure` then holds.
    func append(_ chunk: ArraySlice<UInt8>) throws(RemoteError) {
        try reporting { () throws in try stream.append(chunk) { object throws in try keep(object) } }
    }

    /// The pack has arrived: checks it to its end and that every wanted blob came.
    func finish() throws(RemoteError) {
        try reporting { () throws in try stream.finish { object throws in try keep(object) } }
        let got = Set(ids)
        if let missing = wanted.first(where: { !got.contains($0) }) {
            throw .pack("the server did not send \(missing.hex)")
        }
    }

    /// Why storing a blob failed (a full disk), when it did.
    private(set) var storeFailure: Errno?

    /// Removes what this pack added and starts over (a rejected pack, or a retried request).
    func discard() {
        for id in added { store.removeBlob(id) }
        added = []
        ids = []
        bytes = 0
        stream = Self.newStream(store, baseCacheBytes)
    }

    private func keep(_ object: GitObject) throws {
        guard object.type == .blob else { return }
        if try store.store(object) { added.append(object.id) }
        arrived(object.id)
        ids.append(object.id)
        bytes += object.data.count
    }

    /// Runs a step of the stream, turning its errors into RemoteError.
    private func reporting(_ body: () throws -> Void) throws(RemoteError) {
        do {
            try body()
        } catch let rejected as PackError {
            throw .pack("\(rejected)")
        } catch let failure as Errno {
            storeFailure = failure
            throw .pack("cannot store a blob: \(failure)")
        } catch {
            throw .pack("\(error)")  // unreachable: the stream throws PackError, storing Errno
        }
    }

    /// Stores a whole pack (one that arrived by other means): as append + finish, discarding
    /// what it added when it fails.
    static func store(_ pack: [UInt8], wanted: [ObjectID], in store: ObjectStore, baseCacheBytes: Int) throws -> BlobIntake {
        let intake = BlobIntake(wanted: wanted, store: store, baseCacheBytes: baseCacheBytes)
        try intake.undoingOnFailure {
            try intake.append(pack[...])
            try intake.finish()
        }
        return intake
    }

    /// Runs the receiving of a pack (append and finish, over whatever transport). When it
    /// fails, removes what the pack added and throws why: the Errno of a failed store (a full
    /// disk), else the error itself.
    func undoingOnFailure(_ receive: () throws -> Void) throws {
        do {
            try receive()
        } catch {
            discard()
            if let failure = storeFailure { throw failure }
            throw error
        }
    }
}
