// Mount-time work for a --repo layer: resolve the ref (or fall back to the ref cached last
// time when the remote is unreachable), and make sure every tree of the commit is in the
// store (`--trees eager`). A remount of a known commit needs no network at all.
import Logging
import ScorpioSys
import SystemPackage

/// What a Dicfuse layer is built from.
public struct DicfuseSource: Sendable {
    public let remote: GitRemote
    public let commit: ObjectID
    public let refName: String
}

public enum DicfuseSetup {
    /// Resolves `ref` on `repository` and fetches the commit's trees unless they are cached.
    public static func prepare(repository: String, ref: String?, store: ObjectStore, timeout: Double,
                               lazyTrees: Bool = false, logger: Logger) throws(RemoteError) -> DicfuseSource {
        let url = try RemoteURL(repository)
        let remote = GitRemote(url: url, timeout: timeout, logger: logger)
        let key = ref ?? "HEAD"
        let commit: ObjectID
        let refName: String
        let usable = { (commit: ObjectID) -> Bool in lazyTrees ? hasRootTree(commit, store) : hasAllTrees(commit, store) }
        if let ref, let id = ObjectID(hex: ref), usable(id) {
            (commit, refName) = (id, ref)  // a pinned, fully cached commit: no network at all
        } else {
            do {
                // With a usable cached ref, an unreachable remote falls back to it at once.
                let fallback = store.cachedRef(url: url.cacheKey, ref: key).map(usable) ?? false
                (commit, refName) = try RemoteRetry.run(logger: logger, attempts: fallback ? 1 : RemoteRetry.attempts) {
                    () throws(RemoteError) in try remote.resolve(ref: ref)
                }
                try? store.storeRef(url: url.cacheKey, ref: key, commit: commit)
            } catch let error where isConnectivity(error) {
                guard let cached = store.cachedRef(url: url.cacheKey, ref: key), usable(cached) else { throw error }
                logger.warning("remote unreachable; using the cached \(key) = \(cached.hex)", metadata: ["error": "\(error)"])
                (commit, refName) = (cached, key)
            }
        }
        if lazyTrees {
            if !hasRootTree(commit, store) {
                do {
                    let objects = try RemoteRetry.run(logger: logger) { () throws(RemoteError) in try remote.fetchCommitAndRootTree(commit) }
                    for object in objects where object.type != .blob { try store.store(object) }
                } catch let error as RemoteError {
                    throw error
                } catch {
                    throw cacheWriteError(store, error)
                }
            }
        } else if !hasAllTrees(commit, store) {
            let started = monotonicSeconds()
            // Each tree is stored as the pack yields it (verified; a failed fetch leaves valid
            // trees behind, which the next mount skips); the commit counts as complete only at
            // the end. A tree dropped from the delta bases is read back from the store.
            // A retry fetches the whole pack again; the trees stored so far are only rewritten.
            try RemoteRetry.run(logger: logger) { () throws(RemoteError) in
                try remote.fetchTrees(of: commit, loadBase: { id in store.metadata(id).map { GitObject(type: .tree, data: $0) } }) {
                    (object) throws(RemoteError) in
                    guard object.type != .blob else { return }
                    do {
                        try store.store(object)
                    } catch {
                        throw cacheWriteError(store, error)
                    }
                }
            }
            do {
                try store.markComplete(commit)
            } catch {
                throw cacheWriteError(store, error)
            }
            let counters = remote.counters
            logger.info("fetched the trees of \(commit.hex)", metadata: [
                "trees": "\(counters.trees)", "bytes": "\(counters.bytes)",
                "elapsed": "\(Int((monotonicSeconds() - started) * 1000)) ms",
            ])
        }
        return DicfuseSource(remote: remote, commit: commit, refName: refName)
    }

    /// Whether every tree of the commit is cached (enough for an eager mount): marked complete
    /// by an eager mount, or found complete by walking them, as a lazy mount that listed
    /// everything leaves them; the walk then marks the commit complete.
    private static func hasAllTrees(_ commit: ObjectID, _ store: ObjectStore) -> Bool {
        if store.isComplete(commit) { return true }
        guard let root = rootTree(of: commit, store) else { return false }
        var pending = [root]
        var seen: Set<ObjectID> = []
        while let tree = pending.popLast() {
            guard seen.insert(tree).inserted else { continue }
            guard let data = store.metadata(tree), let entries = try? TreeParser.parse(data) else { return false }
            for entry in entries where entry.kind == .directory { pending.append(entry.id) }
        }
        try? store.markComplete(commit)
        return true
    }

    /// Whether the commit and its root tree are cached (enough to start a lazy mount).
    private static func hasRootTree(_ commit: ObjectID, _ store: ObjectStore) -> Bool {
        rootTree(of: commit, store).flatMap { store.metadata($0) } != nil
    }

    /// The root tree of a cached commit.
    private static func rootTree(of commit: ObjectID, _ store: ObjectStore) -> ObjectID? {
        guard let raw = store.metadata(commit), let parsed = try? Commit.parse(raw) else { return nil }
        return parsed.tree
    }

    private static func cacheWriteError(_ store: ObjectStore, _ error: any Error) -> RemoteError {
        .storage("cannot write the cache in \(store.root): \(error)")
    }

    private static func isConnectivity(_ error: RemoteError) -> Bool {
        switch error {
        case .transport, .timedOut: true
        default: false
        }
    }
}
