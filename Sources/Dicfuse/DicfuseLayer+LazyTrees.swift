// `--trees lazy`: trees fetched on first lookup of their directory, in one request with the
// missing trees of the directories next to it, shared by every thread that needs one of them.
import Logging
import SystemPackage

extension DicfuseLayer {
    /// At most this many trees in one lazy tree request.
    static let treeBatchLimit = 2048

    /// `--trees lazy`: fetches a missing tree into the store once however many threads ask,
    /// with the other missing subdirectory trees of its directory (`siblings`, that
    /// directory's entries) in the same request. A walk then asks once per directory that has
    /// subdirectories instead of once per directory. A thread that needs any tree of the
    /// batch waits for it, and goes on as soon as that tree is stored.
    func fetchTreeOnce(_ id: ObjectID, siblings: [TreeEntry] = []) throws(Errno) {
        guard let remote else { throw .ioError }
        var candidates: [ObjectID] = []
        for entry in siblings where entry.kind == .directory && entry.id != id {
            if candidates.count >= Self.treeBatchLimit - 1 { break }
            if !store.hasMetadata(entry.id) { candidates.append(entry.id) }
        }
        try sharedFetch(id, along: candidates, in: .objects, path: nil, unlessDone: { store.hasMetadata(id) }) { [self] claimed, waiter in
            fetchTrees(claimed, from: remote, arrived: waiter.noteArrived)
        }
    }

    /// Fetches trees in one request and stores each as it arrives; returns the failure.
    /// A tree stored before a failure stays: it was verified, and the next lookup uses it.
    private func fetchTrees(_ ids: [ObjectID], from remote: GitRemote, arrived: @escaping (ObjectID) -> Void) -> Errno? {
        var storeFailure: Errno? = nil
        do {
            try withRetries { () throws(RemoteError) in
                try remote.fetchTrees(ids, loadBase: { [store] id in store.metadata(id).map { GitObject(type: .tree, data: $0) } }) {
                    (tree) throws(RemoteError) in
                    do throws(Errno) {
                        try store.store(tree)
                    } catch {
                        storeFailure = error
                        throw .storage("cannot store \(tree.id.hex): \(error)")
                    }
                    arrived(tree.id)
                }
            }
            return nil
        } catch {
            if let storeFailure {
                logger.error("cannot store fetched trees: \(storeFailure)", metadata: ["object": "\(ids[0].hex)"])
                return storeFailure
            }
            logger.error("cannot fetch trees: \(error)", metadata: ["object": "\(ids[0].hex)", "batch": "\(ids.count)"])
            return .ioError
        }
    }
}
