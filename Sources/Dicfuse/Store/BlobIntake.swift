// Storing the blobs of a fetched pack while it is parsed. Each blob is stored as soon as the pack
// yields it (PackParser.stream), so a request holds its compressed pack and a bounded set of
// delta bases in memory, not all of its content. When the pack turns out bad, the server left
// out a blob asked for, or the disk fills, the blobs this pack added are removed again: nothing
// from a rejected pack stays cached. Every stored blob was verified against its id first, so a
// reader that opened one meanwhile read correct content.

/// Stores fetched packs' blobs into the content store.
enum BlobIntake {
    /// What a pack brought: the blobs in it (stored now, or by another writer before) and their bytes.
    struct Received {
        var ids: [ObjectID] = []
        var bytes = 0
    }

    /// Stores every blob of `pack` and checks that each of `wanted` was among them.
    /// Throws RemoteError.pack for a rejected pack, or the Errno of a failed store.
    static func store(_ pack: [UInt8], wanted: [ObjectID], in store: ObjectStore, baseCacheBytes: Int) throws -> Received {
        var received = Received()
        var added: [ObjectID] = []
        do {
            try PackParser.stream(pack, baseCacheBytes: baseCacheBytes, loadBase: { [store] id in
                store.blobContent(id).map { GitObject(type: .blob, data: $0) }
            }) { object in
                guard object.type == .blob else { return }
                if try store.store(object) { added.append(object.id) }
                received.ids.append(object.id)
                received.bytes += object.data.count
            }
            let got = Set(received.ids)
            if let missing = wanted.first(where: { !got.contains($0) }) {
                throw RemoteError.pack("the server did not send \(missing.hex)")
            }
        } catch {
            for id in added { store.removeBlob(id) }
            if let rejected = error as? PackError { throw RemoteError.pack("\(rejected)") }
            throw error
        }
        return received
    }
}
