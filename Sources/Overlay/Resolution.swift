// Finding a name in a (possibly merged) directory: upper first, then each lower in order.
// A whiteout ends the search; a directory keeps collecting same-named lower directories until
// one is opaque, a non-directory, or a whiteout (kernel overlayfs lookup rules).
import ScorpioSys
import SystemPackage

/// Where a name was found.
struct Resolved {
    var layer: LayerIndex
    var stat: FileStat
    var lowerDirectories: [LayerIndex]
    /// For a copied-up upper object: the st_ino it had in its lower layer.
    var origin: UInt64? = nil
    var key: HostKey { HostKey(layer: layer, device: stat.device, inode: stat.inode) }
}

extension OverlayFileSystem {
    /// The layer with index `index` (0 upper, then lowers).
    @inline(__always) func layer(_ index: LayerIndex) -> any ReadableLayer {
        index == 0 ? upper : lowers[index - 1]
    }

    /// Looks `name` up under the directory at `directoryPath` that exists in `layers`.
    /// Returns nil when the name does not exist or is whited out.
    func resolve(_ name: [UInt8], in directoryPath: [UInt8], layers: [LayerIndex]) throws(Errno) -> Resolved? {
        let path = join(directoryPath, name)
        for (position, index) in layers.enumerated() {
            var stat: FileStat
            do { stat = try layer(index).stat(path) } catch .noSuchFileOrDirectory { continue } catch .notDirectory { continue }
            if OverlayFormat.isWhiteout(stat) { return nil }
            let record = index == 0 ? OverlayFormat.originRecord(upper, path) : nil
            if let record, !record.complete {
                repairCopyUp(path, origin: record.inode, lowers: layers[(position + 1)...], type: stat.fileType)
                stat = (try? layer(index).stat(path)) ?? stat  // with the repaired metadata
            }
            let origin = record?.inode
            guard stat.fileType == .directory else {
                return Resolved(layer: index, stat: stat, lowerDirectories: [], origin: origin)
            }
            var merged: [LayerIndex] = []
            if !OverlayFormat.isOpaque(layer(index), path) {
                for below in layers[(position + 1)...] {
                    let lowerStat: FileStat
                    do { lowerStat = try layer(below).stat(path) } catch .noSuchFileOrDirectory { continue } catch .notDirectory { continue }
                    if lowerStat.fileType != .directory { break }  // a whiteout or a file ends the merge
                    merged.append(below)
                    if OverlayFormat.isOpaque(layer(below), path) { break }
                }
            }
            return Resolved(layer: index, stat: stat, lowerDirectories: merged, origin: origin)
        }
        return nil
    }

    /// Whether any lower layer among `layers` has an entry (even a whiteout) named `name`
    /// under `directoryPath`; then removing the upper entry must leave a whiteout.
    func lowerHasEntry(_ name: [UInt8], in directoryPath: [UInt8], layers: [LayerIndex]) -> Bool {
        let path = join(directoryPath, name)
        for index in layers where index != 0 {
            if let stat = try? layer(index).stat(path) {
                return !OverlayFormat.isWhiteout(stat)
            }
        }
        return false
    }

    /// st_ino for a host file: unique across layers (the layer index in the top byte, as
    /// overlayfs's xino does), stable while the file stays where it is.
    func reportedInode(layer index: LayerIndex, inode: UInt64) -> UInt64 {
        index == 0 ? inode : (inode & 0x00FF_FFFF_FFFF_FFFF) | UInt64(index) << 56
    }
}
