// `scorpio-provider cache stats|gc [--cache DIR] [--max-size 20G]`: size accounting of the
// shared content store and LRU eviction of blobs. Commits, trees and sizes are kept (they are
// what makes a remount work offline); blobs are evicted oldest access first, and a blob some
// process has open (a mounted daemon serving it, or passing it through) or a mount has pinned
// (an open file served from the page cache, see BlobPins) is never evicted.
import ArgumentParser
import Dicfuse
import Foundation

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Show or shrink the object cache.",
        subcommands: [CacheStats.self, CacheGC.self])
}

struct CacheOptions: ParsableArguments {
    @Option(help: "The cache directory (default /var/cache/scorpio as root, ~/.cache/scorpio otherwise).")
    var cache: String?

    var directory: String { cache ?? HostMountSettings.defaultCacheDirectory }

    /// The directory's canonical path where it exists: open blobs are recognised by comparing
    /// paths with the targets of /proc/*/fd, which the kernel gives canonical.
    var canonicalDirectory: String { SetupChecks.canonicalPath(directory) ?? directory }
}

struct CacheStats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Print what the cache holds.")
    @OptionGroup var options: CacheOptions

    func run() throws {
        let blobs = BlobInventory.scan(options.directory + "/blobs")
        let objects = BlobInventory.scan(options.directory + "/objects")
        print("cache: \(options.directory)")
        print("blobs: \(blobs.count) files, \(ByteCountText.format(blobs.reduce(0) { $0 + $1.size }))")
        print("trees and commits: \(objects.count) objects, \(ByteCountText.format(objects.reduce(0) { $0 + $1.size }))")
    }
}

struct CacheGC: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "gc", abstract: "Evict least recently used blobs down to --max-size.")
    @OptionGroup var options: CacheOptions

    @Option(help: "Largest total size of cached blobs, e.g. 20G, 500M.")
    var maxSize: String = "20G"

    func run() throws {
        guard let limit = ByteCountText.parse(maxSize) else { throw ValidationError("--max-size must look like 20G, 512M or 1048576") }
        let directory = options.canonicalDirectory
        let blobs = BlobInventory.scan(directory + "/blobs").sorted { $0.lastAccess < $1.lastAccess }
        var total = blobs.reduce(0) { $0 + $1.size }
        let inUse = BlobInventory.openFiles()
        let pinned = BlobPins.snapshot(cacheRoot: directory)
        var evicted = 0, freed: UInt64 = 0, skipped = 0
        for blob in blobs where total > limit {
            if inUse.contains(blob.path) || BlobInventory.objectID(of: blob.path).map(pinned.contains) == true { skipped += 1; continue }
            if unlink(blob.path) == 0 {
                total -= blob.size; freed += blob.size; evicted += 1
            }
        }
        print("evicted \(evicted) blobs (\(ByteCountText.format(freed))), kept \(ByteCountText.format(total)); \(skipped) in use were kept")
    }
}

/// The files of one cache directory, with sizes and access times.
enum BlobInventory {
    struct Item {
        var path: String
        var size: UInt64
        var lastAccess: Double
    }

    static func scan(_ directory: String) -> [Item] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var items: [Item] = []
        while let relative = walker.nextObject() as? String {
            let path = directory + "/" + relative
            var st = stat()
            guard lstat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { continue }
            let access = Double(st.st_atim.tv_sec) + Double(st.st_atim.tv_nsec) / 1e9
            let modification = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            items.append(Item(path: path, size: UInt64(st.st_size), lastAccess: max(access, modification)))
        }
        return items
    }

    /// The object id a blob's path names (blobs/xx/<38 hex>).
    static func objectID(of path: String) -> ObjectID? {
        let parts = path.split(separator: "/")
        guard parts.count >= 2 else { return nil }
        return ObjectID(hex: parts[parts.count - 2] + parts[parts.count - 1])
    }

    /// Every file any process holds open (from /proc/*/fd).
    static func openFiles() -> Set<String> {
        var result = Set<String>()
        for process in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(process) != nil {
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process)/fd")) ?? [] {
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(process)/fd/\(fd)") { result.insert(target) }
            }
        }
        return result
    }
}

/// "20G" ↔ bytes.
enum ByteCountText {
    static func parse(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        if let last = text.uppercased().last, let unit = units[last], let number = Double(text.dropLast()) {
            let bytes = number * Double(unit)
            guard number >= 0, bytes < 0x1p63 else { return nil }  // also refuses nan and inf
            return UInt64(bytes)
        }
        return UInt64(text)
    }

    static func format(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), index = 0
        while value >= 1024 && index < units.count - 1 { value /= 1024; index += 1 }
        return index == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[index])
    }
}
