// UNLINK and RMDIR. The upper copy (if any) is removed; when a lower layer still has the name,
// a whiteout takes its place so the lower copy stays hidden.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    public func unlink(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno) {
        try changingNamespace(in: [parent]) { () throws(Errno) in
            let (directory, path) = try locateDirectory(parent)
            guard let target = try resolve(name, in: path, layers: directory.directoryLayers) else { throw .noSuchFileOrDirectory }
            if target.stat.fileType == .directory { throw .isDirectory }
            try removeVisible(name, in: parent, directory: directory, path: path, target: target)
        }
    }

    public func removeDirectory(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8]) throws(Errno) {
        try changingNamespace(in: [parent]) { () throws(Errno) in
            let (directory, path) = try locateDirectory(parent)
            guard let target = try resolve(name, in: path, layers: directory.directoryLayers) else { throw .noSuchFileOrDirectory }
            guard target.stat.fileType == .directory else { throw .notDirectory }
            let childPath = join(path, name)
            if try !mergedListing(path: childPath, layers: [target.layer] + target.lowerDirectories).isEmpty {
                throw .directoryNotEmpty
            }
            if target.layer == 0 { try removeWhiteouts(in: childPath) }
            try removeVisible(name, in: parent, directory: directory, path: path, target: target)
        }
    }

    /// Removes the visible object `name` and leaves a whiteout if a lower layer has the name.
    private func removeVisible(_ name: [UInt8], in parent: InodeNumber, directory: Node, path: [UInt8], target: Resolved) throws(Errno) {
        let needsWhiteout = lowerHasEntry(name, in: path, layers: directory.directoryLayers)
        let childPath = join(path, name)
        if target.stat.fileType != .directory { keepUnlinkedReachable(parent: parent, name: name, path: childPath) }
        if target.layer == 0 {
            // A crash between these two steps shows the lower copy again; it never loses data.
            try upper.root.remove(at: childPath, directory: target.stat.fileType == .directory)
            if needsWhiteout { try upper.makeWhiteout(childPath) }
        } else {
            try copyUp(parent)
            try upper.makeWhiteout(childPath)
        }
        state.withLock { $0.table.markUnlinked(parent: parent, name: name) }
    }

    /// Deletes the whiteouts left in an upper directory that is about to be removed.
    func removeWhiteouts(in path: [UInt8]) throws(Errno) {
        for entry in try upper.list(path) where entry.direntType == 2 {  // DT_CHR
            let entryPath = join(path, entry.name)
            if let stat = try? upper.stat(entryPath), OverlayFormat.isWhiteout(stat) {
                try upper.root.remove(at: entryPath, directory: false)
            }
        }
    }
}
