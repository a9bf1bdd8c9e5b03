// Tree lookups binary-search git's tree order (a directory sorts as if its name ended in "/").
// The order is checked against git itself (`git mktree` sorts what it writes), and a tree in
// another order is sorted once so lookups still find every entry.
import Testing
@testable import Dicfuse

@Suite struct TreeOrderTests {
    /// Names chosen around the "/" rule: "a-b" < "a.txt" < "a/" < "a0", and a directory whose
    /// name is a prefix of files' names.
    static let files = ["a-b", "a.txt", "a0", "foo.c", "foo-bar", "foo0", "z", "\u{7f}x"]
    static let directories = ["a", "foo", "zz"]

    @Test func gitOrderMatchesGitAndEveryNameIsFound() throws {
        let repo = try GitRepo.create()
        defer { repo.remove() }
        let blob = try repo.text(["hash-object", "-w", "--stdin"], input: Array("x".utf8))
        let emptyTree = try repo.text(["mktree"], input: [])
        var listing = ""
        for name in Self.files { listing += "100644 blob \(blob)\t\(name)\n" }
        for name in Self.directories { listing += "040000 tree \(emptyTree)\t\(name)\n" }
        let tree = try repo.text(["mktree"], input: Array(listing.utf8))
        let entries = try TreeParser.parse(try repo.git(["cat-file", "tree", tree]))

        #expect(entries.isInGitOrder)
        #expect(entries.sortedInGitOrder() == entries)
        for (index, entry) in entries.enumerated() {
            #expect(entries.gitIndex(of: entry.name) == index, "\(String(decoding: entry.name, as: UTF8.self))")
        }
        for missing in ["a/", "fo", "foo.", "b", "", "zzz"] {
            #expect(entries.gitIndex(of: Array(missing.utf8)) == nil, "\(missing)")
        }
        let names = entries.map { String(decoding: $0.name, as: UTF8.self) }
        #expect(names.firstIndex(of: "a-b")! < names.firstIndex(of: "a.txt")!)
        #expect(names.firstIndex(of: "a.txt")! < names.firstIndex(of: "a")!)
        #expect(names.firstIndex(of: "a")! < names.firstIndex(of: "a0")!)

        let shuffled = Array(entries.reversed())
        #expect(!shuffled.isInGitOrder)
        let sorted = shuffled.sortedInGitOrder()
        #expect(sorted == entries)
    }
}
