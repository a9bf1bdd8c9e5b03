// `scorpio-provider --virtiofs SOCKET`: the overlay stack served to a QEMU guest as a
// vhost-user-fs backend. Always in the foreground (like virtiofsd): QEMU or a service manager
// owns the process. The socket exists before the first accept, so scripts wait for the file.
import FUSEWire
import Foundation
import Glibc
import Logging
import Overlay
import ScorpioSys
import VirtioFSBridge

struct VirtioFSSettings: Sendable {
    var socketPath: String
    var stack: OverlayStackSettings
    var requestQueues: Int
    var persist: Bool
}

struct VirtioFSRunner {
    let settings: VirtioFSSettings

    func run() -> Int32 {
        settings.stack.runInForeground(label: "scorpio.virtiofs", metadata: ["socket": "\(settings.socketPath)"]) { logger in
            try serve(logger: logger)
        }
    }

    private func serve(logger: Logger) throws -> Int32 {
        try SocketPathCheck.prepare(settings.socketPath)
        let (upperPath, lowerPaths) = try OverlayLayers.checkedPaths(upper: settings.stack.upper, lowers: settings.stack.lowers,
                                                                     mountPoint: nil)
        let layers = try OverlayLayers.open(upperPath: upperPath, lowerPaths: lowerPaths, repository: settings.stack.repository, logger: logger)

        TerminationSignals.block()  // before any thread exists, so every thread inherits the mask
        umask(0)  // modes arrive with the caller's umask applied, or with it beside them (FUSE_DONT_MASK), never ours
        let server: VirtioFSServer
        do {
            server = try VirtioFSServer(
                settings: .init(socketPath: settings.socketPath, requestQueues: settings.requestQueues, persist: settings.persist),
                logger: logger)
        } catch {
            throw SetupFailure(message: "cannot listen on \(settings.socketPath): \(error)", status: ExitStatus.invalidSetup)
        }
        logger.info("listening", metadata: ["upper": "\(upperPath)", "lowers": "\(lowerPaths.joined(separator: ":"))",
                                             "queues": "\(settings.requestQueues)", "persist": "\(settings.persist)"])
        _ = try? KernelThread.start {
            let signal = TerminationSignals.wait()
            logger.info("signal \(signal): stopping")
            server.stop()
        }
        var configuration = settings.stack.initConfiguration
        configuration.passthrough = false  // the guest's kernel cannot open our files
        var failure: Error?
        server.serve {
            do {
                let fileSystem = try layers.fileSystem(passthrough: false, writebackCache: configuration.writebackCache, stack: settings.stack, logger: logger)
                let dispatcher = Dispatcher(fileSystem: fileSystem, configuration: configuration, registrar: nil, logger: logger)
                return VirtioFSServer.Session(
                    makeHandler: { FUSEChainHandler(dispatcher: dispatcher, logger: logger) },
                    end: { fileSystem.destroy() })
            } catch {
                failure = error
                return nil
            }
        }
        if let failure {
            logger.error("cannot serve the overlay: \(failure)")
            return ExitStatus.runtimeFailure
        }
        logger.info("exiting")
        return ExitStatus.success
    }
}

/// The socket path must be creatable: its directory exists, and nothing but a stale socket
/// (whose listener is gone) occupies the name.
enum SocketPathCheck {
    static func prepare(_ path: String) throws(SetupFailure) {
        let directory = (path as NSString).deletingLastPathComponent
        var st = stat()
        guard stat(directory.isEmpty ? "." : directory, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw SetupFailure(message: "socket directory \(directory) does not exist", status: ExitStatus.invalidSetup)
        }
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw SetupFailure(message: "\(path) exists and is not a socket", status: ExitStatus.invalidSetup)
        }
        if let live = try? UnixSocket.connect(path: path) {
            live.closeQuietly()
            throw SetupFailure(message: "\(path) is in use by another backend", status: ExitStatus.invalidSetup)
        }
        UnixSocket.removeSocketFile(path)
    }
}
