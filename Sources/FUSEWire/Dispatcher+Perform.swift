// One case per opcode: call the filesystem, encode its answer. Each arm is "decode, call,
// reply"; errors thrown here become the error reply in `Dispatcher.handle`.
import SystemPackage

/// What `perform` did with the reply writer.
enum ReplyAction {
    case reply
    case noReply
    case destroy
}

extension Dispatcher {
    func perform(_ request: FUSERequest, ctx: RequestContext, writer w: inout ReplyWriter) throws(Errno) -> ReplyAction {
        let node = request.header.nodeID
        let fs = fileSystem
        let timeouts = configuration.timeouts
        switch request.body {
        case .initialize:
            return .noReply  // handled before perform
        case .destroy:
            fs.destroy()
            return .destroy
        case .lookup(let name):
            do {
                w.entry(try fs.lookup(ctx, parent: node, name: name), timeouts: timeouts)
            } catch .noSuchFileOrDirectory where timeouts.entrySeconds > 0 {
                // A negative entry (node id 0) lets the kernel cache "does not exist" for the
                // entry timeout; creating the name through the mount replaces it.
                w.entry(Entry(inode: InodeNumber(0), attributes: Attributes(inode: 0, mode: 0)), timeouts: timeouts)
            }
        case .forget(let count):
            fs.forget(node, count: count)
            return .noReply
        case .batchForget(let items):
            for (inode, count) in items { fs.forget(inode, count: count) }
            return .noReply
        case .getattr(let handle):
            w.attrOut(try fs.getAttributes(ctx, inode: node, handle: handle), timeouts: timeouts)
        case .setattr(let changes):
            w.attrOut(try fs.setAttributes(ctx, inode: node, changes: changes), timeouts: timeouts)
        case .readlink:
            w.bytes(try fs.readLink(ctx, inode: node))
        case .symlink(let name, let target):
            w.entry(try fs.symlink(ctx, parent: node, name: name, target: target), timeouts: timeouts)
        case .mknod(let name, let mode, let rdev, let umask):
            w.entry(try fs.makeNode(creating(ctx, umask: umask), parent: node, name: name, mode: mode, device: rdev), timeouts: timeouts)
        case .mkdir(let name, let mode, let umask):
            w.entry(try fs.makeDirectory(creating(ctx, umask: umask), parent: node, name: name, mode: mode), timeouts: timeouts)
        case .unlink(let name):
            try fs.unlink(ctx, parent: node, name: name)
        case .rmdir(let name):
            try fs.removeDirectory(ctx, parent: node, name: name)
        case .rename(let name, let newParent, let newName, let flags):
            try fs.rename(ctx, parent: node, name: name, newParent: newParent, newName: newName, flags: flags)
        case .link(let oldNode, let newName):
            w.entry(try fs.link(ctx, inode: oldNode, newParent: node, newName: newName), timeouts: timeouts)
        case .open where configuration.noOpen:
            throw .noFunction  // the kernel sets no_open and opens files without asking
        case .open(let flags, let killSetIDBits):
            let opened = try fs.open(ctx, inode: node, flags: flags)
            if killSetIDBits && flags & 0o1000 != 0  /* O_TRUNC */ { try fs.dropSetIDBits(ctx, inode: node, handle: opened.handle) }
            if opened.prefill > 0, let notifier = ctx.notifier { prefill(node, opened, ctx: ctx, notifier: notifier, scratch: w.tail) }
            w.openOut(opened)
        case .create(let name, let flags, let mode, let umask):
            let (entry, opened) = try fs.create(creating(ctx, umask: umask), parent: node, name: name, mode: mode, flags: flags)
            w.entry(entry, timeouts: timeouts)
            w.openOut(opened)
        case .tmpfile(let flags, let mode, let umask):
            let (entry, opened) = try fs.createUnnamed(creating(ctx, umask: umask), parent: node, mode: mode, flags: flags)
            w.entry(entry, timeouts: timeouts)
            w.openOut(opened)
        case .read(let handle, let offset, let size):
            let tail = w.tail
            let target = UnsafeMutableRawBufferPointer(rebasing: tail[0..<min(Int(size), tail.count)])
            w.advance(try fs.read(ctx, inode: node, handle: handle, offset: offset, into: target))
        case .write(let handle, let offset, let data, let writeFlags, _):
            if writeFlags & WriteFlags.killSetIDBits != 0 { try fs.dropSetIDBits(ctx, inode: node, handle: handle) }
            let written = try fs.write(ctx, inode: node, handle: handle, offset: offset, data: data)
            w.writeOut(size: UInt32(written))
        case .statfs:
            w.statfs(try fs.statistics(ctx, inode: node))
        case .release(let handle, _):
            fs.release(ctx, inode: node, handle: handle)
        case .fsync(let handle, let dataOnly):
            try fs.synchronize(ctx, inode: node, handle: handle, dataOnly: dataOnly)
        case .setxattr(let name, let value, let flags, let killSetGID):
            try fs.setExtendedAttribute(ctx, inode: node, name: name, value: value, flags: flags)
            if killSetGID { try fs.dropSetGID(ctx, inode: node) }
        case .getxattr(let name, let size):
            try sizedXattrReply(size: size, writer: &w) { (buffer) throws(Errno) in
                try fs.getExtendedAttribute(ctx, inode: node, name: name, into: buffer)
            }
        case .listxattr(let size):
            try sizedXattrReply(size: size, writer: &w) { (buffer) throws(Errno) in
                try fs.listExtendedAttributes(ctx, inode: node, into: buffer)
            }
        case .removexattr(let name):
            try fs.removeExtendedAttribute(ctx, inode: node, name: name)
        case .flush(let handle):
            try fs.flush(ctx, inode: node, handle: handle)
        case .opendir(let flags):
            w.openOut(try fs.openDirectory(ctx, inode: node, flags: flags))
        case .readdir(let handle, let offset, let size, let plus):
            try readDirectory(ctx, node: node, handle: handle, offset: offset, size: size, plus: plus, writer: &w)
        case .releasedir(let handle):
            fs.releaseDirectory(ctx, inode: node, handle: handle)
        case .fsyncdir(let handle, let dataOnly):
            try fs.synchronizeDirectory(ctx, inode: node, handle: handle, dataOnly: dataOnly)
        case .access(let mask):
            try fs.access(ctx, inode: node, mask: mask)
        case .interrupt(let target):
            // Wakes the target if it waits for something slow (a fetch); it then answers EINTR
            // itself. Other requests run to completion. No reply to INTERRUPT.
            interrupts.interrupt(target.rawValue)
            return .noReply
        case .fallocate(let handle, let offset, let length, let mode):
            try fs.allocate(ctx, inode: node, handle: handle, offset: offset, length: length, mode: mode)
        case .lseek(let handle, let offset, let whence):
            w.put(try fs.seek(ctx, inode: node, handle: handle, offset: offset, whence: whence))
        case .copyFileRange(let range):
            w.writeOut(size: UInt32(clamping: try fs.copyRange(ctx, inode: node, range)))
        case .unsupported:
            throw .noFunction
        }
        return .reply
    }

