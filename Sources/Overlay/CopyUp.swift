// Copy-up: before anything in a lower layer changes, its visible copy is recreated in the
// upper layer with data and metadata (mode, owner, times, xattrs), and so are its parent
// directories. Files are built as an anonymous O_TMPFILE and linked into place only when
// complete, so a crash never leaves a half-copied file under the real name. Data goes through
// copy_file_range (reflinks or in-kernel copies where the filesystems allow) one data extent at
// a time (SEEK_DATA/SEEK_HOLE), so sparse files stay sparse.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    /// Makes sure `id` and all its ancestors live in the upper layer; returns its upper path.
    /// Call with the namespace lock held. `withData: false` skips file contents (O_TRUNC opens).
    @discardableResult
    func copyUp(_ id: InodeNumber, withData: Bool = true) throws(Errno) -> [UInt8] {
        // Ancestors first, from the root down.
        var chain: [InodeNumber] = []
        var current = id
        while true {
            let node: Node = try state.withLock { (s) throws(Errno) -> Node in
                guard let node = s.table[current] else { throw .staleNFSFileHandle }
                return node
            }
            if node.layer == 0 { break }
            chain.append(current)
            if current == .root { break }
            current = node.parent
        }
        for nodeID in chain.reversed() {
            try copyUpSingle(nodeID, withData: withData || nodeID != id)
        }
        return try locate(id).path
    }

    /// Copies one node whose parent is already in the upper layer.
    private func copyUpSingle(_ id: InodeNumber, withData: Bool) throws(Errno) {
        let (node, path) = try locate(id)
        let source = layer(node.layer)
        if let existing = try? upper.stat(path), !OverlayFormat.isWhiteout(existing) {
            // Already there (a directory tree copied up by a rename): adopt it.
            adoptUpper(id, stat: existing)
            return
        }
        let lowerStat = try source.stat(path)
        try preservingTimes(of: parentPath(of: path)) { () throws(Errno) in
            try copyObject(path, from: source, stat: lowerStat, withData: withData, origin: node.reportedInode)
        }
        let copied = try upper.stat(path)
        let keepsNoOrigin = lowerStat.fileType == .regular && lowerStat.linkCount > 1  // see copyObject
        adoptUpper(id, stat: copied, reportedInode: keepsNoOrigin ? reportedInode(layer: 0, inode: copied.inode) : nil)
        logger.debug("copied up", metadata: ["inode": "\(id)", "from": "\(source.name)"])
    }

    /// Runs `body`, which adds entries to the upper directory at `path` for a copy-up, and
    /// puts the directory's access and modification times back after: a copy-up changes
    /// nothing a program can see, the parent's mtime included (overlayfs restores it too).
    func preservingTimes(of path: [UInt8], _ body: () throws(Errno) -> Void) throws(Errno) {
        let before = try? upper.stat(path)
        try body()
        guard let before else { return }
        try? upper.root.setTimes(at: path, access: .time(before.accessTime), modification: .time(before.modificationTime))
    }

    /// Tells the kernel to drop the cached attributes of nodes whose st_ino and link count a
    /// copy-up changed (OverlayState.changedAttributes), so `stat` and `fstat` show the copy's
    /// own. Called by the requests that copy up without returning attributes (OPEN, RENAME,
    /// xattr changes, a WRITE without OPEN); a transport without notifications (virtiofs)
    /// shows the old ones until the attribute timeout.
    func invalidateChangedAttributes(_ ctx: RequestContext) {
        let changed = state.withLock { s -> [InodeNumber] in
            defer { s.changedAttributes = [] }
            return s.changedAttributes
        }
        guard let notifier = ctx.notifier else { return }
        for id in changed { notifier.invalidateAttributes(id) }
    }

    /// Records that a node's visible copy is now the upper one, and the st_ino it reports from
    /// now on where that changes (`reportedInode`).
    func adoptUpper(_ id: InodeNumber, stat: FileStat, reportedInode number: UInt64? = nil) {
        state.withLock { s in
            guard var updated = s.table[id], updated.layer != 0 else { return }
            if updated.isDirectory { updated.lowerDirectories = [updated.layer] + updated.lowerDirectories }
            updated.layer = 0
            if let number, number != updated.reportedInode {
                updated.reportedInode = number
                s.changedAttributes.append(id)
            }
            s.table[id] = updated
            s.table.rekey(id, to: HostKey(layer: 0, device: stat.device, inode: stat.inode))
        }
    }

    /// Creates the upper copy of `path` from `source` (a directory without its contents).
    /// `origin` is the st_ino the object had below, recorded on the copy (OverlayFormat.origin).
    /// Objects other than files are made at their final name and marked incomplete until
    /// their metadata is copied (OverlayFormat.incompleteFlag; `repairCopyUp` finishes one a
    /// killed daemon left).
    func copyObject(_ path: [UInt8], from source: any ReadableLayer, stat: FileStat, withData: Bool = true, origin: UInt64) throws(Errno) {
        switch stat.fileType {
        case .directory:
            try upper.root.makeDirectory(at: path, mode: stat.permissions | 0o700)
        case .regular:
            try copyRegularFile(path, from: source, stat: stat, withData: withData)
            // One name of a lower hard link becomes a file of its own: it must not keep the
            // number the other names still report (overlayfs without index=on does the same).
            if stat.linkCount <= 1 { upper.setOrigin(path, inode: origin) }
            return
        case .symlink:
            try upper.root.makeSymlink(at: path, target: try source.readLink(path))
        default:
            try upper.root.makeNode(at: path, mode: stat.mode, device: stat.rdev)
        }
        upper.setOrigin(path, inode: origin, complete: false)
        try copyMetadata(to: path, from: source, stat: stat)
        upper.setOrigin(path, inode: origin)
    }

    /// Finishes a copy-up a killed daemon left half done (the upper object at `path` carries
    /// the incomplete marker): copies the metadata again from the highest of `lowers` that has
    /// the object, then marks it complete. Idempotent, so lookups racing here do no harm.
    func repairCopyUp(_ path: [UInt8], origin: UInt64, lowers: ArraySlice<LayerIndex>, type: ScorpioSys.FileType) {
        for index in lowers where index != 0 {
            guard let stat = try? layer(index).stat(path), stat.fileType == type else { continue }
            do {
                try copyMetadata(to: path, from: layer(index), stat: stat)
                upper.setOrigin(path, inode: origin)
                logger.warning("finished a copy-up a stopped daemon left half done", metadata: ["path": "\(String(decoding: path, as: UTF8.self))"])
            } catch {
                logger.error("cannot finish a half-done copy-up: \(error)", metadata: ["path": "\(String(decoding: path, as: UTF8.self))"])
            }
            return
        }
    }

    /// Copies everything visible below the directory `path` (whose upper copy exists) into the
    /// upper layer and marks it opaque, so the directory no longer depends on any lower layer.
    /// Used before renaming a merged directory (the "copy-up" choice; overlayfs's alternative is
    /// a redirect xattr).
    /// The directory keeps its times; the whiteouts in it go, since nothing below is left to
    /// hide (kernel overlayfs would list them in an opaque directory).
    /// Names of one lower hard link inside the tree stay one file: the first is copied, the
    /// others linked to it (as overlayfs's redirected directory keeps them).
    func copyUpTree(_ path: [UInt8], layers: [LayerIndex]) throws(Errno) {
        var linked: [HostKey: [UInt8]] = [:]
        try copyUpTree(path, layers: layers, linked: &linked)
    }

    private func copyUpTree(_ path: [UInt8], layers: [LayerIndex], linked: inout [HostKey: [UInt8]]) throws(Errno) {
        try preservingTimes(of: path) { () throws(Errno) in
            for entry in try mergedListing(path: path, layers: layers) {
                guard let child = try resolve(entry.name, in: path, layers: layers) else { continue }
                let childPath = join(path, entry.name)
                if child.layer != 0 {
                    let key = HostKey(layer: child.layer, device: child.stat.device, inode: child.stat.inode)
                    let sharesLink = child.stat.fileType == .regular && child.stat.linkCount > 1
                    if sharesLink, let first = linked[key] {
                        try upper.root.link(from: first, to: childPath)
                        continue
                    }
                    try copyObject(childPath, from: layer(child.layer), stat: child.stat,
                                   origin: reportedInode(layer: child.layer, inode: child.stat.inode))
                    if sharesLink { linked[key] = childPath }
                }
                if child.stat.fileType == .directory, child.layer != 0 || !child.lowerDirectories.isEmpty {
                    try copyUpTree(childPath, layers: [0] + [child.layer].filter { $0 != 0 } + child.lowerDirectories, linked: &linked)
                }
            }
            try upper.setOpaque(path)
            upper.setImpure(path)  // its copied-up entries lose their lower names when it moves
            try removeWhiteouts(in: path)  // after the opaque marker: a kill in between hides no less
        }
    }

    /// Owner, xattrs, mode and times of `path` in the upper, taken from the lower's copy.
    /// The order matters: chown clears setuid bits, so mode comes after it, and times last.
    private func copyMetadata(to path: [UInt8], from source: any ReadableLayer, stat: FileStat) throws(Errno) {
        if runningAsRoot { try upper.root.changeOwner(at: path, uid: stat.uid, gid: stat.gid) }
        try upper.root.withProcPath(path) { (procPath) throws(Errno) in
            try copyAttributes(to: .path(procPath), from: source, path: path, isDirectory: stat.fileType == .directory)
        }
        if stat.fileType != .symlink { try upper.root.changeMode(at: path, to: stat.permissions) }
        try upper.root.setTimes(at: path, access: .time(stat.accessTime), modification: .time(stat.modificationTime))
    }

    /// Copies user-visible extended attributes (not the overlay's own markers). A copy made
    /// in an upper directory with a default ACL got that ACL from it (overlayfs builds its
    /// copies in a work directory without one); the ACLs the lower object lacks are removed,
    /// since the kernel enforces them (FUSE_POSIX_ACL).
    private func copyAttributes(to target: AttributeTarget, from source: any ReadableLayer, path: [UInt8], isDirectory: Bool) throws(Errno) {
        var names: [[UInt8]] = []
        do { names = try source.extendedAttributeNames(path) } catch .notSupported {}
        for acl in isDirectory ? OverlayFormat.aclNames : [OverlayFormat.accessACL] where !names.contains(acl) {
            switch target {
            case .path(let targetPath): try? ExtendedAttributes.remove(path: targetPath, name: acl)
            case .descriptor(let fd): try? ExtendedAttributes.remove(descriptor: fd, name: acl)
            }
        }
        for name in names where !OverlayFormat.isPrivateAttribute(name) {
            guard let value = try source.extendedAttribute(path, name: name) else { continue }
            do {
                try typedErrno {
                    try value.withUnsafeBytes { bytes in
                        switch target {
                        case .path(let targetPath): try ExtendedAttributes.set(path: targetPath, name: name, value: bytes, flags: 0)
                        case .descriptor(let fd): try ExtendedAttributes.set(descriptor: fd, name: name, value: bytes, flags: 0)
                        }
                    }
                }
            } catch .notSupported {
                logger.warning("upper filesystem cannot hold an xattr; dropped on copy-up", metadata: ["name": "\(String(decoding: name, as: UTF8.self))"])
            } catch .notPermitted {
                // trusted.* or security.* as a non-root user: nothing we may copy.
            }
        }
    }

    private func copyRegularFile(_ path: [UInt8], from source: any ReadableLayer, stat: FileStat, withData: Bool) throws(Errno) {
        let directory = parentPath(of: path)
        let output: FileDescriptor
        var temporaryName: [UInt8]? = nil
        if let anonymous = try anonymousCopy(of: path, from: source, stat: stat, withData: withData, in: directory) {
            output = anonymous
        } else {
            // No O_TMPFILE on this filesystem: a hidden temporary name, renamed into place.
            let name = join(directory, Array(".scorpio-copyup-\(stat.inode)".utf8))
            output = try namedCopy(of: path, from: source, stat: stat, withData: withData, at: name)
            temporaryName = name
        }
        defer { output.closeQuietly() }
        do {
            if let temporaryName {
                try upper.root.rename(from: temporaryName, to: path, flags: .noReplace)
            } else {
                try upper.root.linkAnonymous(output, to: path)
            }
        } catch {
            if let temporaryName { try? upper.root.remove(at: temporaryName, directory: false) }
            throw error
        }
    }

    /// An unnamed (O_TMPFILE) upper file in `directory` holding `path`'s data and metadata from
    /// `source`; the caller links it into place, or keeps only its descriptor. nil where the
    /// upper's filesystem has no O_TMPFILE (namedCopy then).
    func anonymousCopy(of path: [UInt8], from source: any ReadableLayer, stat: FileStat, withData: Bool,
                       in directory: [UInt8]) throws(Errno) -> FileDescriptor? {
        let output: FileDescriptor
        do {
            output = try upper.root.open(at: HostDirectoryLayer.relative(directory),
                                         flags: FileDescriptor.tmpFileFlag | O_RDWR_VALUE | O_NOFOLLOW_VALUE, mode: 0o600)
        } catch .notSupported {
            return nil
        }
        do {
            try fill(output, from: source, path: path, stat: stat, withData: withData)
            return output
        } catch {
            output.closeQuietly()
            throw error
        }
    }

    /// The same at a new name (`temporaryName`, which must not exist), for an upper without
    /// O_TMPFILE; the name is removed again if the copy fails.
    func namedCopy(of path: [UInt8], from source: any ReadableLayer, stat: FileStat, withData: Bool,
                   at temporaryName: [UInt8]) throws(Errno) -> FileDescriptor {
        let output = try upper.root.open(at: temporaryName, flags: O_RDWR_VALUE | O_CREAT_VALUE | O_EXCL_VALUE | O_NOFOLLOW_VALUE, mode: 0o600)
        do {
            try fill(output, from: source, path: path, stat: stat, withData: withData)
            return output
        } catch {
            output.closeQuietly()
            try? upper.root.remove(at: temporaryName, directory: false)
            throw error
        }
    }

    /// Data (when asked), owner, xattrs, mode and times of the lower file at `path` into `output`.
    private func fill(_ output: FileDescriptor, from source: any ReadableLayer, path: [UInt8], stat: FileStat, withData: Bool) throws(Errno) {
        if withData {
            let input = try source.openForReading(path)
            defer { input.closeQuietly() }
            try copyData(from: input, to: output, size: stat.size)
        }
        if runningAsRoot { try output.changeOwnerOfDescriptor(uid: stat.uid, gid: stat.gid) }
        try copyAttributes(to: .descriptor(output), from: source, path: path, isDirectory: false)
        try output.changeMode(to: stat.permissions)
        try output.setTimesOfDescriptor(access: .time(stat.accessTime), modification: .time(stat.modificationTime))
    }

    /// Copies the data extents of `input` into `output` and sets the size.
    private func copyData(from input: FileDescriptor, to output: FileDescriptor, size: UInt64) throws(Errno) {
        if size >= 1 << 20 { BlockingHint.willBlock() }  // let other requests in while copying
        let end = Int64(size)
        var position: Int64 = 0
        while position < end {
            let dataStart: Int64
            do { dataStart = try input.seek(offset: position, whence: SEEK_DATA_VALUE) } catch .noSuchAddressOrDevice { break }
            let dataEnd = (try? input.seek(offset: dataStart, whence: SEEK_HOLE_VALUE)) ?? end
            var offset = dataStart
            while offset < dataEnd {
                let chunk = Int(min(dataEnd - offset, 1 << 30))
                let copied = try copyChunk(from: input, to: output, offset: offset, length: chunk)
                if copied == 0 { break }
                offset += Int64(copied)
            }
            position = dataEnd
        }
        try output.truncate(to: end)
    }

    /// copy_file_range, or read/write where the kernel cannot copy between these filesystems.
    private func copyChunk(from input: FileDescriptor, to output: FileDescriptor, offset: Int64, length: Int) throws(Errno) -> Int {
        do {
            return try input.copyRange(to: output, inputOffset: offset, outputOffset: offset, length: length)
        } catch let error where error == .improperLink || error == .invalidArgument || error == .noFunction || error == .notSupportedOnSocket {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 4096)
            defer { buffer.deallocate() }
            let count = try input.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(length, buffer.count)]), at: offset)
            var written = 0
            while written < count {
                written += try output.write(UnsafeRawBufferPointer(rebasing: buffer[written..<count]), at: offset + Int64(written))
            }
            return count
        }
    }

}

/// Where copied xattrs go: a path (l*xattr) or an anonymous file's descriptor (f*xattr).
enum AttributeTarget {
    case path([UInt8])
    case descriptor(FileDescriptor)
}
