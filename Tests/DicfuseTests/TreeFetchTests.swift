// A commit's trees are fetched as a stream (GitRemote.fetchTrees): each tree is handed out as
// soon as the pack yields it, and trees dropped from the bounded delta-base cache are read back
// through the caller. The packs are made by git itself (pack-objects deltifies similar trees)
// and served by PackHTTPServer; a corrupt or truncated pack still fails the fetch.
import Foundation
import Logging
import Testing
@testable import Dicfuse

@Suite struct TreeFetchTests {
    /// A repository of 30 directories holding the same 25 files and one of their own, so its
    /// trees differ in one entry and git stores most of them as deltas. Returns the commit and
    /// the commit's blob-less pack as git makes it.
    static func treePack() throws -> (ObjectID, [UInt8]) {
        let repo = try GitRepo.create()
        defer { repo.remove() }
        for directory in 0..<30 {
            for file in 0..<25 { try repo.write("dir\(directory)/file\(file).txt", "shared \(file)\n") }
            try repo.write("dir\(directory)/own.txt", "\(directory)\n")
        }
        try repo.commitAll("trees", time: 1_700_000_000)
        let commit = try #require(ObjectID(hex: try repo.text(["rev-parse", "HEAD"])))
        let objects = try repo.git(["rev-list", "--objects", "--filter=blob:none", "HEAD"])
        let pack = try repo.git(["pack-objects", "--stdout", "-q", "--window=50"], input: objects)
        return (commit, pack)
    }

    /// Fetches the trees of `commit` from a server sending `pack`, keeping the delivered
    /// objects as the store would and counting the bases read back.
    static func fetch(_ commit: ObjectID, serving pack: [UInt8], baseCacheBytes: Int)
        throws -> (delivered: [ObjectID: GitObject], readBack: Int, error: RemoteError?) {
        let (server, port) = try PackHTTPServer.start(pack: pack, refuseFetch: false)
        defer { PackHTTPServer.stop(server) }
        let remote = try HTTPStreamTests.remote(port: port)
        var delivered: [ObjectID: GitObject] = [:]
        var readBack = 0
        do {
            try remote.fetchTrees(of: commit, baseCacheBytes: baseCacheBytes, loadBase: { id in
                readBack += 1
                return delivered[id].map { GitObject(type: .tree, data: $0.data) }
            }) { object in delivered[object.id] = object }
        } catch {
            return (delivered, readBack, error)
        }
        return (delivered, readBack, nil)
    }

    @Test func everyTreeIsDeliveredWithBasesReadBack() throws {
        let (commit, pack) = try Self.treePack()
        let deltas = try PackParser.scan(pack).filter { if case .plain = $0.kind { false } else { true } }.count
        #expect(deltas > 10, "git stored the similar trees as deltas (\(deltas))")
        let expected = try PackParser.parse(pack)
        // No tree stays cached as a base: every delta's base is read back from what was delivered.
        let (delivered, readBack, error) = try Self.fetch(commit, serving: pack, baseCacheBytes: 1)
        #expect(error == nil, "\(String(describing: error))")
        #expect(Set(delivered.keys) == Set(expected.map(\.id)))
        for object in expected { #expect(delivered[object.id]?.data == object.data) }
        #expect(expected.filter { $0.type == .tree }.count == 31)
        #expect(readBack >= deltas, "each delta's base came back from the store (\(readBack) of \(deltas))")
    }

    @Test func aPackWithABadTrailerFailsTheFetch() throws {
        let (commit, pack) = try Self.treePack()
        var corrupt = pack
        corrupt[corrupt.count - 1] ^= 0xff
        let (delivered, _, error) = try Self.fetch(commit, serving: corrupt, baseCacheBytes: 16 << 20)
        guard case .pack(let message)? = error else {
            Issue.record("a pack with a bad trailer was accepted: \(String(describing: error))")
            return
        }
        #expect(message.contains("checksum"), "\(message)")
        // What was handed out before the trailer is still verified content.
        for object in delivered.values { #expect(ObjectHasher.id(type: object.type, data: object.data) == object.id) }
    }

    @Test func aTruncatedPackFailsTheFetch() throws {
        let (commit, pack) = try Self.treePack()
        let (_, _, error) = try Self.fetch(commit, serving: Array(pack[..<(pack.count / 2)]), baseCacheBytes: 16 << 20)
        guard case .pack? = error else {
            Issue.record("a truncated pack was accepted: \(String(describing: error))")
            return
        }
    }

    @Test func aPackWithoutTheCommitFailsTheFetch() throws {
        let (_, pack) = try Self.treePack()
        let other = ObjectHasher.id(type: .commit, data: Array("not in the pack".utf8))
        let (_, _, error) = try Self.fetch(other, serving: pack, baseCacheBytes: 16 << 20)
        guard case .pack(let message)? = error else {
            Issue.record("a pack without the wanted commit was accepted: \(String(describing: error))")
            return
        }
        #expect(message.contains("did not send \(other.hex)"), "\(message)")
    }
}
