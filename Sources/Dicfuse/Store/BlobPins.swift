// Which blobs running mounts hold open, for `cache gc`. An open Dicfuse file holds no
// descriptor to its blob while the kernel serves it from its page cache (the blob is opened
// only when a READ comes), so /proc/*/fd cannot show it. Each layer instead counts the blobs
// its open files use in a file under <cache>/pins: 2^20 32-bit counters indexed by the first
// 20 bits of the object id, mapped shared, so a pin is one atomic add and no system call on
// the OPEN path. Ids that share a counter keep each other pinned: gc may keep a blob it could
// have evicted, never the reverse. The layer holds a shared flock on its file for life; a file
// whose lock gc can take belongs to a daemon that died, and gc deletes it.
import Glibc
import ScorpioSys
import SystemPackage

public final class BlobPins: Sendable {
    static let slotCount = 1 << 20
    static let fileSize = slotCount * 4

    /// The counter an object id uses.
    public static func slot(of id: ObjectID) -> Int {
        Int(id.bytes[0]) << 12 | Int(id.bytes[1]) << 4 | Int(id.bytes[2]) >> 4
    }

    let path: String
    // The mapping is only touched through atomic adds and loads (SharedCounter).
    nonisolated(unsafe) let base: UnsafeMutableRawPointer
    let descriptor: FileDescriptor

    /// Creates this layer's table in `<cacheRoot>/pins` and locks it as alive.
    public init(cacheRoot: String) throws(Errno) {
        let directory = cacheRoot + "/pins"
        if mkdir(directory, 0o755) != 0, errno != EEXIST { throw Errno(rawValue: errno) }
        // Made under a dot name (which sweeps skip), locked, then renamed: a sweep never sees
        // a table before its lock is held.
        var created: (String, FileDescriptor)?
        for attempt in 0..<64 where created == nil {
            let candidate = "\(directory)/\(getpid())-\(attempt)"
            guard access(candidate, F_OK) != 0 else { continue }
            let fd = Glibc.open("\(directory)/.\(getpid())-\(attempt)", O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Errno(rawValue: errno) }
            created = (candidate, FileDescriptor(rawValue: fd))
        }
        guard let (path, descriptor) = created else { throw .fileExists }
        let temporary = directory + "/." + path.split(separator: "/").last!
        do throws(Errno) {
            try retryingVoid { flock(descriptor.rawValue, LOCK_SH) }
            // Allocated up front: a write fault on an unallocated page of a shared mapping on a
            // full disk would be SIGBUS, where a failure here only turns pins off.
            try descriptor.allocate(mode: 0, offset: 0, length: Int64(Self.fileSize))
            try retryingVoid { rename(temporary, path) }
        } catch {
            unlink(temporary)
            descriptor.closeQuietly()
            throw error
        }
        do throws(Errno) {
            base = try MemoryMapping.mapShared(descriptor, length: Self.fileSize).base
        } catch {
            unlink(path)
            descriptor.closeQuietly()
            throw error
        }
        self.path = path
        self.descriptor = descriptor
        Self.forEachLiveTable(in: directory, except: path, nil)  // tables of daemons that were killed
    }

    deinit {
        munmap(base, Self.fileSize)
        unlink(path)
        descriptor.closeQuietly()
    }

    /// Marks `id` as held by an open file; returns the counter for `unpin`.
    public func pin(_ id: ObjectID) -> Int {
        let slot = Self.slot(of: id)
        SharedCounter.add(base + slot * 4, 1)
        return slot
    }

    public func unpin(slot: Int) {
        SharedCounter.add(base + slot * 4, -1)
    }

    /// The counters of every live table under `cacheRoot`, merged; tables of dead daemons are
    /// deleted on the way. `contains` then tells whether some mount holds a blob open.
    public static func snapshot(cacheRoot: String) -> Snapshot {
        var pinned = [Bool](repeating: false, count: slotCount)
        forEachLiveTable(in: cacheRoot + "/pins") { table in
            for slot in 0..<slotCount where SharedCounter.load(table + slot * 4) != 0 { pinned[slot] = true }
        }
        return Snapshot(pinned: pinned)
    }

    /// Calls `body` with the mapping of each table whose daemon is alive, and deletes the
    /// others (their flock is free: the process that held it is gone). `body` nil only sweeps.
    static func forEachLiveTable(in directory: String, except own: String? = nil, _ body: ((UnsafeRawPointer) -> Void)?) {
        guard let entries = try? FileDescriptor(rawValue: AT_FDCWD_VALUE).listDirectory(at: Array(directory.utf8)) else { return }
        for entry in entries {
            let name = String(decoding: entry.name, as: UTF8.self)
            let file = "\(directory)/\(name)"
            guard !name.hasPrefix("."), file != own else { continue }
            let fd = Glibc.open(file, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                unlink(file)
                continue
            }
            guard let body, let mapped = try? MemoryMapping.mapShared(FileDescriptor(rawValue: fd), length: fileSize) else { continue }
            defer { mapped.unmap() }
            body(mapped.base)
        }
    }

    public struct Snapshot: Sendable {
        let pinned: [Bool]
        public func contains(_ id: ObjectID) -> Bool { pinned[BlobPins.slot(of: id)] }
    }
}
