// Control requests through extended attributes of the mount, for `scorpio-provider prefetch`
// (a separate process that can only reach the daemon through the mount):
//   getxattr user.scorpio.prefetch   on a path: fetch everything below it in bulk, then answer
//                                    "fetched=N" (N objects); an old daemon answers ENODATA
//   getxattr user.scorpio.progress   "objects=N bytes=M inflight=K": what the lazy layers fetched
//                                    so far, and how many objects they are fetching now
//   setxattr user.scorpio.cancel     stops every bulk prefetch running now: each answers at once,
//                                    its batches already requested finish in the background
// They are never stored, listed or copied up.
import FUSEWire
import Synchronization
import SystemPackage

enum ControlAttribute {
    case prefetch, progress, cancel

    init?(_ name: [UInt8]) {
        switch name {
        case Array("user.scorpio.prefetch".utf8): self = .prefetch
        case Array("user.scorpio.progress".utf8): self = .progress
        case Array("user.scorpio.cancel".utf8): self = .cancel
        default: return nil
        }
    }

    /// The size answered to a size query (a getxattr with no buffer): a size query must not
    /// start the work itself.
    static let answerCapacity = 64
}

extension OverlayFileSystem {
    /// Answers a control getxattr into `buffer`.
    func controlRead(_ control: ControlAttribute, inode: InodeNumber, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        if buffer.count == 0 { return ControlAttribute.answerCapacity }
        let answer: String
        switch control {
        case .prefetch:
            let (_, path) = try locate(inode)
            let generation = cancelGeneration.load(ordering: .acquiring)
            var fetched = 0
            for lower in lowers {
                do {
                    fetched += try lower.prefetchSubtree(path) { cancelGeneration.load(ordering: .acquiring) != generation }
                } catch .noSuchFileOrDirectory {
                    continue  // this path does not exist in that layer
                } catch .notDirectory {
                    continue
                }
            }
            answer = "fetched=\(fetched)"
        case .progress:
            let totals = lowers.reduce((0, 0, 0)) { sum, layer in
                let layerTotals = layer.fetchedTotals
                return (sum.0 + layerTotals.objects, sum.1 + layerTotals.bytes, sum.2 + layerTotals.inFlight)
            }
            answer = "objects=\(totals.0) bytes=\(totals.1) inflight=\(totals.2)"
        case .cancel:
            throw .noData
        }
        let bytes = Array(answer.utf8)
        guard bytes.count <= buffer.count else { throw .outOfRange }
        bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return bytes.count
    }

    /// Handles a control setxattr.
    func controlWrite(_ control: ControlAttribute) throws(Errno) {
        guard case .cancel = control else { throw .notPermitted }
        cancelGeneration.wrappingAdd(1, ordering: .acquiringAndReleasing)
    }
}
