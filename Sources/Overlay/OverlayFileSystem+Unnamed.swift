// Files without a name: open(2) with O_TMPFILE on the mount (FUSE_TMPFILE). The daemon makes
// an O_TMPFILE file in the parent's upper directory (copied up first) and a node that no path
// reaches; a later linkat(2) of it arrives as a LINK of that node, which links the host file
// into place by its descriptor. Never linked, it disappears with its last descriptor and
// leaves nothing in the upper, as on overlayfs (6.6+) and local filesystems.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    public func createUnnamed(_ ctx: RequestContext, parent: InodeNumber, mode: UInt32, flags: UInt32) throws(Errno) -> (Entry, OpenResult) {
        let (entry, descriptor) = try changingNamespace { () throws(Errno) -> (Entry, FileDescriptor) in
            let (_, directoryPath) = try locateDirectory(parent)
            try copyUp(parent)
            // The kernel's flags carry O_TMPFILE (and O_EXCL when the file must stay unnamed,
            // which the kernel enforces itself): the host file is always linkable.
            var access = hostOpenFlags(flags) & ~(FileDescriptor.tmpFileFlag | O_TRUNC_VALUE)
            if options.noOpen { access = (access & ~O_ACCMODE_VALUE) | O_RDWR_VALUE }
            let mode = modeForNewObject(ctx, mode & 0o7777, in: directoryPath)
            let (fd, needsOwner) = try creatingAsCaller(ctx, mode: mode) { (mode) throws(Errno) in
                try upper.root.open(at: HostDirectoryLayer.relative(directoryPath), flags: access | FileDescriptor.tmpFileFlag | O_NOFOLLOW_VALUE, mode: mode)
            }
            do throws(Errno) {
                if needsOwner {
                    let directory = try upper.stat(directoryPath)
                    try fd.changeOwnerOfDescriptor(uid: ctx.uid, gid: directory.mode & 0o2000 != 0 ? directory.gid : ctx.gid)
                    if mode & 0o6000 != 0 { try fd.changeMode(to: mode) }
                }
                let stat = try fd.stat()
                let resolved = Resolved(layer: 0, stat: stat, lowerDirectories: [])
                let entry = state.withLock { s in
                    let reported = reportedInode(layer: 0, inode: stat.inode)
                    let id = s.table.referenceUnnamed(resolved: resolved, reportedInode: reported)
                    return Entry(inode: id, attributes: attributes(stat, reportedInode: reported, merged: false))
                }
                return (entry, fd)
            } catch {
                fd.closeQuietly()
                throw error
            }
        }
        return try openCreated(ctx, entry: entry, descriptor: descriptor)
    }

    /// The open half of CREATE and TMPFILE: the new file's descriptor as a handle (or, without
    /// OPEN, as the node's descriptor behind handle 0, since no RELEASE would free a real one).
    func openCreated(_ ctx: RequestContext, entry: Entry, descriptor: FileDescriptor) throws(Errno) -> (Entry, OpenResult) {
        if options.noOpen {
            storeNodeDescriptor(NodeDescriptor(descriptor, layer: 0, writable: true), for: entry.inode)
            return (entry, OpenResult(handle: FileHandleID(0)))
        }
        do throws(Errno) {
            return (entry, try registerOpenFile(ctx, node: entry.inode, descriptor: descriptor, layer: 0))
        } catch {
            forget(entry.inode, count: 1)
            throw error
        }
    }

    /// A copy of the descriptor of an upper file that has no name yet, if `id` is one.
    func unnamedUpperDescriptor(_ id: InodeNumber) -> FileDescriptor? {
        descriptorOfUnlinked(id, upperOnly: true)
    }

    /// A writable copy of the descriptor of a nameless file's upper copy, for a change through
    /// a program's descriptor; a deleted lower file is copied up first (copyUpDetached).
    func changeableDescriptorOfUnlinked(_ id: InodeNumber) throws(Errno) -> FileDescriptor? {
        if let open = descriptorOfUnlinked(id, upperOnly: true) { return open }
        return try copyUpDetached(id) ? descriptorOfUnlinked(id, upperOnly: true) : nil
    }

    /// A copy of an open descriptor of a file that has no name (unlinked while open, or an
    /// O_TMPFILE file not linked yet): the only way to it left. A copy, so a RELEASE on another
    /// thread cannot close it under the caller, who closes it. `upperOnly`: one of the upper
    /// copy, for changes.
    func descriptorOfUnlinked(_ id: InodeNumber, upperOnly: Bool) -> FileDescriptor? {
        state.withLock { s -> FileDescriptor? in
            guard let node = s.table[id], node.unlinked, !node.isDirectory, !upperOnly || node.layer == 0 else { return nil }
            // Of the layer holding the file now: a lower file copied up unnamed (copyUpDetached)
            // still has handles open on its lower copy.
            let kept = node.descriptor.flatMap { $0.layer == node.layer ? $0.descriptor : nil }
            guard let open = s.handles.anyDescriptor(of: id, upperOnly: node.layer == 0) ?? kept else { return nil }
            return try? open.duplicate()
        }
    }

    /// LINK of an unnamed file: links the host file by its descriptor (the kernel already
    /// refused files opened with O_EXCL, and those that were named and unlinked).
    func linkUnnamed(_ id: InodeNumber, descriptor: FileDescriptor, newParent: InodeNumber, newName: [UInt8]) throws(Errno) -> Entry {
        defer { descriptor.closeQuietly() }
        let (directoryPath, _) = try prepareNewName(parent: newParent, name: newName)
        let path = join(directoryPath, newName)
        try upper.root.linkAnonymous(descriptor, to: path)
        let stat = try descriptor.stat()  // linked: the node has its name whatever comes next
        return state.withLock { s in
            s.table.name(id, as: NameKey(parent: newParent, name: newName))
            let reported = s.table[id]?.reportedInode ?? reportedInode(layer: 0, inode: stat.inode)
            return Entry(inode: id, attributes: attributes(stat, reportedInode: reported, merged: false))
        }
    }
}
