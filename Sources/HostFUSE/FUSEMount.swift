// Mounting a FUSE connection on a directory. As root we call mount(2) ourselves (the fd= option
// ties the mount to our /dev/fuse descriptor); as any other user we ask fusermount3, libfuse's
// setuid helper, which opens /dev/fuse, mounts, and passes the descriptor back over a socket
// named by _FUSE_COMMFD.
import CScorpioLinux
import Foundation
import Glibc
import ScorpioSys
import SystemPackage

/// Why a mount could not be set up; each case names the step.
public struct MountSetupError: Error, CustomStringConvertible {
    public let step: String
    public let errno: Errno?
    public let detail: String

    public var description: String {
        if let errno { return "\(step) failed: \(detail.isEmpty ? "" : detail + ": ")\(errno) (\(errnoName(errno)))" }
        return "\(step) failed: \(detail)"
    }
}

/// The symbolic name of an errno for one-line error messages ("EPERM").
public func errnoName(_ e: Errno) -> String {
    switch e {
    case .permissionDenied: "EACCES"
    case .notPermitted: "EPERM"
    case .noSuchFileOrDirectory: "ENOENT"
    case .resourceBusy: "EBUSY"
    case .invalidArgument: "EINVAL"
    case .notDirectory: "ENOTDIR"
    case .socketNotConnected: "ENOTCONN"
    case .operationNotSupportedByDevice: "ENODEV"
    default: "errno \(e.rawValue)"
    }
}

/// Options of the FUSE mount.
public struct MountOptions: Sendable {
    public var fsName = "scorpio"
    public var subtype = "scorpio"
    /// Let the kernel check permissions from our attributes (we run as root for others).
    public var defaultPermissions = true
    /// Let users other than the mounter in (needs root, or user_allow_other for fusermount3).
    public var allowOther = true
    /// Environment variables (NAME=value) fusermount3 must not inherit, by name prefix: the
    /// caller's secrets (the helper needs none).
    public var hiddenFromHelper: [String] = []
    public init() {}
}

/// A mounted FUSE connection.
public struct FUSEMount: Sendable {
    public let device: FUSEDevice
    public let mountPoint: String
    /// Whether fusermount3 made the mount (then it must also unmount it).
    public let viaHelper: Bool

    /// Opens /dev/fuse and mounts it on `mountPoint`.
    public static func mount(at mountPoint: String, options: MountOptions) throws(MountSetupError) -> FUSEMount {
        if geteuid() == 0 {
            return try mountDirectly(at: mountPoint, options: options)
        }
        return try mountWithHelper(at: mountPoint, options: options)
    }

    private static func mountDirectly(at mountPoint: String, options: MountOptions) throws(MountSetupError) -> FUSEMount {
        let device: FUSEDevice
        do { device = try FUSEDevice.open() } catch {
            throw MountSetupError(step: "open /dev/fuse", errno: error, detail: "")
        }
        var data = "fd=\(device.descriptor.rawValue),rootmode=40000,user_id=\(getuid()),group_id=\(getgid())"
        if options.defaultPermissions { data += ",default_permissions" }
        if options.allowOther { data += ",allow_other" }
        do {
            try MountCalls.mount(source: options.fsName, target: mountPoint, type: "fuse.\(options.subtype)",
                                 flags: MountCalls.noSuid | MountCalls.noDev, data: data)
        } catch {
            device.descriptor.closeQuietly()
            throw MountSetupError(step: "mount", errno: error, detail: mountPoint)
        }
        return FUSEMount(device: device, mountPoint: mountPoint, viaHelper: false)
    }

    private static func mountWithHelper(at mountPoint: String, options: MountOptions) throws(MountSetupError) -> FUSEMount {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0 else {
            throw MountSetupError(step: "socketpair", errno: Errno(rawValue: Glibc.errno), detail: "")
        }
        defer { close(pair[0]); close(pair[1]) }
        var opts = "fsname=\(options.fsName),subtype=\(options.subtype)"
        if options.defaultPermissions { opts += ",default_permissions" }
        // fusermount3 refuses allow_other unless the administrator enabled user_allow_other.
        if options.allowOther && userAllowOtherEnabled() { opts += ",allow_other" }
        // Its complaint goes into our one-line error rather than onto the terminal.
        let messages: (read: FileDescriptor, write: FileDescriptor)
        do { messages = try makePipe() } catch {
            throw MountSetupError(step: "pipe", errno: error, detail: "")
        }
        defer { messages.read.closeQuietly() }
        let child: ChildProcess
        do {
            defer { messages.write.closeQuietly() }
            let environment = currentEnvironment().filter { variable in
                !options.hiddenFromHelper.contains { variable.hasPrefix($0) }
            }
            child = try ChildProcess.spawn(["fusermount3", "-o", opts, "--", mountPoint],
                                           environment: environment + ["_FUSE_COMMFD=3"],
                                           descriptors: [(FileDescriptor(rawValue: pair[1]), 3), (messages.write, 2)])
        } catch {
            throw MountSetupError(step: "run fusermount3", errno: error, detail: "is the fuse3 package installed?")
        }
        close(pair[1]); pair[1] = -1
        let fd = scorpio_recv_fd(pair[0])
        let status = (try? child.wait()) ?? -1
        guard fd >= 0 else {
            var buffer = [UInt8](repeating: 0, count: 1024)
            let count = buffer.withUnsafeMutableBytes { read(messages.read.rawValue, $0.baseAddress, $0.count) }
            let said = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
                .split(whereSeparator: \.isNewline).joined(separator: "; ")
            // A refusal of the setuid helper is a matter of permission (exit status 3).
            throw MountSetupError(step: "fusermount3", errno: .notPermitted,
                                  detail: said.isEmpty ? "it exited with status \(status) without a mount" : said)
        }
        return FUSEMount(device: FUSEDevice(descriptor: FileDescriptor(rawValue: fd)), mountPoint: mountPoint, viaHelper: true)
    }

    /// Whether /etc/fuse.conf has an uncommented user_allow_other line.
    private static func userAllowOtherEnabled() -> Bool {
        guard let file = fopen("/etc/fuse.conf", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), file) != nil {
            let bytes = line.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text == "user_allow_other" { return true }
        }
        return false
    }

    /// Ends a connection the daemon cannot serve: a forced unmount aborts it (FUSE's
    /// umount_begin) without sending a request, then the mount is detached. Root only.
    func abortConnection() {
        try? MountCalls.unmount(mountPoint, flags: MountCalls.force)
        try? MountCalls.unmount(mountPoint, flags: MountCalls.detach)
    }

    /// Unmounts `mountPoint`. `lazy` detaches it even while it is busy or its daemon is dead.
    public static func unmount(_ mountPoint: String, lazy: Bool) throws(MountSetupError) {
        if geteuid() == 0 {
            do { try MountCalls.unmount(mountPoint, flags: lazy ? MountCalls.detach : 0) } catch {
                throw MountSetupError(step: "umount", errno: error, detail: mountPoint)
            }
            return
        }
        let arguments = ["fusermount3", lazy ? "-uz" : "-u", "--", mountPoint]
        let status: Int32
        do { status = try ChildProcess.spawn(arguments, environment: currentEnvironment()).wait() } catch {
            throw MountSetupError(step: "run fusermount3", errno: error, detail: "")
        }
        guard status == 0 else { throw MountSetupError(step: "fusermount3 -u", errno: nil, detail: "exit status \(status)") }
    }
}
