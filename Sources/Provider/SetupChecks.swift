// Checks of the command line's paths before anything is mounted, each with a one-line error.
import Foundation
import Glibc
import Logging

/// A refused setup: the message for the user and the exit status.
struct SetupFailure: Error {
    let message: String
    let status: Int32
}

enum SetupChecks {
    /// The canonical absolute path of an existing directory.
    static func existingDirectory(_ path: String, role: String) throws(SetupFailure) -> String {
        var st = stat()
        if lstat(path, &st) != 0 {
            let error = errno
            if error == ENOTCONN {
                throw SetupFailure(message: "\(role) \(path) is a stale FUSE mount; run: scorpio-provider unmount \(path)", status: ExitStatus.invalidSetup)
            }
            throw SetupFailure(message: "\(role) \(path) does not exist", status: ExitStatus.invalidSetup)
        }
        guard let canonical = canonicalPath(path) else {
            throw SetupFailure(message: "\(role) \(path) cannot be resolved: \(String(cString: strerror(errno)))", status: ExitStatus.invalidSetup)
        }
        var target = stat()
        guard stat(canonical, &target) == 0, target.st_mode & S_IFMT == S_IFDIR else {
            throw SetupFailure(message: "\(role) \(path) is not a directory", status: ExitStatus.invalidSetup)
        }
        return canonical
    }

    /// Creates UPPER (and missing parents) when it does not exist yet.
    static func createUpperIfMissing(_ path: String) throws(SetupFailure) {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw SetupFailure(message: "cannot create upper directory \(path): \(error.localizedDescription)", status: ExitStatus.invalidSetup)
        }
    }

    /// realpath(3): the canonical absolute path of an existing `path`, nil (errno set) otherwise.
    static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The canonical path `path` would have: its deepest existing ancestor resolved, the
    /// missing components appended (for checks before a directory is created).
    static func prospectivePath(_ path: String) -> String {
        var missing: [Substring] = []
        var existing = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        while true {
            if let base = canonicalPath(existing) {
                let tail = missing.reversed().joined(separator: "/")
                return tail.isEmpty ? base : (base == "/" ? "/" : base + "/") + tail
            }
            guard let slash = existing.lastIndex(of: "/"), existing != "/" else { return path }
            let component = existing[existing.index(after: slash)...]
            if !component.isEmpty && component != "." { missing.append(component) }
            existing = slash == existing.startIndex ? "/" : String(existing[..<slash])
        }
    }

    /// Whether `path` is a mount point (its device differs from its parent's, or it is "/").
    static func isMountPoint(_ path: String) -> Bool {
        var own = stat(), parent = stat()
        guard stat(path, &own) == 0 else { return false }
        guard stat(path + "/..", &parent) == 0 else { return false }
        return own.st_dev != parent.st_dev || own.st_ino == parent.st_ino
    }

    /// The mount point must be an empty directory that is not already mounted.
    static func checkMountPoint(_ path: String) throws(SetupFailure) {
        if isMountPoint(path) {
            throw SetupFailure(message: "mount point \(path) is already a mount point", status: ExitStatus.invalidSetup)
        }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        guard contents.isEmpty else {
            throw SetupFailure(message: "mount point \(path) is not empty (\(contents.count) entries)", status: ExitStatus.invalidSetup)
        }
    }

    /// Whether `inner` equals `outer` or lies inside it (canonical paths).
    static func contains(_ outer: String, _ inner: String) -> Bool {
        inner == outer || inner.hasPrefix(outer.hasSuffix("/") ? outer : outer + "/")
    }

    /// Layers must not nest in ways that make the mount read itself or write into a lower.
    /// `mountPoint` is nil for the virtiofs backend, which mounts nothing on the host.
    static func checkNesting(mountPoint: String?, upper: String, lowers: [String]) throws(SetupFailure) {
        for lower in lowers {
            if contains(lower, upper) {
                throw SetupFailure(message: "upper directory \(upper) is inside lower directory \(lower)", status: ExitStatus.invalidSetup)
            }
            if contains(upper, lower) {
                throw SetupFailure(message: "lower directory \(lower) is inside upper directory \(upper)", status: ExitStatus.invalidSetup)
            }
            if let mountPoint, contains(lower, mountPoint) || contains(mountPoint, lower) {
                throw SetupFailure(message: "mount point \(mountPoint) and lower directory \(lower) overlap", status: ExitStatus.invalidSetup)
            }
        }
        if let mountPoint, contains(upper, mountPoint) || contains(mountPoint, upper) {
            throw SetupFailure(message: "mount point \(mountPoint) and upper directory \(upper) overlap", status: ExitStatus.invalidSetup)
        }
    }

    /// /dev/fuse must exist and be openable.
    static func checkFUSEDevice() throws(SetupFailure) {
        guard access("/dev/fuse", F_OK) == 0 else {
            throw SetupFailure(message: "no /dev/fuse: load the fuse module (modprobe fuse) or pass --device /dev/fuse to the container", status: ExitStatus.fuseUnavailable)
        }
        // A normal user's mount is made by fusermount3, which opens /dev/fuse as root.
        guard geteuid() != 0 || access("/dev/fuse", R_OK | W_OK) == 0 else {
            throw SetupFailure(message: "/dev/fuse is not readable and writable by this user", status: ExitStatus.fuseUnavailable)
        }
    }

    /// The kernel offers FUSE over io_uring only while the fuse module's `enable_uring`
    /// parameter is on (it is off by default). `--io-uring` asks for it, so as root we turn it
    /// on; the parameter only lets servers that ask use io_uring, others are unaffected.
    static func enableFUSEOverIoUring(logger: Logger) throws(SetupFailure) {
        let parameter = "/sys/module/fuse/parameters/enable_uring"
        guard let current = try? String(contentsOfFile: parameter, encoding: .utf8) else {
            throw SetupFailure(message: "--io-uring: this kernel has no FUSE over io_uring (\(parameter) is missing; it needs Linux 6.14+ built with CONFIG_FUSE_IO_URING)", status: ExitStatus.fuseUnavailable)
        }
        guard !current.hasPrefix("Y") else { return }
        let file = open(parameter, O_WRONLY | O_CLOEXEC)
        let written = file >= 0 && write(file, "Y", 1) == 1
        if file >= 0 { close(file) }
        guard written else {
            throw SetupFailure(message: "--io-uring: FUSE over io_uring is off and cannot be turned on (\(String(cString: strerror(errno)))); as root run: echo Y > \(parameter)", status: ExitStatus.fuseUnavailable)
        }
        logger.notice("turned FUSE over io_uring on", metadata: ["parameter": "\(parameter)"])
    }
}
