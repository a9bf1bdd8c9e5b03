// What a power loss can leave in the cache (files are not fsynced): an empty or torn commit
// or tree file reads as missing and is removed, an empty file for a blob that is not the empty
// blob too; temporary files of writers that are gone (and untouched for an hour) are swept
// at the next start.
import Foundation
import Glibc
import SystemPackage
import Testing
@testable import Dicfuse

@Suite struct ObjectStoreDamageTests {
    func withStore(_ body: (ObjectStore, String) throws -> Void) throws {
        let root = NSTemporaryDirectory() + "damage-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(try ObjectStore(root: root), root)
    }

    func path(_ root: String, _ kind: String, _ id: ObjectID) -> String {
        "\(root)/\(kind)/\(id.hex.prefix(2))/\(id.hex.dropFirst(2))"
    }

    /// A tree with one entry, as git encodes it.
    let tree = GitObject(type: .tree, data: Array("100644 a.txt\0".utf8) + Array(repeating: 0xab, count: 20))

    @Test func aTreeFileEmptiedByAPowerLossReadsAsMissing() throws {
        try withStore { store, root in
            try store.store(tree)
            #expect(store.metadata(tree.id) == tree.data)
            #expect(truncate(path(root, "objects", tree.id), 0) == 0)
            #expect(store.metadata(tree.id) == nil)
            #expect(!store.hasMetadata(tree.id), "the damaged file is removed, so a fetch stores it again")
            try store.store(tree)
            #expect(store.metadata(tree.id) == tree.data)
        }
    }

    @Test func aTornTreeFileReadsAsMissing() throws {
        try withStore { store, root in
            try store.store(tree)
            #expect(truncate(path(root, "objects", tree.id), tree.data.count - 3) == 0)
            #expect(store.metadata(tree.id) == nil)
        }
    }

    @Test func commitsAreCheckedAsCommits() throws {
        try withStore { store, _ in
            let commit = GitObject(type: .commit, data: Array("tree \(tree.id.hex)\nauthor A <a@b> 1 +0000\ncommitter A <a@b> 1 +0000\n\nm\n".utf8))
            try store.store(commit)
            #expect(store.metadata(commit.id) == commit.data)
        }
    }

    @Test func anEmptiedBlobFileIsDroppedButTheEmptyBlobIsNot() throws {
        try withStore { store, root in
            let blob = GitObject(type: .blob, data: Array("content\n".utf8))
            let empty = GitObject(type: .blob, data: [])
            #expect(empty.id == ObjectID.emptyBlob)
            try store.store(blob)
            try store.store(empty)
            #expect(store.cachedBlobSize(blob.id) == 8)
            #expect(truncate(path(root, "blobs", blob.id), 0) == 0)
            #expect(store.cachedBlobSize(blob.id) == nil)
            #expect(access(path(root, "blobs", blob.id), F_OK) != 0, "removed, so a fetch stores it again")
            try store.store(blob)
            #expect(truncate(path(root, "blobs", blob.id), 0) == 0)
            #expect(throws: Errno.noSuchFileOrDirectory) { _ = try store.openBlob(blob.id) }
            #expect(store.cachedBlobSize(empty.id) == 0)
            let fd = try store.openBlob(empty.id)
            fd.closeQuietly()
        }
    }

    @Test func temporariesOfGoneWritersAreSweptAtStart() throws {
        try withStore { _, root in
            let orphan = "\(root)/tmp/4194305-17"  // above the largest pid Linux allows
            let recent = "\(root)/tmp/4194305-19"  // also no such pid, but written just now
            let live = "\(root)/tmp/\(getpid())-18"
            #expect(FileManager.default.createFile(atPath: orphan, contents: Data("torn".utf8)))
            #expect(FileManager.default.createFile(atPath: recent, contents: Data("torn".utf8)))
            #expect(FileManager.default.createFile(atPath: live, contents: Data("being written".utf8)))
            let twoHoursAgo = Date(timeIntervalSinceNow: -7200)
            try FileManager.default.setAttributes([.modificationDate: twoHoursAgo], ofItemAtPath: orphan)
            try FileManager.default.setAttributes([.modificationDate: twoHoursAgo], ofItemAtPath: live)
            _ = try ObjectStore(root: root)
            #expect(access(orphan, F_OK) != 0)
            #expect(access(recent, F_OK) == 0, "a file written in the last hour may be another host's or namespace's")
            #expect(access(live, F_OK) == 0, "a running writer's file stays")
        }
    }
}
