// Shared helpers for the overlay tests. Every test builds its own temporary layer trees (an upper
// directory and one or more lowers) from a path → item dictionary, puts an OverlayFileSystem over
// them and calls the FileSystem methods directly: no /dev/fuse, no mount. On-disk checks read the
// host directories with ScorpioSys calls, so they see the raw kernel-overlayfs upper format
// (whiteout = character device 0/0, opaque directory = trusted.overlay.opaque "y").
//
// The tests expect to run as root (as in CI): setup chowns files, and the overlay writes the
// trusted.* opaque marker only as root (user.overlay.opaque otherwise). The temporary directory
// (TMPDIR) must be on a filesystem with xattrs, O_TMPFILE and RENAME_WHITEOUT (ext4, xfs, btrfs,
// tmpfs on Linux >= 6.6 for user.* xattrs); an overlayfs TMPDIR would itself interpret whiteouts.
import Foundation
import FUSEWire
import Logging
import Overlay
import ScorpioSys
import SystemPackage
import Testing

// MARK: - Constants

/// The caller of every request: root, as the tests run in CI.
let rootContext = RequestContext(uid: 0, gid: 0, pid: 0)

/// A logger that drops everything.
let quietLogger = Logger(label: "overlay-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// The opaque marker the overlay writes (and reads first): trusted.* as root, user.* otherwise.
let opaqueAttribute = effectiveUserID == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque"

/// A name as the FUSE protocol carries it.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Open flags as FUSE passes them.
let readOnlyFlags = UInt32(bitPattern: O_RDONLY_VALUE)
let readWriteFlags = UInt32(bitPattern: O_RDWR_VALUE)
let writeOnlyFlags = UInt32(bitPattern: O_WRONLY_VALUE)
let truncateFlags = UInt32(bitPattern: O_WRONLY_VALUE | O_TRUNC_VALUE)

/// renameat2 flags as FUSE_RENAME2 passes them.
let renameNoReplace: UInt32 = 1
let renameExchange: UInt32 = 2

// MARK: - Layer trees

/// One entry of a layer tree.
enum LayerItem: Sendable {
    /// A regular file with this text.
    case file(String)
    /// A plain directory (parents of files are created implicitly).
    case directory
    /// A directory carrying the opaque marker.
    case opaqueDirectory
    /// A whiteout: character device 0/0.
    case whiteout
    /// A symbolic link to this target.
    case symlink(String)
}

/// A layer's contents: paths relative to the layer root ("dir/file", no leading '/').
typealias LayerContents = [String: LayerItem]

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Creates `root` and fills it with `contents`, parents before children.
func buildLayer(at root: String, contents: LayerContents) throws {
    let manager = FileManager.default
    try manager.createDirectory(atPath: root, withIntermediateDirectories: true)
    let ordered = contents.sorted { lhs, rhs in
        let lhsDepth = lhs.key.split(separator: "/").count, rhsDepth = rhs.key.split(separator: "/").count
        return lhsDepth != rhsDepth ? lhsDepth < rhsDepth : lhs.key < rhs.key
    }
    for (relative, item) in ordered {
        let path = root + "/" + relative
        let parent = (path as NSString).deletingLastPathComponent
        try manager.createDirectory(atPath: parent, withIntermediateDirectories: true)
        switch item {
        case .file(let text):
            guard manager.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw FixtureError("cannot create \(path)")
            }
        case .directory:
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
        case .opaqueDirectory:
            try manager.createDirectory(atPath: path, withIntermediateDirectories: true)
            try Disk.setAttribute(path, opaqueAttribute, "y")
        case .whiteout:
            try FileDescriptor(rawValue: AT_FDCWD_VALUE).makeNode(at: bytes(path), mode: FileType.characterDevice.rawValue, device: 0)
        case .symlink(let target):
            try manager.createSymbolicLink(atPath: path, withDestinationPath: target)
        }
    }
}

/// Temporary upper and lower directories with an overlay over them. Call `remove()` in a defer.
struct OverlayFixture {
    let base: String
    let upperRoot: String
    /// Lower roots, highest first: `lowerRoots[0]` is layer 1.
    let lowerRoots: [String]
    let overlay: OverlayFileSystem

