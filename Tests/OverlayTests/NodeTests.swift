// Node identity and lifetime: hard links share one node and one st_ino; st_ino values stay
// distinct across layers even where host inode numbers coincide; lookup counts are released by
// FORGET so the node table stays bounded; a removed node is never handed out again for a new file.
import FUSEWire
import Overlay
import ScorpioSys
import SystemPackage
import Testing

struct LinkTests {
    @Test func hardLinkOfLowerFileReportsSameInodeUnderBothNames() throws {
        let fixture = try OverlayFixture(lowers: [["orig": .file("data")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let baseline = fs.liveNodeCount

        let original = try fs.lookupName("orig")
        let linked = try fs.link(rootContext, inode: original.inode, newParent: .root, newName: bytes("alias"))
        #expect(linked.inode == original.inode)
        #expect(linked.attributes.inode == original.attributes.inode)
        #expect(linked.attributes.linkCount == 2)

        let viaOriginal = try fs.lookupName("orig")
        let viaAlias = try fs.lookupName("alias")
        #expect(viaOriginal.attributes.inode == viaAlias.attributes.inode)
        #expect(viaOriginal.attributes.inode == original.attributes.inode)
        #expect(viaOriginal.inode == viaAlias.inode)
        #expect(viaAlias.attributes.linkCount == 2)
        #expect(try fs.readAll(viaAlias.inode) == "data")

        // Upper format: the copied-up file and the new name are one host inode.
        let upperOriginal = try Disk.stat(fixture.upper("orig"))
        let upperAlias = try Disk.stat(fixture.upper("alias"))
        #expect(upperOriginal.inode == upperAlias.inode)
        #expect(upperOriginal.linkCount == 2)
        #expect(try Disk.contents(fixture.upper("alias")) == "data")
        #expect(try Disk.stat(fixture.lower(1, "orig")).linkCount == 1)

        // Once the kernel forgets the node, both names still agree with each other, and with
        // the st_ino the file had before its copy-up (the origin xattr on the upper copy).
        fs.forget(original.inode, count: 4)
        #expect(fs.liveNodeCount == baseline)
        let again = try fs.lookupName("orig")
        let aliasAgain = try fs.lookupName("alias")
        #expect(again.attributes.inode == aliasAgain.attributes.inode)
        #expect(again.inode == aliasAgain.inode)
        #expect(again.attributes.inode == original.attributes.inode)
    }

    /// A hard link's node keeps working when the kernel forgets the directory of the name the
    /// daemon knew it by first, while the file stays known through its other name.
    @Test func hardLinkStaysReachableWhenTheDirectoryOfItsFirstNameIsForgotten() throws {
        let fixture = try OverlayFixture(lowers: [[:]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let d1 = try fs.makeDirectory(rootContext, parent: .root, name: bytes("d1"), mode: 0o755)
        let d2 = try fs.makeDirectory(rootContext, parent: .root, name: bytes("d2"), mode: 0o755)
        let (file, created) = try fs.create(rootContext, parent: d1.inode, name: bytes("a"), mode: 0o100644, flags: readWriteFlags)
        #expect(try fs.writeText("linked", inode: file.inode, handle: created.handle, offset: 0) == 6)
        fs.release(rootContext, inode: file.inode, handle: created.handle)
        let link = try fs.link(rootContext, inode: file.inode, newParent: d2.inode, newName: bytes("c"))
        #expect(link.inode == file.inode)
        fs.forget(file.inode, count: 1)  // the dentry d1/a went; d2/c holds the inode
        fs.forget(d1.inode, count: 1)    // and then d1 itself
        #expect(try fs.readAll(file.inode) == "linked")
        // Found again under its first name, in d1's new node: still one node, still readable.
        let again = try fs.lookupPath("d1/a")
        #expect(again.inode == file.inode)
        #expect(try fs.readAll(again.inode) == "linked")
        _ = try fs.setAttributes(rootContext, inode: file.inode, changes: AttributeChanges(mode: 0o100600))
        #expect(try Disk.stat(fixture.upper("d1/a")).permissions == 0o600)
    }

    @Test func copiedUpObjectsKeepTheirInodeNumberAfterForget() throws {
        let fixture = try OverlayFixture(lowers: [["dir": .directory, "dir/file": .file("data")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let directory = try fs.lookupName("dir")
        let file = try fs.lookupPath("dir/file")
        var changes = AttributeChanges()
        changes.mode = 0o600
        _ = try fs.setAttributes(rootContext, inode: file.inode, changes: changes)
        #expect(Disk.exists(fixture.upper("dir/file")), "the chmod copied the file up")
        fs.forget(file.inode, count: 1)
        fs.forget(directory.inode, count: 2)  // lookupName("dir") and lookupPath's walk through it
        #expect(fs.liveNodeCount == 1, "only the root is left")
        #expect(try fs.lookupName("dir").attributes.inode == directory.attributes.inode)
        #expect(try fs.lookupPath("dir/file").attributes.inode == file.attributes.inode)
    }
}

struct InodeNumberTests {
    @Test func mergedListingEntriesHaveDistinctInodesAfterLookup() throws {
        let fixture = try OverlayFixture(
            upper: ["u": .file("u"), "shared": .file("upper")],
            lowers: [
                ["l1": .file("l1"), "h": .file("linked"), "shared": .file("l1"), "dir/x": .file("x")],
                ["l2": .file("l2"), "shared": .file("l2"), "dir/y": .file("y"), "d2": .directory],
            ])
        defer { fixture.remove() }
        let fs = fixture.overlay
        // Host inode numbers that coincide across layers: one host file under a name in lower 1
        // and another in lower 2, and an upper name for lower 1's l1.
        try Disk.link(fixture.lower(1, "h"), fixture.lower(2, "k"))
        try Disk.link(fixture.lower(1, "l1"), fixture.upper("uh"))
        try #require(try Disk.stat(fixture.lower(1, "h")).inode == Disk.stat(fixture.lower(2, "k")).inode)

        let listing = try fs.entries(.root)
        let names = listing.map(\.text).filter { $0 != "." && $0 != ".." }
        #expect(names.sorted() == ["d2", "dir", "h", "k", "l1", "l2", "shared", "u", "uh"])

        var reported: [String: UInt64] = [:]
        var nodes: [String: InodeNumber] = [:]
        for name in names {
            let entry = try fs.lookupName(name)
            reported[name] = entry.attributes.inode
            nodes[name] = entry.inode
        }
        #expect(Set(reported.values).count == names.count, "st_ino values collide: \(reported)")
        #expect(Set(nodes.values).count == names.count, "node ids collide: \(nodes)")
        let rootInode = try fs.getAttributes(rootContext, inode: .root, handle: nil).inode
        #expect(!reported.values.contains(rootInode))
        // READDIR's d_ino agrees with LOOKUP's st_ino for every name.
        for entry in listing where entry.text != "." && entry.text != ".." {
            #expect(reported[entry.text] == entry.inode, "d_ino of \(entry.text)")
        }
    }

    /// A copied-up file and directory keep their lower st_ino (origin), and a listing made
    /// after the copy-up gives the same number as d_ino, as on overlayfs.
    @Test func copiedUpEntriesListTheInodeNumberStatReports() throws {
        let fixture = try OverlayFixture(lowers: [["f": .file("lower"), "d/x": .file("x"), "g": .file("untouched")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let f = try fs.lookupName("f")
        let d = try fs.lookupName("d")
        _ = try fs.setAttributes(rootContext, inode: f.inode, changes: AttributeChanges(size: 1))  // copies f up
        _ = try fs.setAttributes(rootContext, inode: d.inode, changes: AttributeChanges(mode: 0o700))  // and d
        try #require(try Disk.stat(fixture.upper("f")).fileType == .regular)
        try #require(try Disk.stat(fixture.upper("d")).fileType == .directory)
        let statInodes = ["f": try fs.getAttributes(rootContext, inode: f.inode, handle: nil).inode,
                          "d": try fs.getAttributes(rootContext, inode: d.inode, handle: nil).inode]
        #expect(statInodes["f"] == f.attributes.inode && statInodes["d"] == d.attributes.inode, "copy-up kept st_ino")
        let listed = Dictionary(uniqueKeysWithValues: try fs.entries(.root).map { ($0.text, $0.inode) })
        #expect(listed["f"] == statInodes["f"])
        #expect(listed["d"] == statInodes["d"])
        #expect(listed["g"] == (try fs.lookupName("g")).attributes.inode)
    }
}

/// Copy-ups moved to names no lower has: a renamed copied-up file, and the entries of a lower
/// directory renamed as a whole tree, list the st_ino `stat` gives them (their origin).
struct MovedCopyUpInodeTests {
    @Test func renamedCopyUpsListTheInodeNumberStatReports() throws {
        let fixture = try OverlayFixture(lowers: [["f": .file("lower"), "d/x": .file("x"), "d/sub/y": .file("y")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let f = try fs.lookupName("f")
        _ = try fs.setAttributes(rootContext, inode: f.inode, changes: AttributeChanges(size: 1))  // copies f up
        try fs.rename(rootContext, parent: .root, name: bytes("f"), newParent: .root, newName: bytes("renamed"), flags: 0)
        try fs.rename(rootContext, parent: .root, name: bytes("d"), newParent: .root, newName: bytes("moved"), flags: 0)
        try #require(try Disk.stat(fixture.upper("moved/x")).fileType == .regular, "the tree was copied up")

        let renamed = try fs.lookupName("renamed")
        #expect(renamed.attributes.inode == f.attributes.inode, "st_ino kept across the rename")
        let root = Dictionary(uniqueKeysWithValues: try fs.entries(.root).map { ($0.text, $0.inode) })
        #expect(root["renamed"] == renamed.attributes.inode)
        let moved = try fs.lookupName("moved")
        #expect(root["moved"] == moved.attributes.inode)
        let inside = Dictionary(uniqueKeysWithValues: try fs.entries(moved.inode).map { ($0.text, $0.inode) })
        #expect(inside["x"] == (try fs.lookupName("x", in: moved.inode)).attributes.inode)
        #expect(inside["sub"] == (try fs.lookupName("sub", in: moved.inode)).attributes.inode)
    }
}

struct LookupCountTests {
    @Test func threeLookupsReleasedByOneForgetOfCountThree() throws {
        let fixture = try OverlayFixture(lowers: [["f": .file("f")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let baseline = fs.liveNodeCount

        let first = try fs.lookupName("f")
        let second = try fs.lookupName("f")
        let third = try fs.lookupName("f")
        #expect(first.inode == second.inode && second.inode == third.inode)
        #expect(fs.liveNodeCount == baseline + 1)

        fs.forget(first.inode, count: 3)
        #expect(fs.liveNodeCount == baseline)
    }

    @Test func nodeStaysUntilLastLookupIsForgotten() throws {
        let fixture = try OverlayFixture(lowers: [["f": .file("f")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let baseline = fs.liveNodeCount

        let entry = try fs.lookupName("f")
        _ = try fs.lookupName("f")
        _ = try fs.lookupName("f")
        fs.forget(entry.inode, count: 2)
        #expect(fs.liveNodeCount == baseline + 1)
        #expect(try fs.getAttributes(rootContext, inode: entry.inode, handle: nil).size == 1)
        fs.forget(entry.inode, count: 1)
        #expect(fs.liveNodeCount == baseline)
        #expect(throws: Errno.staleNFSFileHandle) { try fs.getAttributes(rootContext, inode: entry.inode, handle: nil) }
    }

    @Test func createLookupAndForgetOfThousandFilesReturnsToBaseline() throws {
        let fixture = try OverlayFixture(lowers: [["many/seed": .file("s")]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let baseline = fs.liveNodeCount

        let many = try fs.lookupName("many")
        let names = (0..<1000).map { "file\($0)" }
        for name in names {
            let entry = try fs.createFile(name, in: many.inode)
            fs.forget(entry.inode, count: 1)
        }
        #expect(fs.liveNodeCount == baseline + 1)

        var peak = 0
        for name in names {
            let entry = try fs.lookupName(name, in: many.inode)
            peak = max(peak, fs.liveNodeCount)
            fs.forget(entry.inode, count: 1)
        }
        #expect(peak == baseline + 2, "one node per looked-up file at a time")
        #expect(fs.liveNodeCount == baseline + 1)
        #expect(try fs.entries(many.inode).count == 2 + 1 + 1000)

        fs.forget(many.inode, count: 1)
        #expect(fs.liveNodeCount == baseline)
    }
}

struct NodeReuseTests {
    /// A shell whose working directory is build/ keeps the kernel's reference to it (no FORGET
    /// arrives) while another process runs `rm -rf build && mkdir build`. The new directory is
    /// a different object: handing out the old node id would attach it to the kernel's dead
    /// inode. Host filesystems such as ext4 and xfs reuse a freed inode number at once.
    @Test func recreatedDirectoryGetsNewNodeWhileRemovedOneIsStillReferenced() throws {
        let fixture = try OverlayFixture(lowers: [[:]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let old = try fs.makeDirectory(rootContext, parent: .root, name: bytes("build"), mode: 0o755)
        try fs.removeDirectory(rootContext, parent: .root, name: bytes("build"))
        let recreated = try fs.makeDirectory(rootContext, parent: .root, name: bytes("build"), mode: 0o755)
        #expect(recreated.inode != old.inode)
    }

    /// The same for a file removed while the kernel still holds its node.
    @Test func newFileGetsNewNodeWhileRemovedFileIsStillReferenced() throws {
        let fixture = try OverlayFixture(lowers: [[:]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let old = try fs.createFile("old")
        try fs.unlink(rootContext, parent: .root, name: bytes("old"))
        let created = try fs.createFile("new")
        #expect(created.inode != old.inode)
        #expect(try fs.lookupName("new").inode == created.inode)
    }
}

struct MergedDirectoryTests {
    @Test func mergedDirectoriesReportOneLinkAndPlainOnesTheirOwn() throws {
        let fixture = try OverlayFixture(upper: ["both": .directory, "both/up": .directory],
                                         lowers: [["both": .directory, "both/a": .directory, "both/b": .directory, "only": .directory, "only/x": .directory]])
        defer { fixture.remove() }
        let fs = fixture.overlay
        #expect(try fs.lookupName("both").attributes.linkCount == 1, "merged: upper's count would hide the lower subdirectories")
        #expect(try fs.getAttributes(rootContext, inode: .root, handle: nil).linkCount == 1)
        #expect(try fs.lookupName("only").attributes.linkCount == 3, "a directory of one layer keeps its count")
    }
}
