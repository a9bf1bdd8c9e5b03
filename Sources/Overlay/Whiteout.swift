// The on-disk format of the upper layer, as the kernel's overlayfs defines it
// (Documentation/filesystems/overlayfs.rst), so an upper written through Scorpio can be mounted
// with `mount -t overlay` and the reverse:
// - whiteout: a character device 0/0 with the deleted name (mknod of 0/0 is allowed without
//   CAP_MKNOD since Linux 5.8, so this works unprivileged too);
// - opaque directory: xattr trusted.overlay.opaque = "y" as root, user.overlay.opaque = "y"
//   otherwise (the kernel reads user.* with the `userxattr` mount option).
// Names under trusted.overlay. and user.overlay. are the overlay's own and are hidden from users.
import ScorpioSys
import SystemPackage

enum OverlayFormat {
    /// The POSIX ACL xattrs (system.posix_acl_access, and a directory's default ACL).
    static let accessACL = Array("system.posix_acl_access".utf8)
    static let aclNames = [accessACL, Array("system.posix_acl_default".utf8)]
    static let trustedOpaque = Array("trusted.overlay.opaque".utf8)
    static let userOpaque = Array("user.overlay.opaque".utf8)
    static let trustedPrefix = Array("trusted.overlay.".utf8)
    static let userPrefix = Array("user.overlay.".utf8)

    /// Whether a stat describes a whiteout.
    static func isWhiteout(_ stat: FileStat) -> Bool {
        stat.fileType == .characterDevice && stat.rdev == 0
    }

    /// Whether a directory in `layer` at `path` hides the layers below it.
    static func isOpaque(_ layer: any ReadableLayer, _ path: [UInt8]) -> Bool {
        for name in [trustedOpaque, userOpaque] {
            if let value = try? layer.extendedAttribute(path, name: name), value == [UInt8(ascii: "y")] { return true }
        }
        return false
    }

    /// Whether an xattr name belongs to the overlay format and must not be shown or changed.
    static func isPrivateAttribute(_ name: [UInt8]) -> Bool {
        name.starts(with: trustedPrefix) || name.starts(with: userPrefix)
    }

    /// The opaque marker this process can write.
    static var writableOpaqueName: [UInt8] { effectiveUserID == 0 ? trustedOpaque : userOpaque }

    /// Scorpio's own marker on a copied-up object: the st_ino it had in its lower layer (8 bytes,
    /// little-endian), so the number stays the same after the kernel forgot the inode and looks
    /// it up again in the upper. Under the overlay prefix, so kernel overlayfs hides it too.
    static let trustedOrigin = Array("trusted.overlay.scorpio.origin".utf8)
    static let userOrigin = Array("user.overlay.scorpio.origin".utf8)
    static var writableOriginName: [UInt8] { effectiveUserID == 0 ? trustedOrigin : userOrigin }

    /// A ninth byte, 1, marks a copy-up still in progress: a directory, symlink or device is
    /// made at its final name and then given owner, xattrs, mode and times; a daemon killed in
    /// between leaves the marker, and the next lookup copies the metadata again.
    static let incompleteFlag: UInt8 = 1

    /// The origin inode recorded on an upper object, if any, and whether its copy-up finished.
    static func originRecord(_ layer: any ReadableLayer, _ path: [UInt8]) -> (inode: UInt64, complete: Bool)? {
        guard let value = try? layer.extendedAttribute(path, name: writableOriginName), value.count == 8 || value.count == 9 else { return nil }
        let inode = value.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        return (inode, value.count == 8 || value[8] != incompleteFlag)
    }

    /// The origin inode recorded on an upper object, if any.
    static func origin(_ layer: any ReadableLayer, _ path: [UInt8]) -> UInt64? {
        originRecord(layer, path)?.inode
    }

    /// Scorpio's marker on an upper directory that may hold copied-up objects under names no
    /// lower has (moved there by a rename, or inside a directory renamed as a whole tree):
    /// listing it reads the origin of every upper name, so d_ino stays what `stat` reports
    /// (overlayfs's `impure` xattr plays this part for its own origin format).
    static let trustedImpure = Array("trusted.overlay.scorpio.impure".utf8)
    static let userImpure = Array("user.overlay.scorpio.impure".utf8)
    static var writableImpureName: [UInt8] { effectiveUserID == 0 ? trustedImpure : userImpure }

    static func isImpure(_ layer: any ReadableLayer, _ path: [UInt8]) -> Bool {
        (try? layer.extendedAttribute(path, name: writableImpureName)) ?? nil != nil
    }
}

extension HostDirectoryLayer {
    /// Creates a whiteout at `path` (which must not exist). As on overlayfs, whiteouts are hard
    /// links of one whiteout inode: a link cost 6 µs where a new inode (mknod) cost 80 µs, and
    /// 330 µs in the daemon during an `rm -rf` of lower files, on this VM's ext4. A new one is
    /// made when that inode lost all its names (every whiteout was removed) or is full (EMLINK).
    func makeWhiteout(_ path: [UInt8]) throws(Errno) {
        try sharedWhiteout.withLock { (shared) throws(Errno) in
            if let source = shared {
                // A check first: linking an inode without names fails with ENOENT, which
                // linkAnonymous takes for a missing capability.
                if let stat = try? source.stat(), stat.linkCount > 0, OverlayFormat.isWhiteout(stat),
                   (try? root.linkAnonymous(source, to: path)) != nil {
                    return
                }
                // Full (EMLINK), or links refused (no hard links, a mount in between): a new
                // whiteout below, made as before, never a half-done removal.
                source.closeQuietly()
                shared = nil
            }
            try root.makeNode(at: path, mode: FileType.characterDevice.rawValue, device: 0)
            shared = try? root.open(at: path, flags: FileDescriptor.pathOnlyFlag | O_NOFOLLOW_VALUE)
        }
    }

    /// Records the st_ino an object had below (see OverlayFormat.origin). Best effort: a
    /// filesystem or namespace that refuses the xattr only loses inode stability.
    func setOrigin(_ path: [UInt8], inode: UInt64, complete: Bool = true) {
        var value: [UInt8] = withUnsafeBytes(of: inode.littleEndian) { Array($0) }
        if !complete { value.append(OverlayFormat.incompleteFlag) }
        _ = try? typedErrno {
            try value.withUnsafeBytes { bytes in
                try root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.set(path: procPath, name: OverlayFormat.writableOriginName, value: bytes, flags: 0) }
            }
        }
    }

    /// Marks the directory at `path` opaque.
    func setOpaque(_ path: [UInt8]) throws(Errno) {
        try setMarker(path, name: OverlayFormat.writableOpaqueName)
    }

    /// Marks the directory at `path` impure (see OverlayFormat.isImpure). Best effort, like
    /// setOrigin: without it only d_ino of moved copy-ups differs from st_ino.
    func setImpure(_ path: [UInt8]) {
        guard !OverlayFormat.isImpure(self, path) else { return }
        try? setMarker(path, name: OverlayFormat.writableImpureName)
    }

    /// Sets the xattr `name` of `path` to "y".
    private func setMarker(_ path: [UInt8], name: [UInt8]) throws(Errno) {
        let value: [UInt8] = [UInt8(ascii: "y")]
        try typedErrno {
            try value.withUnsafeBytes { bytes in
                try root.withProcPath(path) { (procPath) throws(Errno) in try ExtendedAttributes.set(path: procPath, name: name, value: bytes, flags: 0) }
            }
        }
    }
}