    init(upper: LayerContents = [:], lowers: [LayerContents], options: OverlayOptions = OverlayOptions()) throws {
        let temporary = NSTemporaryDirectory()
        let base = (temporary.hasSuffix("/") ? temporary : temporary + "/") + "scorpio-overlay-\(UUID().uuidString)"
        let upperRoot = base + "/upper"
        let lowerRoots = lowers.indices.map { base + "/lower\($0 + 1)" }
        let overlay: OverlayFileSystem
        do {
            try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
            try buildLayer(at: upperRoot, contents: upper)
            for (root, contents) in zip(lowerRoots, lowers) {
                try buildLayer(at: root, contents: contents)
            }
            let upperLayer = try HostDirectoryLayer(path: upperRoot, name: "upper")
            var lowerLayers: [any ReadableLayer] = []
            for (index, root) in lowerRoots.enumerated() {
                lowerLayers.append(try HostDirectoryLayer(path: root, name: "lower \(index + 1)"))
            }
            overlay = try OverlayFileSystem(upper: upperLayer, lowers: lowerLayers, options: options, logger: quietLogger)
        } catch {
            try? FileManager.default.removeItem(atPath: base)
            throw error
        }
        self.base = base
        self.upperRoot = upperRoot
        self.lowerRoots = lowerRoots
        self.overlay = overlay
    }

    /// Host path of `relative` in the upper layer.
    func upper(_ relative: String) -> String {
        relative.isEmpty ? upperRoot : upperRoot + "/" + relative
    }

    /// Host path of `relative` in lower layer `layer` (1 is the highest lower).
    func lower(_ layer: Int, _ relative: String) -> String {
        relative.isEmpty ? lowerRoots[layer - 1] : lowerRoots[layer - 1] + "/" + relative
    }

    /// Closes whatever the overlay still has open and deletes the temporary trees.
    func remove() {
        overlay.destroy()
        try? FileManager.default.removeItem(atPath: base)
    }
}

// MARK: - Host-side checks

/// Direct looks at the host directories, bypassing the overlay.
enum Disk {
    static let cwd = FileDescriptor(rawValue: AT_FDCWD_VALUE)

    /// lstat.
    static func stat(_ path: String) throws(Errno) -> FileStat {
        try cwd.stat(at: bytes(path))
    }

    /// Whether anything (even a whiteout) exists at `path`.
    static func exists(_ path: String) -> Bool {
        (try? Disk.stat(path)) != nil
    }

