// Where a walk goes next, for DiskReadAhead: after a read of `path` missed the page cache, the
// blobs of its directory, then of the directories the walk reaches after it (each one's own
// files, then its subdirectories depth first, in the order the mount lists them).
import Overlay

extension DicfuseLayer {
    public var readsAhead: Bool { true }

    public func contentMissedPageCache(_ path: [UInt8]) {
        // Planning reads trees and size tables, from disk too: on a thread of its own, so the
        // request that missed goes on at once.
        readAhead.plan { [self] in plannedReadAhead(from: path) }
    }

    /// The blobs of the next window, and on the way the trees and size tables the walk's
    /// LOOKUPs will ask for (read here, they come from memory then).
    private func plannedReadAhead(from path: [UInt8]) -> [ObjectID] {
        guard let (_, parent, _) = try? locate(path) else { return [] }
        var blobs: [ObjectID] = []
        var stack = Array(walkNeighbours(of: path).reversed()) + [parent]
        var visited = 0
        while blobs.count < DiskReadAhead.window, visited < 4 * DiskReadAhead.window, let directory = stack.popLast() {
            visited += 1
            // A directory read ahead before is skipped with its subtree: the walk's later
            // misses plan from deeper paths, whose neighbours cover what a window left out.
            guard readAhead.claim(directory), let entries = try? knownTree(directory) else { continue }
            _ = sizes(of: directory)
            blobs += entries.lazy.filter(\.isBlob).map(\.id)
            stack += inListingOrder(entries.filter { $0.kind == .directory }).reversed()
        }
        logger.debug("reading blobs ahead", metadata: ["blobs": "\(blobs.count)", "directories": "\(visited)",
                                                       "after": "\(String(decoding: path, as: UTF8.self))"])
        return blobs
    }
}
