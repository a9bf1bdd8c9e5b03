// The listening side of `scorpio-provider --virtiofs SOCKET`: one frontend (QEMU) at a time.
// Each connection gets a fresh device and a fresh request handler set (a rebooted guest knows
// none of the old inodes); without `persist` the server ends after the first connection, like
// virtiofsd.
import FUSEWire
import Logging
import ScorpioSys
import Synchronization
import SystemPackage

public final class VirtioFSServer: Sendable {
    public struct Settings: Sendable {
        public var socketPath: String
        /// Request queues besides the hiprio queue.
        public var requestQueues: Int
        public var persist: Bool

        public init(socketPath: String, requestQueues: Int, persist: Bool) {
            self.socketPath = socketPath
            self.requestQueues = requestQueues
            self.persist = persist
        }
    }

    let settings: Settings
    let listener: FileDescriptor
    let logger: Logger
    let stopping = Atomic<Bool>(false)
    let current = Mutex<FileDescriptor?>(nil)

    /// Creates the socket (mode 0600) and listens, so a frontend can connect from now on.
    public init(settings: Settings, logger: Logger) throws(Errno) {
        self.settings = settings
        self.logger = logger
        self.listener = try UnixSocket.listen(path: settings.socketPath)
    }

    /// What one connection is served with: a handler per queue worker, and what to do when
    /// the frontend is gone (drop the guest's inodes and open files).
    public struct Session: Sendable {
        public var makeHandler: @Sendable () -> any ChainHandler
        public var end: @Sendable () -> Void

        public init(makeHandler: @escaping @Sendable () -> any ChainHandler, end: @escaping @Sendable () -> Void) {
            self.makeHandler = makeHandler
            self.end = end
        }
    }

    /// Serves connections, each with a new session from `newSession`; nil from it ends serving.
    public func serve(newSession: () -> Session?) {
        defer {
            listener.closeQuietly()
            UnixSocket.removeSocketFile(settings.socketPath)
        }
        while true {
            let connection: FileDescriptor
            do {
                connection = try UnixSocket.accept(listener)
            } catch {
                if !stopping.load(ordering: .acquiring) { logger.error("accepting a vhost-user connection failed: \(error)") }
                return
            }
            current.withLock { $0 = connection }
            if stopping.load(ordering: .acquiring) {  // stop() ran before `current` was set
                connection.closeQuietly()
                return
            }
            logger.info("vhost-user frontend connected", metadata: ["socket": "\(settings.socketPath)"])
            guard let session = newSession() else {
                connection.closeQuietly()
                return
            }
            let device = VhostUserDevice(queueCount: 1 + settings.requestQueues, logger: logger, makeHandler: session.makeHandler)
            let served = VhostUserConnection(socket: connection, device: device, logger: logger)
            served.serve()
            current.withLock { $0 = nil }
            connection.closeQuietly()
            session.end()
            if served.messageCount == 0 && !stopping.load(ordering: .acquiring) {
                logger.info("a connection closed without a message (a liveness probe); still listening")
                continue
            }
            logger.info("vhost-user frontend disconnected", metadata: ["socket": "\(settings.socketPath)"])
            if !settings.persist || stopping.load(ordering: .acquiring) { return }
        }
    }

    /// Ends `serve` from another thread (SIGTERM): wakes accept and the current connection.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        UnixSocket.shutdown(listener)
        current.withLock { if let fd = $0 { UnixSocket.shutdown(fd) } }
    }
}
