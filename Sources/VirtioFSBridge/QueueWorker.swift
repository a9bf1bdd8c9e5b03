// One thread per started virtqueue: wait for the guest's kick, take every available chain, let
// the request handler fill it, return it and interrupt the guest when it asked for that. The
// control thread stops a worker (GET_VRING_BASE, reset, disconnect) through its stop eventfd
// and learns where the queue stood.
import Logging
import ScorpioSys
import Synchronization
import SystemPackage

/// Serves the chains of one queue; one instance per worker thread, so it may keep buffers.
public protocol ChainHandler: AnyObject {
    /// Handles one request and returns how many bytes it wrote into the chain's writable buffers.
    func handle(_ chain: DescriptorChain) -> UInt32
}

/// The call eventfd of a queue. The frontend may replace it while the queue runs
/// (SET_VRING_CALL after SET_VRING_ENABLE), so the worker reads it under a lock.
final class InterruptLine: Sendable {
    private let descriptor = Mutex<FileDescriptor?>(nil)

    func replace(with new: FileDescriptor?) {
        let old = descriptor.withLock { current in
            defer { current = new }
            return current
        }
        old?.closeQuietly()
    }

    func raise() {
        descriptor.withLock { if let fd = $0 { EventCounter.signal(fd) } }
    }
}

final class QueueWorker: Sendable {
    let index: Int
    private let stopSignal: FileDescriptor
    private let thread: Mutex<KernelThread?> = Mutex(nil)
    /// The next available index when the worker ended: GET_VRING_BASE's answer.
    private let finalBase: Mutex<UInt16>

    private init(index: Int, stopSignal: FileDescriptor, base: UInt16) {
        self.index = index
        self.stopSignal = stopSignal
        self.finalBase = Mutex(base)
    }

    /// Starts serving queue `index`. `makeHandler` runs on the new thread.
    static func start(index: Int, configuration: VringConfiguration, memory: GuestMemory, kick: FileDescriptor,
                      interrupt: InterruptLine, logger: Logger,
                      makeHandler: @escaping @Sendable () -> any ChainHandler) throws(Errno) -> QueueWorker {
        let worker = QueueWorker(index: index, stopSignal: try EventCounter.create(), base: configuration.base)
        let thread = try KernelThread.start {
            worker.run(configuration: configuration, memory: memory, kick: kick, interrupt: interrupt,
                       logger: logger, handler: makeHandler())
        }
        worker.thread.withLock { $0 = thread }
        return worker
    }

    /// Stops the thread and returns the queue's next available index.
    func stop() -> UInt16 {
        EventCounter.signal(stopSignal)
        thread.withLock { $0 }?.join()
        stopSignal.closeQuietly()
        return finalBase.withLock { $0 }
    }

    private func run(configuration: VringConfiguration, memory: GuestMemory, kick: FileDescriptor,
                     interrupt: InterruptLine, logger: Logger, handler: any ChainHandler) {
        var queue: SplitVirtqueue
        do {
            queue = try SplitVirtqueue(memory: memory, configuration: configuration)
        } catch {
            logger.error("queue \(index) not started: \(error)")
            return
        }
        var chain = DescriptorChain()
        defer { finalBase.withLock { $0 = queue.lastAvailable } }
        while true {
            do {
                try drain(&queue, chain: &chain, interrupt: interrupt, logger: logger, handler: handler)
            } catch {
                logger.error("queue \(index) stopped: \(error)")
                _ = try? EventCounter.waitForAny([stopSignal])
                return
            }
            do {
                if try EventCounter.waitForAny([kick, stopSignal]) == 1 { return }
            } catch {
                logger.error("queue \(index): waiting for a kick failed: \(error)")
                return
            }
            EventCounter.drain(kick)
        }
    }

    /// Serves chains until the queue is empty and the guest knows to kick us for the next one.
    private func drain(_ queue: inout SplitVirtqueue, chain: inout DescriptorChain, interrupt: InterruptLine,
                       logger: Logger, handler: any ChainHandler) throws(VirtqueueError) {
        repeat {
            while true {
                let taken: Bool
                do {
                    taken = try queue.next(into: &chain)
                } catch .badChain(let head, let why) {
                    logger.error("queue \(index): descriptor chain \(head) rejected: \(why)")
                    finish(&queue, head: head, written: 0, interrupt: interrupt)
                    continue
                }
                guard taken else { break }
                let written = handler.handle(chain)
                finish(&queue, head: chain.head, written: written, interrupt: interrupt)
            }
        } while queue.armNotification()
    }

    private func finish(_ queue: inout SplitVirtqueue, head: UInt16, written: UInt32, interrupt: InterruptLine) {
        let before = queue.nextUsed
        queue.complete(head: head, written: written)
        if queue.needsInterrupt(since: before) { interrupt.raise() }
    }
}
