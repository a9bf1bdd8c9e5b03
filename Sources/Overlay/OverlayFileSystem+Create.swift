// Creating names: MKNOD, MKDIR, SYMLINK, CREATE and LINK. New objects always go to the upper
// layer, after the parent was copied up. A whiteout left by an earlier delete is replaced; a
// directory created there is opaque, so the deleted lower directory's contents stay hidden.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    /// Copies the parent up and clears the way for a new name in it. Returns the parent's
    /// upper path and whether a whiteout was removed. Call with the namespace lock held.
    func prepareNewName(parent: InodeNumber, name: [UInt8]) throws(Errno) -> (directoryPath: [UInt8], replacedWhiteout: Bool) {
        let (directory, path) = try locateDirectory(parent)
        if try resolve(name, in: path, layers: directory.directoryLayers) != nil { throw .fileExists }
        try copyUp(parent)
        let target = join(path, name)
        if let existing = try? upper.stat(target), OverlayFormat.isWhiteout(existing) {
            try upper.root.remove(at: target, directory: false)
            return (path, true)
        }
        return (path, false)
    }

    /// Runs one create call as the caller (CallerIdentity), so the object is the caller's from
    /// its first instant. `body` gets the mode to create with: the requested one, or, where the
    /// switch is not possible and a chown follows, one without setuid and setgid, which
    /// `finishNewName` sets after the chown (a daemon killed in between then leaves a
    /// root-owned object without them, never a root-owned setuid file). Returns `body`'s
    /// result and whether the object still needs that chown.
    func creatingAsCaller<R>(_ ctx: RequestContext, mode: UInt32,
                             _ body: (_ mode: UInt32) throws(Errno) -> R) throws(Errno) -> (R, needsOwner: Bool) {
        guard runningAsRoot else { return (try body(mode), false) }
        return try CallerIdentity.creating(uid: ctx.uid, gid: ctx.gid) { (asCaller) throws(Errno) in
            (try body(asCaller ? mode : mode & ~0o6000), !asCaller)
        }
    }

    /// The mode to create a new object in `directoryPath` with: the requested one less the
    /// caller's umask (under FUSE_DONT_MASK), unless the directory has a default ACL, which
    /// the upper's filesystem then applies in the umask's place, as a local filesystem would.
    func modeForNewObject(_ ctx: RequestContext, _ requested: UInt32, in directoryPath: [UInt8]) -> UInt32 {
        requested & ctx.umask == 0 || hasDefaultACL(directoryPath) ? requested : requested & ~ctx.umask
    }

    /// Whether the upper directory carries a default ACL (system.posix_acl_default).
    private func hasDefaultACL(_ directoryPath: [UInt8]) -> Bool {
        let size = try? upper.root.withProcPath(directoryPath) { (procPath) throws(Errno) in
            try ExtendedAttributes.get(path: procPath, name: Array("system.posix_acl_default".utf8), into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        }
        return (size ?? 0) > 0
    }

    /// Gives a new upper object to the caller when it was created as root (`needsOwner`), and
    /// registers its node.
    func finishNewName(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], directoryPath: [UInt8],
                       mode: UInt32? = nil, needsOwner: Bool) throws(Errno) -> Entry {
        let path = join(directoryPath, name)
        if needsOwner {
            // A setgid directory passes its group on, as the kernel would for the caller.
            let parentStat = try upper.stat(directoryPath)
            let gid = parentStat.mode & 0o2000 != 0 ? parentStat.gid : ctx.gid
            try upper.root.changeOwner(at: path, uid: ctx.uid, gid: gid)
            // chown clears setuid/setgid; the caller asked for them, so put them back.
            if let mode, mode & 0o6000 != 0, FileType(mode: mode) != .symlink {
                try upper.root.changeMode(at: path, to: mode & 0o7777)
            }
        }
        let stat = try upper.stat(path)
        return makeEntry(parent: parent, name: name, resolved: Resolved(layer: 0, stat: stat, lowerDirectories: []))
    }

    public func makeNode(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32, device: UInt32) throws(Errno) -> Entry {
        // A 0/0 character device in the upper is a whiteout: it would delete the name rather
        // than create it. overlayfs refuses it with EPERM too.
        if FileType(mode: mode) == .characterDevice && decodeDeviceFromFUSE(device) == 0 { throw .notPermitted }
        return try changingNamespace(in: [parent]) { () throws(Errno) -> Entry in
            let (directoryPath, _) = try prepareNewName(parent: parent, name: name)
            let mode = modeForNewObject(ctx, mode, in: directoryPath)
            let (_, needsOwner) = try creatingAsCaller(ctx, mode: mode) { (mode) throws(Errno) in
                try upper.root.makeNode(at: join(directoryPath, name), mode: mode, device: decodeDeviceFromFUSE(device))
            }
            return try finishNewName(ctx, parent: parent, name: name, directoryPath: directoryPath, mode: mode, needsOwner: needsOwner)
        }
    }

    public func makeDirectory(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32) throws(Errno) -> Entry {
        try changingNamespace(in: [parent]) { () throws(Errno) -> Entry in
            let (directoryPath, replacedWhiteout) = try prepareNewName(parent: parent, name: name)
            let path = join(directoryPath, name)
            let mode = modeForNewObject(ctx, mode, in: directoryPath)
            let (_, needsOwner) = try creatingAsCaller(ctx, mode: mode) { (mode) throws(Errno) in
                try upper.root.makeDirectory(at: path, mode: mode)
            }
            if replacedWhiteout { try upper.setOpaque(path) }
            return try finishNewName(ctx, parent: parent, name: name, directoryPath: directoryPath, mode: mode, needsOwner: needsOwner)
        }
    }

    public func symlink(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], target: [UInt8]) throws(Errno) -> Entry {
        try changingNamespace(in: [parent]) { () throws(Errno) -> Entry in
            let (directoryPath, _) = try prepareNewName(parent: parent, name: name)
            let (_, needsOwner) = try creatingAsCaller(ctx, mode: 0o777) { (_) throws(Errno) in
                try upper.root.makeSymlink(at: join(directoryPath, name), target: target)
            }
            return try finishNewName(ctx, parent: parent, name: name, directoryPath: directoryPath, needsOwner: needsOwner)
        }
    }

    public func create(_ ctx: RequestContext, parent: InodeNumber, name: [UInt8], mode: UInt32, flags: UInt32) throws(Errno) -> (Entry, OpenResult) {
        let (entry, descriptor) = try changingNamespace(in: [parent]) { () throws(Errno) -> (Entry, FileDescriptor) in
            let (directoryPath, _) = try prepareNewName(parent: parent, name: name)
            // Without OPEN (noOpen) the descriptor becomes the node's, for reads as well as writes.
            let accessFlags = options.noOpen ? (hostOpenFlags(flags) & ~O_ACCMODE_VALUE) | O_RDWR_VALUE : hostOpenFlags(flags)
            let openFlags = accessFlags | O_CREAT_VALUE | O_EXCL_VALUE
            let mode = modeForNewObject(ctx, mode, in: directoryPath)
            let (fd, needsOwner) = try creatingAsCaller(ctx, mode: mode & 0o7777) { (mode) throws(Errno) in
                try upper.root.open(at: join(directoryPath, name), flags: openFlags, mode: mode)
            }
            do throws(Errno) {
                return (try finishNewName(ctx, parent: parent, name: name, directoryPath: directoryPath, mode: mode, needsOwner: needsOwner), fd)
            } catch {
                fd.closeQuietly()
                throw error
            }
        }
        return try openCreated(ctx, entry: entry, descriptor: descriptor)
    }

    public func link(_ ctx: RequestContext, inode: InodeNumber, newParent: InodeNumber, newName: [UInt8]) throws(Errno) -> Entry {
        try changingNamespace(in: [newParent]) { () throws(Errno) -> Entry in
            if let unnamed = unnamedUpperDescriptor(inode) {
                return try linkUnnamed(inode, descriptor: unnamed, newParent: newParent, newName: newName)
            }
            let (node, _) = try locate(inode)
            if node.isDirectory { throw .notPermitted }
            let sourcePath = try copyUp(inode)
            let (directoryPath, _) = try prepareNewName(parent: newParent, name: newName)
            let path = join(directoryPath, newName)
            try upper.root.link(from: sourcePath, to: path)
            let stat = try upper.stat(path)
            return makeEntry(parent: newParent, name: newName, resolved: Resolved(layer: 0, stat: stat, lowerDirectories: []))
        }
    }
}
