// What the kernel's VFS does when a caller without CAP_FSETID writes, truncates or chowns a
// file: setuid goes, setgid goes if the group may execute, and so do file capabilities. With
// HANDLE_KILLPRIV_V2 the kernel leaves it to us (and flags the requests that need it), which
// spares a GETXATTR of security.capability before every write. Our own writes run as root,
// which keeps the bits, so the overlay clears them itself.
import FUSEWire
import ScorpioSys
import SystemPackage

extension OverlayFileSystem {
    public func dropSetIDBits(_ ctx: RequestContext, inode: InodeNumber, handle: FileHandleID) throws(Errno) {
        // Always followed by a WRITE or truncation, so a lower file is copied up now (noOpen
        // mode copies up at the first write): the copy keeps the bits, and they must go.
        let file = try file(ctx, handle, inode: inode, writing: true)
        guard file.layer == 0 else { return }
        // The kernel keeps the mode it cached (it refreshes only size and times after a write),
        // so it is told when the bits went. Without a notifier (virtiofs) the old mode shows
        // until the attribute timeout.
        if try dropSetIDBits(of: file.descriptor, caller: ctx) { ctx.notifier?.invalidateAttributes(inode) }
    }

    public func dropSetGID(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) {
        // The xattr change just copied the file up; the kernel drops its cached attributes
        // after an ACL change (fs/fuse/acl.c), so the mode needs no notification.
        let (node, stat) = try hostStat(inode)
        guard node.layer == 0, stat.permissions & 0o2000 != 0 else { return }
        _ = try setAttributes(ctx, inode: inode, changes: AttributeChanges(mode: stat.permissions & ~0o2000))
    }

    /// The mode a chown leaves a regular file with set-ID bits (setuid goes, setgid when the
    /// group may execute), nil when it keeps the mode.
    func setIDBitsAChownClears(_ ctx: RequestContext, inode: InodeNumber) throws(Errno) -> UInt32? {
        let (_, stat) = try hostStat(inode)
        guard stat.fileType == .regular else { return nil }
        let kept = Self.clearingSetIDBits(stat.permissions, callerOutsideGroup: false)
        return kept == stat.permissions ? nil : kept
    }

    /// `permissions` without setuid, and without setgid when the group may execute or the
    /// caller is outside the file's group.
    static func clearingSetIDBits(_ permissions: UInt32, callerOutsideGroup: Bool) -> UInt32 {
        let kept = permissions & ~0o4000
        return kept & 0o010 != 0 || callerOutsideGroup ? kept & ~0o2000 : kept
    }

    /// Returns whether the mode changed. setgid goes when the group may execute, or when the
    /// caller is not in the file's group (the kernel's rule since 6.3; `caller` nil: a member).
    @discardableResult
    func dropSetIDBits(of fd: FileDescriptor, caller: RequestContext? = nil) throws(Errno) -> Bool {
        let stat = try fd.stat()
        guard stat.fileType == .regular else { return false }
        // Group membership is looked up only where it decides (setgid without group-exec).
        let outside = stat.permissions & 0o2010 == 0o2000
            && caller.map({ !CallerIdentity.isMember($0.pid, primary: $0.gid, of: stat.gid) }) == true
        let kept = Self.clearingSetIDBits(stat.permissions, callerOutsideGroup: outside)
        let changed = kept != stat.permissions
        if changed { try fd.changeMode(to: kept) }
        // Only a privileged process can set file capabilities, so an unprivileged daemon has
        // none to remove (and may not remove security.* names at all).
        if effectiveUserID == 0 {
            do {
                try ExtendedAttributes.remove(descriptor: fd, name: Array("security.capability".utf8))
            } catch .noData {
            } catch .notSupported {
            } catch {
                throw error
            }
        }
        return changed
    }
}
