// Serves one mounted FUSE connection with N worker threads. Each thread has its own cloned
// /dev/fuse descriptor, its own request and reply buffers, and handles a request to completion
// before reading the next, so the hot path allocates nothing per request.
import FUSEWire
import Glibc
import Logging
import ScorpioSys
import Synchronization
import SystemPackage

/// Writes replies to the descriptor the request came from (replies must go back to the same
/// cloned descriptor: each keeps its own list of requests in processing).
struct DeviceReplySink: ReplySink {
    let descriptor: FileDescriptor
    let logger: Logger

    func send(_ reply: UnsafeRawBufferPointer) {
        do {
            _ = try retrying { Glibc.write(descriptor.rawValue, reply.baseAddress, reply.count) }
        } catch .noSuchFileOrDirectory {
            // The request was interrupted and the kernel no longer waits for it: normal.
        } catch {
            logger.warning("fuse reply failed", metadata: ["errno": "\(error)", "bytes": "\(reply.count)"])
        }
    }
}

/// A running FUSE session: worker threads reading requests from /dev/fuse.
public final class FUSESession<FS: FileSystem>: Sendable {
    let mount: FUSEMount
    let dispatcher: Dispatcher<FS>
    let logger: Logger
    let threads = Mutex<[KernelThread]>([])
    let baton = ReaderBaton()
    let readyOnce = Atomic<Bool>(false)
    let onReady: @Sendable () -> Void
    /// Queues and threads of FUSE over io_uring, when asked for and granted at INIT.
    let uring = Mutex(URingParts())
    /// Whether INIT asked for io_uring: /dev/fuse then carries little (FORGET, INTERRUPT, the
    /// requests before the queues are registered), so one device worker serves it.
    let wantsURing: Bool
    /// `--threads`: the /dev/fuse workers, or with io_uring the queues' threads together.
    let requestedThreads = Atomic<Int>(1)

    /// `onReady` runs once, after the kernel's INIT was answered (the mount then serves requests).
    public init(mount: FUSEMount, dispatcher: Dispatcher<FS>, logger: Logger, ioUring: Bool = false,
                onReady: @escaping @Sendable () -> Void = {}) {
        self.wantsURing = ioUring
        self.mount = mount
        self.dispatcher = dispatcher
        self.logger = logger
        self.onReady = onReady
    }

    /// Starts `count` worker threads. The first uses the mount's own descriptor, the others clones.
    public func start(threadCount: Int) throws(Errno) {
        requestedThreads.store(threadCount, ordering: .relaxed)
        var devices = [mount.device]
        for _ in 1..<(wantsURing ? 1 : max(1, threadCount)) {
            devices.append(try mount.device.clone())
        }
        let spin = sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 && !wantsURing
        var readers: [SpinningReader] = []
        for device in devices { readers.append(try SpinningReader(descriptor: device.descriptor, spin: spin)) }
        var started: [KernelThread] = []
        for (index, reader) in readers.enumerated() {
            started.append(try KernelThread.start { [self] in
                self.serve(reader: reader, isPrimary: index == 0)
            })
        }
        threads.withLock { $0 = started }
    }

    /// Blocks until every worker thread has left (the connection ended).
    public func waitUntilFinished() {
        for thread in threads.withLock({ $0 }) { thread.join() }
        finishURing()
        dispatcher.fileSystem.destroy()
    }

    /// One worker. It reads only while it holds the baton and normally handles what it read
    /// itself, then reads again: no thread switch per request. Before a request that may wait
    /// (storage I/O, network fetches, large copies) it passes the baton on, so another worker
    /// reads meanwhile; it waits for the baton again when done.
    private func serve(reader initialReader: SpinningReader, isPrimary: Bool) {
        var reader = initialReader
        let size = dispatcher.requiredRequestBufferSize
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        let turn = WorkerTurn(baton: baton)
        BlockingHint.install(turn)
        defer {
            BlockingHint.uninstall()
            request.deallocate()
            reply.deallocate()
            if !isPrimary { reader.descriptor.closeQuietly() }
        }
        let sink = DeviceReplySink(descriptor: reader.descriptor, logger: logger)
        guard baton.acquire() else { return }
        // Spin for the next request only right after answering one ourselves: its sender is
        // likely to send another at once. A worker that just took the baton over sleeps.
        var answered = false
        while true {
            let count: Int
            do {
                count = try reader.read(into: request, spin: answered)
            } catch .noSuchFileOrDirectory {
                continue  // the request was interrupted before we read it
            } catch .operationNotSupportedByDevice {
                logger.debug("fuse connection ended")
                baton.end()
                return
            } catch {
                logger.error("reading /dev/fuse failed; this worker stops", metadata: ["errno": "\(error)"])
                baton.release()
                return
            }
            let message = UnsafeRawBufferPointer(rebasing: request[0..<count])
            turn.begin()
            if Self.mayWait(message) { turn.willBlock() }
            let outcome = dispatcher.handle(message, replyBuffer: reply, sink: sink)
            if !readyOnce.load(ordering: .relaxed), dispatcher.negotiated != nil,
               readyOnce.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                startURingIfGranted()
                onReady()
            }
            if outcome == .destroyed {
                baton.end()
                return
            }
            answered = !turn.passedOn
            if turn.passedOn, !baton.acquire() { return }
        }
    }

    /// Starts the io_uring queues when INIT asked for them and the kernel agreed. Until they
    /// are registered the kernel holds new requests back, so a failure here ends the mount.
    private func startURingIfGranted() {
        guard wantsURing, let negotiated = dispatcher.negotiated else { return }
        guard negotiated.ioUring else {
            logger.warning("the kernel did not offer FUSE over io_uring; serving through /dev/fuse")
            return
        }
        do {
            try startURing(negotiated: negotiated)
        } catch {
            logger.critical("cannot set up io_uring queues; aborting the connection", metadata: ["errno": "\(error)"])
            mount.abortConnection()
        }
    }

    /// Requests that may wait for storage whatever the layers: the baton goes first. Others
    /// say so themselves through `BlockingHint` when they are about to wait: READ when the
    /// page cache does not hold the data, Dicfuse before it asks the git server.
    static func mayWait(_ message: UnsafeRawBufferPointer) -> Bool {
        guard message.count >= 8 else { return false }
        switch FUSEOpcode(rawValue: message.loadUnaligned(fromByteOffset: 4, as: UInt32.self).littleEndian) {
        case .write, .fsync, .fsyncdir, .fallocate, .copyFileRange, .copyFileRange64, .setlkw, .syncfs:
            return true
        default:
            return false
        }
    }
}

/// The baton as seen by one worker during one request: `willBlock` passes it on at most once.
final class WorkerTurn: BlockingHandler {
    let baton: ReaderBaton
    private(set) var passedOn = false

    init(baton: ReaderBaton) { self.baton = baton }

    func begin() { passedOn = false }

    func willBlock() {
        guard !passedOn else { return }
        passedOn = true
        baton.release()
    }
}
