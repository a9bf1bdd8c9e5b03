// The io_uring side of a session (see URingQueue.swift for why): started by the worker that
// answered INIT when the kernel agreed to FUSE_OVER_IO_URING. Each queue's threads take turns
// as its reaper with a baton, as the /dev/fuse workers do: one waits for completions, and a
// request that may block passes the turn on first, so the queue's other requests go on.
import CScorpioLinux
import FUSEWire
import Glibc
import Logging
import ScorpioSys
import SystemPackage

extension FUSESession {
    /// Creates one queue per possible CPU and starts its threads. A queue that cannot be set
    /// up leaves the kernel waiting for it, so any failure here is fatal to the mount.
    /// `--threads` is shared out among the queues, at least two each (one reaps while another
    /// waits for storage or the network); each queue has two entries more than threads, so
    /// requests keep coming while every thread is busy.
    func startURing(negotiated: Negotiated) throws(Errno) {
        let capacity = max(8192, (Int(negotiated.maxWrite) + 4095) / 4096 * 4096)
        let queueCount = PossibleCPUs.count
        let threadsPerQueue = max(2, requestedThreads.load(ordering: .relaxed) / queueCount)
        let entriesPerQueue = threadsPerQueue + 2
        var queues: [URingQueueState] = []
        for cpu in 0..<queueCount {
            queues.append(try URingQueueState(queueID: UInt16(cpu), device: mount.device.descriptor.rawValue,
                                              entryCount: entriesPerQueue, payloadCapacity: capacity))
        }
        var started: [KernelThread] = []
        for (cpu, queue) in queues.enumerated() {
            for index in 0..<threadsPerQueue {
                started.append(try KernelThread.start { [self] in
                    self.serveURing(queue: queue, cpu: cpu, registers: index == 0)
                })
            }
        }
        uring.withLock { $0 = URingParts(threads: started, queues: queues) }
        logger.debug("io_uring queues started", metadata: ["queues": "\(queueCount)", "threads": "\(threadsPerQueue)",
                                                           "entries": "\(entriesPerQueue)"])
    }

    /// Joins the queue threads (after the connection ended) and reports what they served.
    func finishURing() {
        let (threads, queues) = uring.withLock { ($0.threads, $0.queues) }
        for thread in threads { thread.join() }
        guard !queues.isEmpty else { return }
        let served = queues.reduce(0) { $0 + $1.served.load(ordering: .relaxed) }
        logger.info("served over io_uring", metadata: ["requests": "\(served)"])
        uring.withLock { $0.queues = [] }
    }

    private func serveURing(queue: URingQueueState, cpu: Int, registers: Bool) {
        let pinned = scorpio_pin_to_cpu(Int32(cpu))
        if pinned < 0 { logger.debug("cannot pin an io_uring thread", metadata: ["cpu": "\(cpu)", "errno": "\(Errno(rawValue: -pinned))"]) }
        // The thread that submits an entry's command receives its next request (io_uring runs
        // the delivery in the submitter's context), so the pinned threads register their own.
        if registers {
            for entry in 0..<queue.entryCount {
                let result = queue.submit(entry: entry, commitID: nil, submit: true)
                guard result < 0 else { continue }
                // The kernel holds every request back until each queue has an entry: without
                // this one the mount would hang, so it ends instead.
                logger.critical("io_uring register failed; aborting the connection", metadata: ["errno": "\(Errno(rawValue: -result))"])
                mount.abortConnection()
                queue.baton.end()  // no completion will come to end the queue's other thread
                return
            }
        }
        let reply = UnsafeMutableRawBufferPointer.allocate(byteCount: dispatcher.requiredRequestBufferSize, alignment: 4096)
        let committed = UnsafeMutablePointer<Bool>.allocate(capacity: 1)
        let turn = WorkerTurn(baton: queue.baton)
        BlockingHint.install(turn)
        defer {
            BlockingHint.uninstall()
            reply.deallocate()
            committed.deallocate()
        }
        guard queue.baton.acquire() else { return }
        while true {
            var entry: UInt64 = 0
            var result: Int32 = 0
            let waited = scorpio_uring_wait(queue.ring, &entry, &result)
            if waited < 0 {
                logger.error("io_uring wait failed; the queue stops", metadata: ["errno": "\(Errno(rawValue: -waited))"])
                queue.baton.end()
                return
            }
            if result < 0 {
                if result == -EAGAIN || result == -EINTR {  // registered before the kernel took INIT's reply
                    usleep(1000)
                    _ = queue.submit(entry: Int(entry), commitID: nil, submit: true)
                    continue
                }
                if result != -ENOTCONN, result != -ECONNABORTED, result != -ECANCELED {
                    logger.warning("io_uring entry failed", metadata: ["errno": "\(Errno(rawValue: -result))"])
                }
                if queue.endedEntries.add(1, ordering: .acquiringAndReleasing).newValue == queue.entryCount {
                    logger.debug("io_uring queue ended", metadata: ["queue": "\(queue.queueID)"])
                    queue.baton.end()
                    return
                }
                continue
            }
            serveEntry(Int(entry), of: queue, reply: reply, turn: turn, committed: committed)
            if turn.passedOn, !queue.baton.acquire() { return }
        }
    }

