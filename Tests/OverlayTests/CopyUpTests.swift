// Copy-up: the first change to a lower file recreates it in the upper layer with its data, mode,
// owner, times and user.* xattrs (and its parent directories), leaving the lower copy untouched.
// Reading never copies up.
import Foundation
import FUSEWire
import Overlay
import ScorpioSys
import SystemPackage
import Testing

struct CopyUpTests {
    @Test func writeToLowerFileCopiesItUpWithModeOwnerAndXattrs() throws {
        let fixture = try OverlayFixture(lowers: [["docs/f.txt": .file("hello")], ["docs/other": .file("o")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let lowerFile = fixture.lower(1, "docs/f.txt")
        try Disk.setAttribute(lowerFile, "user.test", "val")
        try Disk.changeOwner(lowerFile, uid: 1234, gid: 5678)
        try Disk.changeMode(lowerFile, 0o640)
        try Disk.changeMode(fixture.lower(1, "docs"), 0o750)
        let lowerBefore = try Disk.stat(lowerFile)

        let docs = try fs.lookupName("docs")
        let file = try fs.lookupName("f.txt", in: docs.inode)
        let opened = try fs.open(rootContext, inode: file.inode, flags: readWriteFlags)
        #expect(try fs.writeText("HE", inode: file.inode, handle: opened.handle, offset: 0) == 2)
        #expect(try fs.readAll(file.inode, handle: opened.handle) == "HEllo")
        fs.release(rootContext, inode: file.inode, handle: opened.handle)

        // Upper format: a complete regular file with the lower's metadata.
        let upperFile = fixture.upper("docs/f.txt")
        let upperStat = try Disk.stat(upperFile)
        #expect(upperStat.fileType == .regular)
        #expect(upperStat.permissions == 0o640)
        #expect(upperStat.uid == 1234)
        #expect(upperStat.gid == 5678)
        #expect(try Disk.contents(upperFile) == "HEllo")
        #expect(try Disk.attribute(upperFile, "user.test") == "val")
        // The parent came up as a plain (not opaque) directory with the lower's mode.
        let upperDocs = try Disk.stat(fixture.upper("docs"))
        #expect(upperDocs.fileType == .directory)
        #expect(upperDocs.permissions == 0o750)
        #expect(try Disk.attribute(fixture.upper("docs"), opaqueAttribute) == nil)
        #expect(try Disk.names(fixture.upper("docs")) == ["f.txt"])

        // The lower copy did not change.
        #expect(try Disk.contents(lowerFile) == "hello")
        let lowerAfter = try Disk.stat(lowerFile)
        #expect(lowerAfter.size == lowerBefore.size)
        #expect(lowerAfter.modificationTime == lowerBefore.modificationTime)
        #expect(lowerAfter.permissions == 0o640)

        // The overlay's view: the upper copy, under the same st_ino as before the copy-up.
        let attributes = try fs.getAttributes(rootContext, inode: file.inode, handle: nil)
        #expect(attributes.mode == 0o100640)
        #expect(attributes.uid == 1234)
        #expect(attributes.gid == 5678)
        #expect(attributes.size == 5)
        #expect(attributes.inode == file.attributes.inode)
        #expect(try fs.attributeValue(file.inode, "user.test") == "val")
        #expect(try fs.readAll(fs.lookupName("f.txt", in: docs.inode).inode) == "HEllo")
        // The copied-up directory still merges lower 2's entries.
        #expect(try fs.names(docs.inode) == [".", "..", "f.txt", "other"])
    }

    @Test func setxattrCopyUpPreservesModificationTimeModeOwnerAndXattrs() throws {
        let fixture = try OverlayFixture(lowers: [["g": .file("gee")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let lowerFile = fixture.lower(1, "g")
        try Disk.setAttribute(lowerFile, "user.keep", "k")
        try Disk.changeOwner(lowerFile, uid: 4321, gid: 8765)
        // setgid with group execute: the chown during copy-up clears it, so mode must come after.
        try Disk.changeMode(lowerFile, 0o2750)
        let modification = TimeSpec(seconds: 1_234_567_890, nanoseconds: 123_456_789)
        try Disk.setTimes(lowerFile, access: TimeSpec(seconds: 1_111_111_111, nanoseconds: 0), modification: modification)
        let lowerStat = try Disk.stat(lowerFile)
        try #require(lowerStat.permissions == 0o2750)
        try #require(lowerStat.modificationTime.seconds == modification.seconds)

        let g = try fs.lookupName("g")
        try fs.setAttributeValue(g.inode, "user.added", "new")

        let upperFile = fixture.upper("g")
        let upperStat = try Disk.stat(upperFile)
        #expect(upperStat.fileType == .regular)
        #expect(upperStat.modificationTime == lowerStat.modificationTime)
        #expect(upperStat.permissions == 0o2750)
        #expect(upperStat.uid == 4321)
        #expect(upperStat.gid == 8765)
        #expect(try Disk.contents(upperFile) == "gee")
        #expect(try Disk.attribute(upperFile, "user.keep") == "k")
        #expect(try Disk.attribute(upperFile, "user.added") == "new")
        // The lower copy did not get the new attribute.
        #expect(try Disk.attribute(lowerFile, "user.added") == nil)
        #expect(try Disk.stat(lowerFile).modificationTime == lowerStat.modificationTime)

        let attributes = try fs.getAttributes(rootContext, inode: g.inode, handle: nil)
        #expect(attributes.modificationSeconds == lowerStat.modificationTime.seconds)
        #expect(attributes.modificationNanoseconds == lowerStat.modificationTime.nanoseconds)
        #expect(attributes.mode == 0o102750)
        #expect(try fs.attributeValue(g.inode, "user.keep") == "k")
        #expect(try fs.attributeValue(g.inode, "user.added") == "new")
    }

    @Test func truncatingLowerFileWithSetattrCopiesUpWithSizeZero() throws {
        let fixture = try OverlayFixture(lowers: [["t": .file("abcdef")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        try Disk.changeMode(fixture.lower(1, "t"), 0o604)

        let t = try fs.lookupName("t")
        #expect(t.attributes.size == 6)
        let result = try fs.setAttributes(rootContext, inode: t.inode, changes: AttributeChanges(size: 0))
        #expect(result.size == 0)
        #expect(result.inode == t.attributes.inode)
        #expect(try fs.getAttributes(rootContext, inode: t.inode, handle: nil).size == 0)
        #expect(try fs.readAll(t.inode) == "")

        let upperStat = try Disk.stat(fixture.upper("t"))
        #expect(upperStat.fileType == .regular)
        #expect(upperStat.size == 0)
        #expect(upperStat.permissions == 0o604)
        #expect(try Disk.contents(fixture.lower(1, "t")) == "abcdef")
    }

    @Test func openWithTruncateCopiesUpMetadataWithoutData() throws {
        let fixture = try OverlayFixture(lowers: [["sub/t": .file("old contents")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        try Disk.changeMode(fixture.lower(1, "sub/t"), 0o600)

        let t = try fs.lookupPath("sub/t")
        let opened = try fs.open(rootContext, inode: t.inode, flags: truncateFlags)
        #expect(try fs.writeText("new", inode: t.inode, handle: opened.handle, offset: 0) == 3)
        fs.release(rootContext, inode: t.inode, handle: opened.handle)

        #expect(try fs.readAll(t.inode) == "new")
        #expect(try Disk.contents(fixture.upper("sub/t")) == "new")
        #expect(try Disk.stat(fixture.upper("sub/t")).permissions == 0o600)
        #expect(try Disk.contents(fixture.lower(1, "sub/t")) == "old contents")
    }

    @Test func readOnlyOpenOfLowerFileDoesNotCopyUp() throws {
        let fixture = try OverlayFixture(lowers: [["sub/ro.txt": .file("read me")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let file = try fs.lookupPath("sub/ro.txt")
        let opened = try fs.open(rootContext, inode: file.inode, flags: readOnlyFlags)
        #expect(try fs.readAll(file.inode, handle: opened.handle) == "read me")
        _ = try fs.getAttributes(rootContext, inode: file.inode, handle: opened.handle)
        fs.release(rootContext, inode: file.inode, handle: opened.handle)

        // Neither the file nor its parent appeared in the upper layer.
        #expect(try Disk.names(fixture.upper("")).isEmpty)
        #expect(!Disk.exists(fixture.upper("sub")))
        #expect(try Disk.contents(fixture.lower(1, "sub/ro.txt")) == "read me")
    }

    /// A small lower file opened read-only is opened on the host at its first READ. When another
    /// open copied it up and wrote in between, that READ (and every later one) reads the upper
    /// copy, as kernel overlayfs (4.19+) switches such a reader to the copy.
    @Test func readOnlyHandleOfLowerFileFollowsACopyUp() throws {
        let fixture = try OverlayFixture(lowers: [["sub/ro.txt": .file("read me")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let file = try fs.lookupPath("sub/ro.txt")
        let reader = try fs.open(rootContext, inode: file.inode, flags: readOnlyFlags)
        #expect(reader.flags.contains(.keepCache) && !reader.flags.contains(.passthrough))
        #expect(try fs.readAll(file.inode, handle: reader.handle) == "read me")
        let writer = try fs.open(rootContext, inode: file.inode, flags: readWriteFlags)
        #expect(try fs.writeText("changed", inode: file.inode, handle: writer.handle, offset: 0) == 7)
        #expect(try fs.readAll(file.inode, handle: reader.handle) == "changed")
        fs.release(rootContext, inode: file.inode, handle: writer.handle)
        #expect(try fs.readAll(file.inode, handle: reader.handle) == "changed")
        fs.release(rootContext, inode: file.inode, handle: reader.handle)
        #expect(try Disk.contents(fixture.lower(1, "sub/ro.txt")) == "read me")
    }
}

struct ExtendedAttributeVisibilityTests {
    @Test func overlayOwnMarkersAreNeitherListedNorReadable() throws {
        let fixture = try OverlayFixture(upper: ["op": .opaqueDirectory], lowers: [["op/x": .file("x")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        try Disk.setAttribute(fixture.upper("op"), "user.visible", "v")

        let op = try fs.lookupName("op")
        let size = try fs.listExtendedAttributes(rootContext, inode: op.inode, into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 1)
        defer { buffer.deallocate() }
        let count = try fs.listExtendedAttributes(rootContext, inode: op.inode, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<size]))
        let names = UnsafeRawBufferPointer(rebasing: buffer[0..<count]).split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(names.contains("user.visible"))
        let privateNames = names.filter { $0.hasPrefix("trusted.overlay.") || $0.hasPrefix("user.overlay.") }
        #expect(privateNames.isEmpty, "overlay markers listed: \(privateNames)")
        #expect(throws: Errno.noData) { try fs.attributeValue(op.inode, opaqueAttribute) }
    }

    /// What a daemon killed in the middle of copying a directory up leaves: the directory at its
    /// final name, root's, with mode 0700 added, and the origin marker saying "incomplete". The
    /// next lookup finishes the copy-up from the lower directory.
    @Test func aDirectoryCopyUpCutShortIsFinishedAtTheNextLookup() throws {
        let fixture = try OverlayFixture(lowers: [["d/x": .file("x")]])
        defer { fixture.remove() }
        try Disk.changeMode(fixture.lower(1, "d"), 0o555)
        try Disk.changeOwner(fixture.lower(1, "d"), uid: 1234, gid: 2345)
        let lowerInode = try Disk.stat(fixture.lower(1, "d")).inode
        try FileManager.default.createDirectory(atPath: fixture.upper("d"), withIntermediateDirectories: false)
        try Disk.changeMode(fixture.upper("d"), 0o755)
        let reported = (lowerInode & 0x00FF_FFFF_FFFF_FFFF) | 1 << 56  // layer 1's st_ino
        let marker: [UInt8] = withUnsafeBytes(of: reported.littleEndian) { Array($0) } + [1]
        let originName = effectiveUserID == 0 ? "trusted.overlay.scorpio.origin" : "user.overlay.scorpio.origin"
        try marker.withUnsafeBytes { raw in
            try ExtendedAttributes.set(path: bytes(fixture.upper("d")), name: bytes(originName), value: raw, flags: 0)
        }

        let d = try fixture.overlay.lookupName("d")
        #expect(d.attributes.mode & 0o7777 == 0o555)
        #expect(d.attributes.uid == 1234 && d.attributes.gid == 2345)
        #expect(d.attributes.inode == reported, "the origin's st_ino")
        let upperStat = try Disk.stat(fixture.upper("d"))
        #expect(upperStat.permissions == 0o555 && upperStat.uid == 1234)
        let value = try ExtendedAttributes.value(path: bytes(fixture.upper("d")), name: bytes(originName))
        #expect(value?.count == 8, "marked complete")
        #expect(try fixture.overlay.readAll(try fixture.overlay.lookupPath("d/x").inode) == "x")
    }
}
