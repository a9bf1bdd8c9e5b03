// The trees of the directories located last, by path. Consecutive requests mostly name files of
// one directory (a walk, the sibling stores, a compiler reading headers), and locating a file
// from the root costs a tree lookup and a binary search per component. A commit's trees never
// change, so an entry is never stale.
struct RecentDirectories {
    static let capacity = 8
    private var paths: [[UInt8]] = []
    private var trees: [ObjectID] = []
    private var next = 0

    func tree(of path: ArraySlice<UInt8>) -> ObjectID? {
        for (index, known) in paths.enumerated() where known.elementsEqual(path) { return trees[index] }
        return nil
    }

    mutating func remember(_ path: ArraySlice<UInt8>, tree: ObjectID) {
        if paths.count < Self.capacity {
            paths.append(Array(path))
            trees.append(tree)
        } else {
            paths[next] = Array(path)
            trees[next] = tree
            next = (next + 1) % Self.capacity
        }
    }
}
