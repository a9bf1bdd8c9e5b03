// Merged directory listings kept between READDIR calls. The kernel caches a whole listing
// itself once read, so this only has to span the calls of one read of a large directory; a
// small bound with wholesale clearing is enough, and no node has to be kept alive for it.
// A change to a directory's names drops its listing (and only its: a big directory read while
// files come and go elsewhere is not merged again for every call).
import FUSEWire

struct ListingCache {
    static let capacity = 64

    static let recentChangeLimit = 256

    private var listings: [InodeNumber: [DirectoryEntry]] = [:]
    /// Changes so far, and the directories of the latest ones (oldest first): a listing merged
    /// while its directory changed must not be stored, or it would hide the change.
    private(set) var changeCount: UInt64 = 0
    private var recentChanges: [(count: UInt64, node: InodeNumber)] = []

    func entries(of node: InodeNumber) -> [DirectoryEntry]? { listings[node] }

    /// Stores a listing merged after change `start`, unless `node` changed since (or too many
    /// changes happened to tell).
    mutating func store(_ entries: [DirectoryEntry], of node: InodeNumber, mergedAfter start: UInt64) {
        if changeCount != start {
            guard let oldest = recentChanges.first, oldest.count <= start + 1 else { return }
            if recentChanges.contains(where: { $0.count > start && $0.node == node }) { return }
        }
        if listings.count >= Self.capacity, listings[node] == nil { listings.removeAll(keepingCapacity: true) }
        listings[node] = entries
    }

    /// `node`'s names changed: drop its listing.
    mutating func forget(_ node: InodeNumber) {
        listings[node] = nil
        changeCount += 1
        recentChanges.append((changeCount, node))
        if recentChanges.count > Self.recentChangeLimit { recentChanges.removeFirst(recentChanges.count - Self.recentChangeLimit) }
    }
}
