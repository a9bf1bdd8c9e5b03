// Blob sizes without their content, for stat and listings: a size table per tree (its
// entries' sizes in order), from object-info where the server offers it (one request covers
// a directory and its neighbours), from cached blobs, or else by fetching the directory's
// blobs. Tables are stored and read once per directory.
import Logging
import ScorpioSys
import SystemPackage

extension DicfuseLayer {
    /// The size of blob `index` of `parent`.
    func blobSize(parent: ObjectID, index: Int, path: [UInt8]) throws(Errno) -> UInt64 {
        let entries = try tree(parent)
        let id = entries[index].id
        // A blob's size never changes, so a known one from the table is final; the table is
        // read once per directory (a stat of the cached blob would cost a syscall per file).
        if let sizes = sizes(of: parent), sizes.count == entries.count, sizes[index] != UInt64.max { return sizes[index] }
        if let size = store.cachedBlobSize(id) {
            // No table yet, but content is here (fetched by `prefetch` or siblings): when every
            // blob of the directory is, write the table from them, so the directory's other
            // entries do not each look for a table and stat their blob.
            tableFromCachedBlobs(of: parent, entries: entries)
            return size
        }
        try learnSizes(of: parent, entries: entries, path: path)
        if let size = store.cachedBlobSize(id) { return size }
        if let sizes = sizes(of: parent), sizes.count == entries.count, sizes[index] != UInt64.max { return sizes[index] }
        // The server answered for the directory but not for this blob: it does not have it.
        logger.error("the git server has no size for this blob (it does not have the object?)",
                     metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "object": "\(id.hex)"])
        throw .ioError
    }

    /// Fetches each blob on its own; one the server does not have gets a log line and stays
    /// unknown (its lookup fails with EIO, the rest of its directory works). Any other failure
    /// (the server gone, a timeout) ends the loop: it would repeat for every blob.
    private func fetchEachOf(_ ids: [ObjectID], from remote: GitRemote, path: [UInt8]) throws {
        for id in ids {
            do {
                try fetchAndStore([id], from: remote)
            } catch RemoteError.unsupported(let message) {
                logger.error("cannot fetch a blob to learn its size: \(message)",
                             metadata: ["listing": "\(String(decoding: path, as: UTF8.self))", "object": "\(id.hex)"])
            }
        }
    }

    /// Stores the size table of `parent` if every blob in it is in the content store.
    private func tableFromCachedBlobs(of parent: ObjectID, entries: [TreeEntry]) {
        var table: [UInt64] = []
        table.reserveCapacity(entries.count)
        for entry in entries {
            if !entry.isBlob { table.append(UInt64.max); continue }
            guard let size = store.cachedBlobSize(entry.id) else { return }
            table.append(size)
        }
        saveSizeTable(table, of: parent)
    }

    /// At most this many blob ids in one object-info request (about 800 KB of request).
    static let sizeBatchLimit = 16384

    /// Learns the sizes of every blob in one tree: object-info where the server offers it,
    /// otherwise by fetching the directory's blobs in batches (documented in the README).
    /// One request per tree however many lookups in it miss at once. With object-info the
    /// request also covers the directories next to this one whose sizes are not known yet,
    /// which a walk (`ls -lR`, `find`) lists next: it then asks once per directory that has
    /// subdirectories instead of once per directory.
    private func learnSizes(of parent: ObjectID, entries: [TreeEntry], path: [UInt8]) throws(Errno) {
        guard let remote else {
            logger.error("blob size unknown and no remote to ask", metadata: ["path": "\(String(decoding: path, as: UTF8.self))", "tree": "\(parent.hex)"])
            throw .ioError
        }
        // A lookup already in flight for this directory: wait for it, without looking at the
        // neighbours (a listing's entries ask here one after another).
        if let running = sizeLookups.withLock({ $0[parent] }) {
            try waitForFetch(running, object: parent, path: path)
            return
        }
        // Only where object-info is known to be there: a batch without it would fetch every
        // blob of the neighbours (and a first request learns the capabilities).
        let neighbours = remote.offersObjectInfo == true ? directories(nextTo: parent, holding: path) : []
        var lookups = [parent: SizeLookup(tree: parent, entries: entries)]
        for neighbour in neighbours { lookups[neighbour.tree] = neighbour }
        try sharedFetch(parent, along: neighbours.map(\.tree), in: .sizes, path: path) { [self, lookups] claimed, _ in
            learnSizes(claimed.compactMap { lookups[$0] }, from: remote, path: path)  // the parent first
        }
    }

    /// A tree whose blob sizes are being learned, with its entries.
    struct SizeLookup: Sendable {
        var tree: ObjectID
        var entries: [TreeEntry]
    }

    /// The other directories in the directory above `parent` (the tree holding the file at
    /// `path`) whose trees are stored and whose sizes are not, up to sizeBatchLimit blobs.
    private func directories(nextTo parent: ObjectID, holding path: [UInt8]) -> [SizeLookup] {
        let slash = UInt8(ascii: "/")
        guard let end = path.lastIndex(of: slash) else { return [] }  // parent is the root
        let directory = path[..<end]
        let holder = directory.lastIndex(of: slash).map { try? directoryTree(directory[..<$0]) } ?? rootTree
        guard let holder, let holderEntries = (try? knownTree(holder)) ?? nil else { return [] }
        var found: [SizeLookup] = []
        var blobs = 0
        for entry in holderEntries where entry.kind == .directory && entry.id != parent && !store.hasSizes(of: entry.id) {
            guard let entries = (try? knownTree(entry.id)) ?? nil else { continue }  // never fetched here
            blobs += entries.count
            if blobs > Self.sizeBatchLimit { break }
            found.append(SizeLookup(tree: entry.id, entries: entries))
        }
        return found
    }

    /// Asks for the sizes of the claimed trees' blobs (or, without object-info, fetches the
    /// first tree's blobs) and stores their size tables; returns the failure.
    private func learnSizes(_ lookups: [SizeLookup], from remote: GitRemote, path: [UInt8]) -> Errno? {
        do {
            let answered = try withRetries { () throws(RemoteError) in
                try storeSizesFromObjectInfo(lookups, from: remote, isCached: { store.cachedBlobSize($0) != nil })
            }
            if answered { return nil }
            // No object-info (neighbours are claimed only with it): the directory's own blobs.
            var seen = Set<ObjectID>()
            let blobs = lookups[0].entries.filter { $0.isBlob && seen.insert($0.id).inserted && store.cachedBlobSize($0.id) == nil }.map(\.id)
            for start in stride(from: 0, to: blobs.count, by: Self.batchLimit) {
                let batch = Array(blobs[start..<min(start + Self.batchLimit, blobs.count)])
                do {
                    try fetchAndStore(batch, from: remote)
                } catch RemoteError.unsupported where batch.count > 1 {
                    // The server lacks one of them (it names no object): fetch one by one, so
                    // one lost blob does not leave its whole directory without sizes.
                    try fetchEachOf(batch, from: remote, path: path)
                }
            }
            storeSizeTable(of: lookups[0].tree, entries: lookups[0].entries, known: [:])
            return nil
        } catch let error as RemoteError {
            let name = path.split(separator: UInt8(ascii: "/")).last.map(Array.init)
            logger.error("cannot learn blob sizes: \(error)", metadata: ["path": "\(String(decoding: path, as: UTF8.self))",
                "object": "\(lookups[0].entries.first { $0.name == name }?.id.hex ?? "")", "tree": "\(lookups[0].tree.hex)"])
            return .ioError
        } catch let error as Errno {
            return error
        } catch {
            return .ioError
        }
    }

    /// Asks object-info for the sizes of the blobs of `lookups` that are not cached and
    /// stores the size tables (cached blobs' sizes come from the content store). No request
    /// when every blob is cached. False when the server has no object-info: nothing stored.
    func storeSizesFromObjectInfo(_ lookups: [SizeLookup], from remote: GitRemote,
                                  isCached: (ObjectID) -> Bool) throws(RemoteError) -> Bool {
        var missing: [ObjectID] = []
        var seen = Set<ObjectID>()
        for lookup in lookups {
            for entry in lookup.entries where entry.isBlob && seen.insert(entry.id).inserted && !isCached(entry.id) {
                missing.append(entry.id)
            }
        }
        var known: [ObjectID: UInt64] = [:]
        if !missing.isEmpty {
            BlockingHint.willBlock()
            guard let answered = try remote.objectSizes(missing) else { return false }
            known = answered
        }
        for lookup in lookups { storeSizeTable(of: lookup.tree, entries: lookup.entries, known: known) }
        return true
    }

    /// Writes the size table of `tree`: sizes from `known`, else from the content store, else
    /// unknown (UInt64.max, also for entries that are not blobs). A blob's size never changes,
    /// so either source is right; `known` saves a stat.
    func storeSizeTable(of tree: ObjectID, entries: [TreeEntry], known: [ObjectID: UInt64]) {
        let table = entries.map { entry -> UInt64 in
            guard entry.isBlob else { return UInt64.max }
            return known[entry.id] ?? store.cachedBlobSize(entry.id) ?? UInt64.max
        }
        saveSizeTable(table, of: tree)
    }

    /// Persists a size table and drops its memoized copy.
    func saveSizeTable(_ table: [UInt64], of tree: ObjectID) {
        try? store.storeSizes(table, of: tree)
        forgetSizes(of: tree)
    }

    /// Known sizes of a tree's entries in order; UInt64.max where unknown (and for non-blobs).
    func blobSizes(of tree: ObjectID, entries: [TreeEntry]) -> [UInt64] {
        if let sizes = self.sizes(of: tree), sizes.count == entries.count { return sizes }
        return Array(repeating: UInt64.max, count: entries.count)
    }
}
