// RENAME and RENAME2 (RENAME_NOREPLACE, RENAME_EXCHANGE). The source is copied up first; a
// directory that merges lower contents is copied up as a whole tree and made opaque (we chose
// copy-up over overlayfs's redirect xattrs: the upper stays readable by any overlayfs mount and
// by plain tools). Where the source name still exists in a lower layer, a whiteout is left
// behind, atomically with RENAME_WHITEOUT when we run as root.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    public func rename(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], newParent: InodeNumber,
                       newName: [UInt8], flags: UInt32) throws(Errno) {
        let requested = RenameFlags(rawValue: flags)
        guard requested.subtracting([.noReplace, .exchange]).isEmpty,
              !(requested.contains(.noReplace) && requested.contains(.exchange)) else { throw .invalidArgument }
        defer { invalidateChangedAttributes(ctx) }  // names of lower hard links in a tree copied up
        try changingNamespace(in: [parent, newParent]) { () throws(Errno) in
            let (sourceDirectory, sourceDirectoryPath) = try locateDirectory(parent)
            let (targetDirectory, targetDirectoryPath) = try locateDirectory(newParent)
            guard let source = try resolve(name, in: sourceDirectoryPath, layers: sourceDirectory.directoryLayers) else {
                throw .noSuchFileOrDirectory
            }
            let target = try resolve(newName, in: targetDirectoryPath, layers: targetDirectory.directoryLayers)
            if parent == newParent && name == newName { return }
            if requested.contains(.noReplace), target != nil { throw .fileExists }
            if requested.contains(.exchange) {
                guard let target else { throw .noSuchFileOrDirectory }
                try exchange(parent: parent, name: name, source: source, newParent: newParent, newName: newName, target: target)
                return
            }
            if let target {
                let sourceIsDirectory = source.stat.fileType == .directory
                let targetIsDirectory = target.stat.fileType == .directory
                if sourceIsDirectory && !targetIsDirectory { throw .notDirectory }
                if !sourceIsDirectory && targetIsDirectory { throw .isDirectory }
                if targetIsDirectory {
                    let targetPath = join(targetDirectoryPath, newName)
                    if try !mergedListing(path: targetPath, layers: [target.layer] + target.lowerDirectories).isEmpty {
                        throw .directoryNotEmpty
                    }
                    if target.layer == 0 { try removeWhiteouts(in: targetPath) }
                }
            }
            let sourcePath = try copyUpForRename(parent: parent, name: name, resolved: source)
            try copyUp(newParent)
            let targetPath = join(targetDirectoryPath, newName)
            if let target, target.stat.fileType != .directory {
                keepUnlinkedReachable(parent: newParent, name: newName, path: targetPath)
            }
            if let existing = try? upper.stat(targetPath), OverlayFormat.isWhiteout(existing) {
                try upper.root.remove(at: targetPath, directory: false)
            }
            let needsWhiteout = lowerHasEntry(name, in: sourceDirectoryPath, layers: sourceDirectory.directoryLayers)
            if needsWhiteout && runningAsRoot {
                try upper.root.rename(from: sourcePath, to: targetPath, flags: .whiteout)
            } else {
                try upper.root.rename(from: sourcePath, to: targetPath)
                if needsWhiteout { try upper.makeWhiteout(sourcePath) }
            }
            markImpureIfCopiedUp(targetPath, in: targetDirectoryPath)
            state.withLock { s in
                s.table.markUnlinked(parent: newParent, name: newName)
                s.table.move(from: NameKey(parent: parent, name: name), to: NameKey(parent: newParent, name: newName))
            }
        }
    }

    /// RENAME_EXCHANGE: both sides copied up, swapped in one renameat2 call.
    private func exchange(parent: InodeNumber, name: [UInt8], source: Resolved, newParent: InodeNumber,
                          newName: [UInt8], target: Resolved) throws(Errno) {
        let sourcePath = try copyUpForRename(parent: parent, name: name, resolved: source)
        let targetPath = try copyUpForRename(parent: newParent, name: newName, resolved: target)
        try upper.root.rename(from: sourcePath, to: targetPath, flags: .exchange)
        markImpureIfCopiedUp(targetPath, in: parentPath(of: targetPath))
        markImpureIfCopiedUp(sourcePath, in: parentPath(of: sourcePath))
        state.withLock { s in
            let first = NameKey(parent: parent, name: name), second = NameKey(parent: newParent, name: newName)
            let parked = NameKey(parent: InodeNumber(0), name: name)
            s.table.move(from: first, to: parked)
            s.table.move(from: second, to: first)
            s.table.move(from: parked, to: second)
        }
    }

    /// Copies a rename's source (or exchange partner) into the upper layer. A directory becomes
    /// complete and opaque there, and every known node inside it now lives in the upper.
    private func copyUpForRename(parent: InodeNumber, name: [UInt8], resolved: Resolved) throws(Errno) -> [UInt8] {
        var temporaryReference = false
        let id: InodeNumber
        if let known = state.withLock({ $0.table.child(of: parent, named: name) }) {
            id = known
        } else {
            id = makeEntry(parent: parent, name: name, resolved: resolved).inode
            temporaryReference = true
        }
        defer { if temporaryReference { forget(id, count: 1) } }
        let path = try copyUp(id)
        // A file known under several names (an upper hard link) is renamed by the name the
        // request gives, not by the node's first name, which `copyUp` answers with.
        guard resolved.stat.fileType == .directory else { return join(try locateDirectory(parent).path, name) }
        try copyUpTree(path, layers: [0] + [resolved.layer].filter { $0 != 0 } + resolved.lowerDirectories)
        adoptSubtree(of: id)
        return path
    }

    /// A copied-up object renamed into `directory` may have a name no lower has there: the
    /// directory's listings must then read its origin (OverlayFormat.isImpure).
    private func markImpureIfCopiedUp(_ path: [UInt8], in directory: [UInt8]) {
        if OverlayFormat.origin(upper, path) != nil { upper.setImpure(directory) }
    }

    /// After a tree copy-up, points every known node below `id` at its upper copy.
    private func adoptSubtree(of id: InodeNumber) {
        let descendants: [(InodeNumber, [UInt8])] = state.withLock { s in
            s.table[id]?.lowerDirectories = []
            return s.table.nodes.keys.compactMap { candidate in
                guard candidate != id, s.table.isDescendant(candidate, of: id), let path = try? s.table.path(of: candidate) else { return nil }
                return (candidate, path)
            }
        }
        for (node, path) in descendants {
            guard let stat = try? upper.stat(path) else { continue }
            // The number a lookup of the copy gives: its origin, or, for a name of a lower hard
            // link (copied without one), the upper inode's.
            let number = OverlayFormat.origin(upper, path) ?? reportedInode(layer: 0, inode: stat.inode)
            adoptUpper(node, stat: stat, reportedInode: number)
            state.withLock { $0.table[node]?.lowerDirectories = [] }
        }
    }
}
