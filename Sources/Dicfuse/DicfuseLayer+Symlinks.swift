// Symlink targets are blob contents, and `ls -l`, `ls -lR` and `find -printf %l` read them. A
// read's miss fetches its small siblings along (the program is likely to read them next); a
// readlink's miss must not, or `ls -lR` of a tree with symlinks would fetch file contents.
// It fetches other symlinks instead: those of its directory and, the first time, those of
// every tree the store holds, in the same request, so listing a whole tree costs one request
// for its symlinks and none for its files.
import ScorpioSys

extension DicfuseLayer {
    /// Symlinks fetched along with one readlink miss, at most.
    static var symlinkBatchLimit: Int { 4096 }
    /// Trees the first miss looks through for symlinks, at most.
    static var symlinkSweepTreeLimit: Int { 200_000 }

    /// The uncached symlinks to fetch along with the target `id` in the tree `parent`.
    func symlinksToPrefetch(along id: ObjectID, in parent: ObjectID) -> [ObjectID] {
        guard prefetch != .none else { return [] }
        var found: [ObjectID] = []
        var seen: Set<ObjectID> = [id]
        func take(_ entries: [TreeEntry]) -> Bool {
            for entry in entries where entry.kind == .symlink && !seen.contains(entry.id) {
                seen.insert(entry.id)
                guard store.cachedBlobSize(entry.id) == nil else { continue }
                found.append(entry.id)
                if found.count >= Self.symlinkBatchLimit { return false }
            }
            return true
        }
        guard let siblings = try? knownTree(parent), take(siblings) else { return found }
        guard !symlinkSweepDone.exchange(true, ordering: .relaxed) else { return found }
        // Only trees the store has: a lazy mount's other directories are not fetched for this.
        // They are parsed here and not kept: the tree cache that lookups use stays as it is.
        BlockingHint.willBlock()  // reading every tree takes a while: other requests go on
        var pending = [rootTree]
        var visited: Set<ObjectID> = []
        while let tree = pending.popLast(), visited.count < Self.symlinkSweepTreeLimit {
            guard visited.insert(tree).inserted else { continue }
            guard let entries = trees.withLock({ $0[tree] }) ?? store.metadata(tree).flatMap({ try? TreeParser.parse($0) }) else { continue }
            guard take(entries) else { break }
            for entry in entries where entry.kind == .directory { pending.append(entry.id) }
        }
        return found
    }
}
