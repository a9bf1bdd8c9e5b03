// The node table gives its memory back when the kernel forgets most of its nodes: Swift
// dictionaries keep their capacity as elements go, so after a walk of many files the table is
// rebuilt to fit once it is at most a quarter full, and the nodes that stay are unchanged.
import FUSEWire
import ScorpioSys
import Testing
@testable import Overlay

@Suite struct InodeTableCompactionTests {
    static func file(_ number: UInt64) -> Resolved {
        Resolved(layer: 1, stat: FileStat(device: 7, inode: number, mode: 0o100644, size: number), lowerDirectories: [])
    }

    @Test func forgettingMostNodesShrinksTheTablesAndKeepsTheRest() throws {
        let rootKey = HostKey(layer: 0, device: 7, inode: 1)
        var table = InodeTable(root: Node(links: [], lookups: 1, openHandles: 0, layer: 0, lowerDirectories: [], isDirectory: true,
                                          reportedInode: 1, lowerSize: 0, key: rootKey, backing: nil))
        let count: UInt64 = 200_000
        var ids: [InodeNumber] = []
        for number in 2..<(count + 2) {
            ids.append(table.reference(parent: .root, name: Array("f\(number)".utf8), resolved: Self.file(number), reportedInode: number).0)
        }
        let peak = table.nodes.capacity
        #expect(peak >= Int(count))

        var compactions = 0
        for (position, id) in ids.enumerated() where position % 10 != 0 {
            if table.forget(id, count: 1) { compactions += 1 }
        }
        #expect(compactions >= 1)
        #expect(table.count == ids.count / 10 + 1)
        #expect(table.nodes.capacity * 4 < peak, "capacity \(table.nodes.capacity) after \(peak)")

        // The nodes left keep their names, sizes and lookups; the forgotten names are gone.
        for (position, id) in ids.enumerated() {
            let name = Array("f\(position + 2)".utf8)
            if position % 10 == 0 {
                let node = try #require(table[id])
                #expect(node.lookups == 1 && node.lowerSize == UInt64(position + 2))
                #expect(try table.path(of: id) == name)
                #expect(table.child(of: .root, named: name) == id)
                // Seen again through its host identity: the same node.
                #expect(table.reference(parent: .root, name: name, resolved: Self.file(UInt64(position + 2)), reportedInode: 0).0 == id)
            } else {
                #expect(table[id] == nil)
                #expect(table.child(of: .root, named: name) == nil)
            }
        }
    }
}
