// Keeping a walk's fetches ahead of it, like the kernel's readahead mark (PG_readahead): the
// first blobs of the window fetched ahead of a walk are its markers, and opening one of them
// (the walk has reached that window) starts fetching the next window. Without it, a walk that
// read faster than its misses came stopped fetching as soon as it found content cached: its
// next miss came after a pause long enough to end the walk, and its batches started small
// again (a cold `tar` spent seconds on batches of a few hundred blobs near its end).
import ScorpioSys
import Synchronization

/// Where a walk's next window is planned from: a blob, its directory and its path.
struct WalkAnchor: Sendable {
    var id: ObjectID
    var parent: ObjectID
    var path: [UInt8]
}

extension DicfuseLayer {
    /// How many of a window's first blobs are markers: enough to span its first directories,
    /// whose files a walk opens in listing order rather than the window's tree order.
    static let walkMarkerCount = 32

    /// Makes the first blobs of `window` the walk's markers.
    func setWalkMarkers(_ window: [ObjectID]) {
        walkMarkers.withLock { markers in
            markers = Set(window.prefix(Self.walkMarkerCount))
            hasWalkMarkers.store(!markers.isEmpty, ordering: .relaxed)
        }
    }

    /// An open of blob `id` at `path`: if it is a marker, the walk reached the window fetched
    /// ahead, so fetch the one after it, and count the walk as going on.
    func noteWalkProgress(_ id: ObjectID, in parent: ObjectID, path: [UInt8]) {
        guard hasWalkMarkers.load(ordering: .relaxed) else { return }
        let reached = walkMarkers.withLock { markers -> Bool in
            guard markers.contains(id) else { return false }
            markers.removeAll()
            hasWalkMarkers.store(false, ordering: .relaxed)
            return true
        }
        guard reached else { return }
        // A walk that reads through a whole window and on is a long one: full-sized windows
        // from here (small ones made a request per 256 blobs).
        walkBudget.store(Self.walkBlobLimit, ordering: .relaxed)
        let allowance = Self.walkWindowNanoseconds + Int64(Self.walkBlobLimit) * Self.walkReadNanosecondsPerBlob
        walkDeadline.store(monotonicNanoseconds() + allowance, ordering: .relaxed)
        logger.debug("walk reached the window fetched ahead; fetching the next", metadata: ["path": "\(String(decoding: path, as: UTF8.self))"])
        startWalkAhead(of: id, in: parent, path: path)
    }
}
