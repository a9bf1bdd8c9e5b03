// RENAME and RENAME2. A lower source is copied up and a whiteout is left at its old name; a merged
// directory is copied up as a whole tree and becomes opaque under its new name; RENAME_NOREPLACE
// refuses an existing target; RENAME_EXCHANGE swaps two names.
import FUSEWire
import Overlay
import ScorpioSys
import SystemPackage
import Testing

struct RenameTests {
    @Test func renameOfLowerFileLeavesWhiteoutAtOldName() throws {
        let fixture = try OverlayFixture(lowers: [["src": .file("payload")], ["src": .file("older payload")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let source = try fs.lookupName("src")
        try fs.rename(rootContext, parent: .root, name: bytes("src"), newParent: .root, newName: bytes("dst"), flags: 0)

        // Upper format: the file under its new name, a whiteout under the old one.
        expectWhiteout(fixture.upper("src"))
        #expect(try Disk.stat(fixture.upper("dst")).fileType == .regular)
        #expect(try Disk.contents(fixture.upper("dst")) == "payload")
        #expect(try Disk.names(fixture.upper("")) == ["dst", "src"])
        #expect(try Disk.contents(fixture.lower(1, "src")) == "payload")
        #expect(!Disk.exists(fixture.lower(1, "dst")))

        // Overlay view: the old name is gone (lower 2's copy stays hidden), the node moved along.
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("src") }
        let destination = try fs.lookupName("dst")
        #expect(destination.inode == source.inode)
        #expect(try fs.readAll(destination.inode) == "payload")
        #expect(try fs.readAll(source.inode) == "payload")
        #expect(try fs.names(.root) == [".", "..", "dst"])
    }

    @Test func renameOfMergedLowerDirectoryKeepsAllContentsAndNewUpperDirectoryIsOpaque() throws {
        let fixture = try OverlayFixture(lowers: [
            ["md/a": .file("A"), "md/gone": .whiteout],
            ["md/b": .file("B"), "md/sub/deep": .file("D"), "md/gone": .file("hidden")],
        ])
        defer { fixture.remove() }
        let fs = fixture.overlay
        let md = try fs.lookupName("md")
        try #require(try fs.names(md.inode) == [".", "..", "a", "b", "sub"])

        try fs.rename(rootContext, parent: .root, name: bytes("md"), newParent: .root, newName: bytes("moved"), flags: 0)

        // Upper format: a complete, opaque copy under the new name and a whiteout under the old.
        expectWhiteout(fixture.upper("md"))
        expectOpaqueDirectory(fixture.upper("moved"))
        #expect(try Disk.contents(fixture.upper("moved/a")) == "A")
        #expect(try Disk.contents(fixture.upper("moved/b")) == "B")
        #expect(try Disk.contents(fixture.upper("moved/sub/deep")) == "D")

        // Overlay view: everything from both layers is still there, nothing hidden came back.
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("md") }
        let moved = try fs.lookupName("moved")
        #expect(try fs.names(moved.inode) == [".", "..", "a", "b", "sub"])
        #expect(try fs.readAll(fs.lookupName("a", in: moved.inode).inode) == "A")
        #expect(try fs.readAll(fs.lookupName("b", in: moved.inode).inode) == "B")
        #expect(try fs.readAll(fs.lookupPath("moved/sub/deep").inode) == "D")
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("gone", in: moved.inode) }
        // The node that was looked up before the rename is the one under the new name.
        #expect(moved.inode == md.inode)

        // The lower layers did not change.
        #expect(try Disk.names(fixture.lower(1, "md")) == ["a", "gone"])
        #expect(try Disk.names(fixture.lower(2, "md")) == ["b", "gone", "sub"])
    }

    @Test func renameOfMergedDirectoryWithUpperPartKeepsAllContentsAndIsOpaque() throws {
        let fixture = try OverlayFixture(
            upper: ["mu/u": .file("U")],
            lowers: [["mu/l": .file("L")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        try fs.rename(rootContext, parent: .root, name: bytes("mu"), newParent: .root, newName: bytes("mv"), flags: 0)

        expectWhiteout(fixture.upper("mu"))
        expectOpaqueDirectory(fixture.upper("mv"))
        #expect(try Disk.names(fixture.upper("mv")) == ["l", "u"])
        #expect(try Disk.contents(fixture.upper("mv/l")) == "L")

        let mv = try fs.lookupName("mv")
        #expect(try fs.names(mv.inode) == [".", "..", "l", "u"])
        #expect(try fs.readAll(fs.lookupName("l", in: mv.inode).inode) == "L")
        #expect(try fs.readAll(fs.lookupName("u", in: mv.inode).inode) == "U")
        #expect(throws: Errno.noSuchFileOrDirectory) { try fs.lookupName("mu") }
    }

    @Test func renameNoReplaceOverExistingNameThrowsFileExists() throws {
        let fixture = try OverlayFixture(
            upper: ["z": .file("Z")],
            lowers: [["x": .file("X")], ["y": .file("Y")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        #expect(throws: Errno.fileExists) {
            try fs.rename(rootContext, parent: .root, name: bytes("x"), newParent: .root, newName: bytes("y"), flags: renameNoReplace)
        }
        #expect(throws: Errno.fileExists) {
            try fs.rename(rootContext, parent: .root, name: bytes("x"), newParent: .root, newName: bytes("z"), flags: renameNoReplace)
        }

        // Nothing was copied up or replaced.
        #expect(try Disk.names(fixture.upper("")) == ["z"])
        #expect(try fs.readAll(fs.lookupName("x").inode) == "X")
        #expect(try fs.readAll(fs.lookupName("y").inode) == "Y")
        #expect(try fs.readAll(fs.lookupName("z").inode) == "Z")

        // To a free name the same flag is no obstacle.
        try fs.rename(rootContext, parent: .root, name: bytes("x"), newParent: .root, newName: bytes("w"), flags: renameNoReplace)
        #expect(try fs.readAll(fs.lookupName("w").inode) == "X")
        expectWhiteout(fixture.upper("x"))
    }

    @Test func renameExchangeSwapsContents() throws {
        let fixture = try OverlayFixture(upper: ["q": .file("from q")], lowers: [["p": .file("from p, longer")]])
        defer { fixture.remove() }
        let fs = fixture.overlay

        let p = try fs.lookupName("p")
        let q = try fs.lookupName("q")
        try fs.rename(rootContext, parent: .root, name: bytes("p"), newParent: .root, newName: bytes("q"), flags: renameExchange)

        // Overlay view: the names swapped their files, and each node follows its file.
        let newP = try fs.lookupName("p")
        let newQ = try fs.lookupName("q")
        #expect(try fs.readAll(newP.inode) == "from q")
        #expect(try fs.readAll(newQ.inode) == "from p, longer")
        #expect(newP.inode == q.inode)
        #expect(newQ.inode == p.inode)
        #expect(try fs.readAll(p.inode) == "from p, longer")
        #expect(try fs.getAttributes(rootContext, inode: p.inode, handle: nil).size == UInt64("from p, longer".utf8.count))

        // Upper format: two regular files, swapped; no whiteout, since both names still exist.
        #expect(try Disk.names(fixture.upper("")) == ["p", "q"])
        #expect(try Disk.stat(fixture.upper("p")).fileType == .regular)
        #expect(try Disk.stat(fixture.upper("q")).fileType == .regular)
        #expect(try Disk.contents(fixture.upper("p")) == "from q")
        #expect(try Disk.contents(fixture.upper("q")) == "from p, longer")
        #expect(try Disk.contents(fixture.lower(1, "p")) == "from p, longer")
    }
}
