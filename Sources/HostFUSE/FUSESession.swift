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
    let readyOnce = Atomic<Bool>(false)
    let onReady: @Sendable () -> Void

    /// `onReady` runs once, after the kernel's INIT was answered (the mount then serves requests).
    public init(mount: FUSEMount, dispatcher: Dispatcher<FS>, logger: Logger, onReady: @escaping @Sendable () -> Void = {}) {
        self.mount = mount
        self.dispatcher = dispatcher
        self.logger = logger
        self.onReady = onReady
    }

    /// Starts `count` worker threads. The first uses the mount's own descriptor, the others clones.
    public func start(threadCount: Int) throws(Errno) {
        var devices = [mount.device]
        for _ in 1..<max(1, threadCount) {
            devices.append(try mount.device.clone())
        }
        var started: [KernelThread] = []
        for (index, device) in devices.enumerated() {
            started.append(try KernelThread.start { [self] in
                self.serve(device: device, isPrimary: index == 0)
            })
        }
        threads.withLock { $0 = started }
    }

    /// Blocks until every worker thread has left (the connection ended).
    public func waitUntilFinished() {
        for thread in threads.withLock({ $0 }) { thread.join() }
        dispatcher.fileSystem.destroy()
    }

    private func serve(device: FUSEDevice, isPrimary: Bool) {
        let size = dispatcher.requiredRequestBufferSize
        let request = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 4096)
        defer {
            request.deallocate()
            reply.deallocate()
            if !isPrimary { device.descriptor.closeQuietly() }
        }
        let sink = DeviceReplySink(descriptor: device.descriptor, logger: logger)
        while true {
            let count: Int
            do {
                count = try retrying { Glibc.read(device.descriptor.rawValue, request.baseAddress, request.count) }
            } catch .noSuchFileOrDirectory {
                continue  // the request was interrupted before we read it
            } catch .operationNotSupportedByDevice {
                logger.debug("fuse connection ended")
                return
            } catch {
                logger.error("reading /dev/fuse failed; this worker stops", metadata: ["errno": "\(error)"])
                return
            }
            let outcome = dispatcher.handle(UnsafeRawBufferPointer(rebasing: request[0..<count]), replyBuffer: reply, sink: sink)
            if !readyOnce.load(ordering: .relaxed), dispatcher.negotiated != nil,
               readyOnce.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
                onReady()
            }
            if outcome == .destroyed { return }
        }
    }
}