    /// The whole content of a regular file.
    static func contents(_ path: String) throws(Errno) -> String {
        let fd = try cwd.open(at: bytes(path), flags: O_RDONLY_VALUE | O_NOFOLLOW_VALUE)
        defer { fd.closeQuietly() }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        var data: [UInt8] = []
        while true {
            let count = try fd.read(into: buffer, at: Int64(data.count))
            if count == 0 { break }
            data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The sorted names in a host directory (without "." and "..").
    static func names(_ path: String) throws(Errno) -> [String] {
        try cwd.listDirectory(at: bytes(path)).map { String(decoding: $0.name, as: UTF8.self) }.sorted()
    }

    /// An extended attribute's value, nil when absent.
    static func attribute(_ path: String, _ name: String) throws(Errno) -> String? {
        try ExtendedAttributes.value(path: bytes(path), name: bytes(name)).map { String(decoding: $0, as: UTF8.self) }
    }

    static func setAttribute(_ path: String, _ name: String, _ value: String) throws {
        try Array(value.utf8).withUnsafeBytes { raw in
            try ExtendedAttributes.set(path: bytes(path), name: bytes(name), value: raw, flags: 0)
        }
    }

    static func changeOwner(_ path: String, uid: UInt32, gid: UInt32) throws(Errno) {
        try cwd.changeOwner(at: bytes(path), uid: uid, gid: gid)
    }

    static func changeMode(_ path: String, _ mode: UInt32) throws(Errno) {
        try cwd.changeMode(at: bytes(path), to: mode)
    }

    static func setTimes(_ path: String, access: TimeSpec, modification: TimeSpec) throws(Errno) {
        try cwd.setTimes(at: bytes(path), access: .time(access), modification: .time(modification))
    }

    /// A hard link `newPath` to `existingPath`.
    static func link(_ existingPath: String, _ newPath: String) throws(Errno) {
        try cwd.link(from: bytes(existingPath), to: bytes(newPath))
    }
}

/// Records an issue unless `path` is a kernel-overlayfs whiteout (character device 0/0).
func expectWhiteout(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let stat = try? Disk.stat(path) else {
        Issue.record("expected a whiteout at \(path), found nothing", sourceLocation: sourceLocation)
        return
    }
    #expect(stat.fileType == .characterDevice, "\(path) should be a character device (whiteout)", sourceLocation: sourceLocation)
    #expect(stat.rdev == 0, "\(path) should have device number 0/0 (whiteout)", sourceLocation: sourceLocation)
}

/// Records an issue unless `path` is a directory marked opaque.
func expectOpaqueDirectory(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let stat = try? Disk.stat(path) else {
        Issue.record("expected an opaque directory at \(path), found nothing", sourceLocation: sourceLocation)
        return
    }
    #expect(stat.fileType == .directory, "\(path) should be a directory", sourceLocation: sourceLocation)
    let marker = try? Disk.attribute(path, opaqueAttribute)
    #expect(marker == "y", "\(path) should carry \(opaqueAttribute)=y", sourceLocation: sourceLocation)
}

// MARK: - Overlay-side helpers

extension OverlayFileSystem {
    /// LOOKUP of one name (one lookup reference).
    func lookupName(_ name: String, in parent: InodeNumber = .root) throws(Errno) -> Entry {
        try self.lookup(rootContext, parent: parent, name: bytes(name))
    }

    /// LOOKUP of each component of `path` in turn; every component keeps its reference, as the
    /// kernel's dentries would.
    func lookupPath(_ path: String) throws(Errno) -> Entry {
        var parent = InodeNumber.root
        var last: Entry? = nil
        for component in path.split(separator: "/") {
            let entry = try self.lookup(rootContext, parent: parent, name: Array(component.utf8))
            parent = entry.inode
            last = entry
        }
        guard let last else { throw .invalidArgument }
        return last
    }

    /// Everything readable through `handle`, from offset 0.
    func readAll(_ inode: InodeNumber, handle: FileHandleID) throws(Errno) -> String {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)
        defer { buffer.deallocate() }
        var data: [UInt8] = []
        while true {
            let count = try self.read(rootContext, inode: inode, handle: handle, offset: UInt64(data.count), into: buffer)
            if count == 0 { break }
            data.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// OPEN read-only, READ everything, RELEASE.
    func readAll(_ inode: InodeNumber) throws(Errno) -> String {
        let opened = try self.open(rootContext, inode: inode, flags: readOnlyFlags)
        defer { self.release(rootContext, inode: inode, handle: opened.handle) }
        return try readAll(inode, handle: opened.handle)
    }

    /// WRITE of `text` at `offset`; returns the byte count.
    func writeText(_ text: String, inode: InodeNumber, handle: FileHandleID, offset: UInt64) throws -> Int {
        try Array(text.utf8).withUnsafeBytes { raw in
            try self.write(rootContext, inode: inode, handle: handle, offset: offset, data: raw)
        }
    }

    /// One READDIR from offset 0 taking every entry (directories have no handles).
    func entries(_ directory: InodeNumber) throws(Errno) -> [DirectoryEntry] {
        var collected: [DirectoryEntry] = []
        try self.readDirectory(rootContext, inode: directory, handle: FileHandleID(0), offset: 0) { entry in
            collected.append(entry)
            return true
        }
        return collected
    }

    /// The names READDIR lists, sorted ("." and ".." included).
    func names(_ directory: InodeNumber) throws(Errno) -> [String] {
        try entries(directory).map { String(decoding: $0.name, as: UTF8.self) }.sorted()
    }

    /// GETXATTR of a whole value.
    func attributeValue(_ inode: InodeNumber, _ name: String) throws(Errno) -> String {
        let size = try self.getExtendedAttribute(rootContext, inode: inode, name: bytes(name),
                                                 into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 1)
        defer { buffer.deallocate() }
        let count = try self.getExtendedAttribute(rootContext, inode: inode, name: bytes(name),
                                                  into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]))
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
    }

    /// SETXATTR.
    func setAttributeValue(_ inode: InodeNumber, _ name: String, _ value: String) throws {
        try Array(value.utf8).withUnsafeBytes { raw in
            try self.setExtendedAttribute(rootContext, inode: inode, name: bytes(name), value: raw, flags: 0)
        }
    }

    /// CREATE of an empty file, releasing the handle at once; returns the entry (one reference).
    func createFile(_ name: String, in parent: InodeNumber = .root) throws(Errno) -> Entry {
        let (entry, opened) = try self.create(rootContext, parent: parent, name: bytes(name), mode: 0o100644, flags: writeOnlyFlags)
        self.release(rootContext, inode: entry.inode, handle: opened.handle)
        return entry
    }
}

extension DirectoryEntry {
    /// The entry's name as text.
    var text: String { String(decoding: name, as: UTF8.self) }
}
