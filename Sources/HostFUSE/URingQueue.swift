// FUSE over io_uring (`--io-uring`, kernel 6.14+): one queue per possible CPU, each with its
// own ring and a few registered entries (a 288-byte header buffer and a payload buffer each).
// The kernel hands a request to the queue of the CPU its sender runs on, and that queue's
// threads are pinned to the same CPU: the sender sleeps, a queue thread runs there, answers,
// and the sender wakes there again. Over /dev/fuse each request wakes a thread on the other
// CPU and the reply wakes the sender back across CPUs; on a virtual machine those wake-ups
// cost more than the request. FORGET, INTERRUPT and notifications still use /dev/fuse.
import CScorpioLinux
import FUSEWire
import Glibc
import Logging
import ScorpioSys
import Synchronization
import SystemPackage

/// Offsets in struct fuse_uring_req_header (include/uapi/linux/fuse.h, 7.42).
enum URingLayout {
    static let headerSize = 288
    static let opIn = 128
    static let entryInOut = 256  // struct fuse_uring_ent_in_out
    static let commitID = entryInOut + 8
    static let payloadSize = entryInOut + 16
    static let registerCommand: UInt32 = 1  // FUSE_IO_URING_CMD_REGISTER
    static let commitAndFetchCommand: UInt32 = 2  // FUSE_IO_URING_CMD_COMMIT_AND_FETCH
    /// Room before each payload buffer where the in-header and op header are copied, so the
    /// request is one contiguous message as /dev/fuse would deliver it.
    static let prefix = 4096
}

/// The memory and ring of one queue. Its buffers are written by the kernel while an entry is
/// registered and by the one thread handling that entry's request otherwise; the ring's
/// submission side is locked in C and its completion side is read by the baton holder only.
final class URingQueueState: @unchecked Sendable {  // see the comment above: every access is owned
    let queueID: UInt16
    let ring: UnsafeMutableRawPointer
    let device: Int32
    let entryCount: Int
    let payloadCapacity: Int
    let headers: UnsafeMutableRawPointer
    let payloads: UnsafeMutableRawPointer
    let vectors: UnsafeMutableBufferPointer<iovec>
    let baton = ReaderBaton()
    let endedEntries = Atomic<Int>(0)
    /// Requests this queue handled, for the session's closing log line.
    let served = Atomic<Int>(0)

    init(queueID: UInt16, device: Int32, entryCount: Int, payloadCapacity: Int) throws(Errno) {
        var error: Int32 = 0
        guard let ring = scorpio_uring_create(UInt32(entryCount * 2), &error) else { throw Errno(rawValue: error) }
        self.ring = ring
        self.queueID = queueID
        self.device = device
        self.entryCount = entryCount
        self.payloadCapacity = payloadCapacity
        headers = .allocate(byteCount: entryCount * 512, alignment: 64)
        payloads = .allocate(byteCount: entryCount * (URingLayout.prefix + payloadCapacity), alignment: 4096)
        vectors = .allocate(capacity: entryCount * 2)
        for entry in 0..<entryCount {
            vectors[entry * 2] = iovec(iov_base: header(entry), iov_len: URingLayout.headerSize)
            vectors[entry * 2 + 1] = iovec(iov_base: payload(entry), iov_len: payloadCapacity)
        }
    }

    deinit {
        scorpio_uring_destroy(ring)
        headers.deallocate()
        payloads.deallocate()
        vectors.deallocate()
    }

    func header(_ entry: Int) -> UnsafeMutableRawPointer { headers + entry * 512 }
    func payload(_ entry: Int) -> UnsafeMutableRawPointer {
        payloads + entry * (URingLayout.prefix + payloadCapacity) + URingLayout.prefix
    }

    /// Registers `entry`, or commits its reply and asks for the next request (`commitID` set).
    /// `submit` false leaves the submission to the next `wait` of the calling thread.
    func submit(entry: Int, commitID: UInt64?, submit: Bool) -> Int32 {
        // struct fuse_uring_cmd_req: flags, commit_id, qid, padding.
        var command = (UInt64(0), commitID ?? 0, UInt64(queueID))
        return withUnsafeBytes(of: &command) { bytes in
            scorpio_uring_queue_command(ring, device, commitID == nil ? URingLayout.registerCommand : URingLayout.commitAndFetchCommand,
                                        vectors.baseAddress! + entry * 2, 2, bytes.baseAddress, 24, UInt64(entry), submit ? 1 : 0)
        }
    }
}

/// Commits a reply into the entry it answers. The reply's out-header goes into the header
/// buffer, its body into the payload buffer (the request there is no longer used). A thread
// that still holds its queue's baton leaves the submission to its next wait: one system call
// then commits and sleeps.
struct URingReplySink: ReplySink {
    let queue: URingQueueState
    let entry: Int
    let commitID: UInt64
    let turn: WorkerTurn
    let committed: UnsafeMutablePointer<Bool>
    let logger: Logger

    func send(_ reply: UnsafeRawBufferPointer) {
        let header = queue.header(entry)
        let body = reply.count - 16
        guard body >= 0, body <= queue.payloadCapacity else {
            logger.error("reply does not fit the io_uring entry", metadata: ["bytes": "\(reply.count)"])
            return
        }
        header.copyMemory(from: reply.baseAddress!, byteCount: 16)
        if body > 0 { queue.payload(entry).copyMemory(from: reply.baseAddress! + 16, byteCount: body) }
        header.storeBytes(of: UInt32(body), toByteOffset: URingLayout.payloadSize, as: UInt32.self)
        let result = queue.submit(entry: entry, commitID: commitID, submit: turn.passedOn)
        if result < 0 { logger.error("io_uring commit failed; the request stays unanswered", metadata: ["errno": "\(Errno(rawValue: -result))"]) }
        committed.pointee = true
    }
}