    /// GETXATTR/LISTXATTR: size 0 asks for the size (struct fuse_getxattr_out); otherwise the
    /// data, or ERANGE when it does not fit in `size`.
    private func sizedXattrReply(size: UInt32, writer w: inout ReplyWriter,
                                 _ body: (UnsafeMutableRawBufferPointer) throws(Errno) -> Int) throws(Errno) {
        if size == 0 {
            w.xattrSize(UInt32(clamping: try body(UnsafeMutableRawBufferPointer(start: nil, count: 0))))
            return
        }
        let tail = w.tail
        let target = UnsafeMutableRawBufferPointer(rebasing: tail[0..<min(Int(size), tail.count)])
        w.advance(try body(target))
    }

    /// READDIR and READDIRPLUS. In plus mode each entry carries a fuse_entry_out, which is a
    /// lookup reference; "." and ".." get a zero node id, which the kernel skips.
    private func readDirectory(_ ctx: RequestContext, node: InodeNumber, handle: FileHandleID, offset: UInt64,
                               size: UInt32, plus: Bool, writer w: inout ReplyWriter) throws(Errno) {
        let limit = ReplyWriter.headerSize + min(Int(size), w.remaining)
        let fs = fileSystem
        let timeouts = configuration.timeouts
        try fs.readDirectory(ctx, inode: node, handle: handle, offset: offset) { entry in
            let direntSize = ReplyWriter.direntSize(nameLength: entry.name.count)
            guard w.count + direntSize + (plus ? 128 : 0) <= limit else { return false }
            guard plus else {
                w.dirent(entry)
                return true
            }
            if entry.name == [0x2e] || entry.name == [0x2e, 0x2e] {
                w.zeros(128)
                w.dirent(entry)
                return true
            }
            let looked: Entry
            do {
                looked = try fs.lookup(ctx, parent: node, name: entry.name)
            } catch .noSuchFileOrDirectory {
                return true  // vanished since the listing was taken: leave it out
            } catch {
                // Attributes unavailable (e.g. an unreachable remote): list the name anyway
                // with node id 0, so the kernel looks it up itself when it is used.
                w.zeros(128)
                w.dirent(entry)
                return true
            }
            w.entry(looked, timeouts: timeouts)
            var listed = entry
            listed.inode = looked.attributes.inode
            w.dirent(listed)
            return true
        }
    }

    /// The context of a request that creates an object: it carries the caller's umask when
    /// the kernel left it to us (FUSE_DONT_MASK).
    private func creating(_ ctx: RequestContext, umask: UInt32) -> RequestContext {
        guard umaskLeftToFileSystem.load(ordering: .relaxed) else { return ctx }
        var ctx = ctx
        ctx.umask = umask & 0o777
        return ctx
    }
}