    /// Rebuilds the request as /dev/fuse would deliver it (in-header, op header, payload; the
    /// kernel puts the first two in the header buffer) in the room before the payload, then
    /// dispatches it. Every request must be committed to get its entry back.
    private func serveEntry(_ entry: Int, of queue: URingQueueState, reply: UnsafeMutableRawBufferPointer,
                            turn: WorkerTurn, committed: UnsafeMutablePointer<Bool>) {
        let header = queue.header(entry)
        let length = Int(header.load(as: UInt32.self))
        let payloadSize = Int(header.load(fromByteOffset: URingLayout.payloadSize, as: UInt32.self))
        let commitID = header.load(fromByteOffset: URingLayout.commitID, as: UInt64.self)
        let opSize = length - 40 - payloadSize
        turn.begin()
        committed.pointee = false
        let sink = URingReplySink(queue: queue, entry: entry, commitID: commitID, turn: turn, committed: committed, logger: logger)
        queue.served.add(1, ordering: .relaxed)
        if opSize >= 0, opSize <= 128, payloadSize <= queue.payloadCapacity {
            let start = queue.payload(entry) - 40 - opSize
            start.copyMemory(from: header, byteCount: 40)
            if opSize > 0 { (start + 40).copyMemory(from: header + URingLayout.opIn, byteCount: opSize) }
            let message = UnsafeRawBufferPointer(start: start, count: length)
            if Self.mayWait(message) { turn.willBlock() }
            _ = dispatcher.handle(message, replyBuffer: reply, sink: sink)
        } else {
            logger.warning("malformed io_uring request", metadata: ["length": "\(length)", "payload": "\(payloadSize)"])
        }
        guard !committed.pointee else { return }
        // No reply (a malformed request): fail it, so that the entry comes back.
        var failure = (UInt32(16), Int32(-EIO), commitID)
        withUnsafeBytes(of: &failure) { sink.send($0) }
    }
}

/// CPUs the kernel may ever run a task on (/sys/devices/system/cpu/possible, e.g. "0-3"):
/// the kernel has one io_uring queue per possible CPU and waits until each is registered.
enum PossibleCPUs {
    static var count: Int {
        var bytes = [UInt8](repeating: 0, count: 256)
        let count: Int
        do {
            let file = try FileDescriptor.open("/sys/devices/system/cpu/possible", .readOnly)
            defer { file.closeQuietly() }
            count = try bytes.withUnsafeMutableBytes { try file.read(into: $0) }
        } catch {
            return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_CONF))))
        }
        // "0-3,8-11": the kernel makes as many queues as there are possible CPUs.
        var total = 0
        for range in String(decoding: bytes[0..<count], as: UTF8.self).split(whereSeparator: { $0 == "," || $0 == "\n" }) {
            let bounds = range.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2, bounds[1] >= bounds[0] { total += bounds[1] - bounds[0] + 1 } else if bounds.count == 1 { total += 1 }
        }
        return max(1, total)
    }
}

/// What a session's io_uring side owns, for joining and reporting at the end.
struct URingParts {
    var threads: [KernelThread] = []
    var queues: [URingQueueState] = []
}
