// Runs one host mount in the foreground: check paths, open the layers (before mounting, so a
// mount over a layer cannot shadow it), mount, serve until the kernel ends the connection or a
// termination signal arrives, then unmount.
import Dicfuse
import FUSEWire
import Foundation
import Glibc
import HostFUSE
import Logging
import Overlay
import ScorpioSys
import Synchronization

struct HostMountRunner {
    let settings: HostMountSettings

    /// Mounts and serves; returns the exit status.
    func runForeground() -> Int32 {
        Daemon.keepReadinessDescriptorToOurselves()
        return settings.stack.runInForeground(label: "scorpio.provider") { logger in try serve(logger: logger) }
    }

    private func serve(logger: Logger) throws -> Int32 {
        let mountPoint = try SetupChecks.existingDirectory(settings.mountPoint, role: "mount point")
        let (upperPath, lowerPaths) = try OverlayLayers.checkedPaths(upper: settings.stack.upper, lowers: settings.stack.lowers,
                                                                     mountPoint: mountPoint)
        try SetupChecks.checkMountPoint(mountPoint)
        try SetupChecks.checkFUSEDevice()
        if settings.ioUring { try SetupChecks.enableFUSEOverIoUring(logger: logger) }

        let layers = try OverlayLayers.open(upperPath: upperPath, lowerPaths: lowerPaths, repository: settings.stack.repository, logger: logger)
        var fuseLogger = logger
        fuseLogger[metadataKey: "mount"] = "\(mountPoint)"
        let fileSystem = try layers.fileSystem(passthrough: settings.passthrough, writebackCache: settings.writebackCache, stack: settings.stack, logger: fuseLogger)

        TerminationSignals.block()  // before any thread exists, so every thread inherits the mask
        umask(0)  // modes arrive with the caller's umask applied, or with it beside them (FUSE_DONT_MASK), never ours
        var mountOptions = MountOptions()
        mountOptions.hiddenFromHelper = HTTPCredentials.environmentPrefixes
        let mount = try FUSEMount.mount(at: mountPoint, options: mountOptions)
        var configuration = settings.stack.initConfiguration
        configuration.passthrough = settings.passthrough
        configuration.writebackCache = settings.writebackCache
        configuration.ioUring = settings.ioUring
        let registrar: (any BackingFileRegistrar)? = settings.passthrough ? DeviceBackingRegistrar(device: mount.device) : nil
        let dispatcher = Dispatcher(fileSystem: fileSystem, configuration: configuration, registrar: registrar,
                                    notifier: DeviceNotifier(device: mount.device), logger: fuseLogger)
        let lowerList = lowerPaths.joined(separator: ":")
        let session = FUSESession(mount: mount, dispatcher: dispatcher, logger: fuseLogger, ioUring: settings.ioUring) {
            Daemon.notifyReady()  // first: a daemon's log lines must not reach the user's terminal
            layers.detachFromTerminal()
            logger.info("mounted", metadata: ["mount": "\(mountPoint)", "upper": "\(upperPath)", "lowers": "\(lowerList)"])
        }
        do {
            try session.start(threadCount: settings.threads)
        } catch {
            try? FUSEMount.unmount(mountPoint, lazy: true)
            throw SetupFailure(message: "cannot start worker threads: \(error)", status: ExitStatus.runtimeFailure)
        }
        let finished = Atomic<Bool>(false)
        _ = try? KernelThread.start {
            while true {
                let signal = TerminationSignals.wait()
                if signal == SIGUSR1 {
                    logger.info("statistics", metadata: ["nodes": "\(fileSystem.liveNodeCount)"])
                    continue
                }
                logger.info("signal \(signal): unmounting", metadata: ["mount": "\(mountPoint)"])
                ShutdownSequence.stop(mountPoint: mountPoint, finished: finished, logger: logger)
                return
            }
        }
        session.waitUntilFinished()
        finished.store(true, ordering: .releasing)
        logger.info("connection closed; exiting", metadata: ["mount": "\(mountPoint)"])
        return ExitStatus.success
    }
}

/// Ending a mount on SIGTERM/SIGINT: detach it (new accesses fail, open files keep working),
/// give the kernel a moment to close the connection, and abort the connection if files are
/// still held open so the daemon does not linger.
enum ShutdownSequence {
    static func stop(mountPoint: String, finished: borrowing Atomic<Bool>, logger: Logger) {
        var st = stat()
        let haveDevice = stat(mountPoint, &st) == 0
        do { try FUSEMount.unmount(mountPoint, lazy: true) } catch {
            logger.warning("unmount failed", metadata: ["error": "\(error)"])
        }
        for _ in 0..<40 {
            if finished.load(ordering: .acquiring) { return }
            usleep(50_000)
        }
        guard haveDevice else { return }
        let connection = "/sys/fs/fuse/connections/\(UInt32(st.st_dev) & 0xff | (UInt32(st.st_dev >> 12) & 0xfff00))/abort"
        logger.warning("files still open after unmount; aborting the connection", metadata: ["path": "\(connection)"])
        _ = FileManager.default.createFile(atPath: connection, contents: Data("1".utf8))
    }
}
