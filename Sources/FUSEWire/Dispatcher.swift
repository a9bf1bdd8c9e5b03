// The request dispatcher shared by every transport: decode, call the filesystem, encode the
// reply into the caller's buffer, hand it to the caller's sink. It never sees a file descriptor
// of /dev/fuse or a virtqueue (fuse-backend-rs `handle_message(Reader, Writer)`).
import Logging
import ScorpioSys
import Synchronization
import SystemPackage

/// Where a finished reply goes: /dev/fuse, a virtqueue, or a test.
public protocol ReplySink {
    /// Delivers one complete reply message. Failures are the transport's to log.
    func send(_ reply: UnsafeRawBufferPointer)
    /// Delivers a reply header whose `externalBytes` of data the transport already holds in
    /// the buffers it passed as ScatteredData.readDestination.
    func send(_ reply: UnsafeRawBufferPointer, followedBy externalBytes: Int)
}

extension ReplySink {
    /// Transports that never pass scattered destinations get only complete messages.
    public func send(_ reply: UnsafeRawBufferPointer, followedBy externalBytes: Int) {
        precondition(externalBytes == 0, "this transport passed no scattered destination")
        send(reply)
    }
}

/// What the transport should do after a request.
public enum DispatchOutcome: Sendable, Equatable {
    case proceed
    /// FUSE_DESTROY was handled: the session is over.
    case destroyed
}

/// Decodes requests, calls a `FileSystem`, encodes replies. Safe to call from many threads.
public final class Dispatcher<FS: FileSystem>: Sendable {
    public let fileSystem: FS
    public let configuration: InitConfiguration
    let logger: Logger
    /// Registers passthrough backing files; nil when the transport cannot (virtiofs).
    let registrar: (any BackingFileRegistrar)?
    let notifier: (any KernelNotifier)?
    let negotiatedState = Mutex<Negotiated?>(nil)
    /// Set once INIT was answered; read on every request without taking the lock.
    let initialized = Atomic<Bool>(false)
    let passthroughActive = Atomic<Bool>(false)
    /// FUSE_DONT_MASK was agreed: new objects' modes arrive without the umask applied.
    let umaskLeftToFileSystem = Atomic<Bool>(false)
    /// FUSE_SETXATTR_EXT was agreed: SETXATTR is decoded with the longer struct.
    let extendedSetxattr = Atomic<Bool>(false)
    /// Waits of requests in progress that an INTERRUPT may end.
    let interrupts = RequestInterrupts()

    public init(fileSystem: FS, configuration: InitConfiguration, registrar: (any BackingFileRegistrar)?,
                notifier: (any KernelNotifier)? = nil, logger: Logger) {
        self.fileSystem = fileSystem
        self.configuration = configuration
        self.registrar = registrar
        self.notifier = notifier
        self.logger = logger
    }

    /// What INIT agreed on, once it happened.
    public var negotiated: Negotiated? { negotiatedState.withLock { $0 } }

    /// The size a transport's read buffer must have for the largest request (a maximal WRITE).
    public var requiredRequestBufferSize: Int { Int(configuration.maxWrite) + 4096 }

    /// Handles one request message and sends its reply (if the opcode has one) through `sink`.
    /// `replyBuffer` must hold at least `requiredRequestBufferSize` bytes.
    /// `scattered` names transport buffers that hold a WRITE's data or receive a READ's data
    /// directly (virtiofs guest memory); it is ignored for other requests. A read destination
    /// must be exactly the READ's size (the transport reads it from fuse_read_in).
    public func handle(_ message: UnsafeRawBufferPointer, scattered: ScatteredData? = nil,
                       replyBuffer: UnsafeMutableRawBufferPointer, sink: some ReplySink) -> DispatchOutcome {
        let request: FUSERequest
        do {
            if case .writeSource(let source)? = scattered {
                request = try FUSERequest.decode(message, externalBytes: source.byteCount)
            } else {
                request = try FUSERequest.decode(message, extendedSetxattr: extendedSetxattr.load(ordering: .relaxed))
            }
        } catch {
            rejectMalformed(message, error: error, replyBuffer: replyBuffer, sink: sink)
            return .proceed
        }
        let header = request.header
        if logger.logLevel <= .trace {
            let name = FUSEOpcode(rawValue: header.opcode)?.kernelName ?? "opcode-\(header.opcode)"
            logger.trace("fuse request op=\(name) nodeid=\(header.nodeID.rawValue) unique=\(header.unique.rawValue)")
        }
        var writer = ReplyWriter(buffer: replyBuffer, unique: header.unique)
        if case .initialize(let major, let minor, let readahead, let flags) = request.body {
            initialize(major: major, minor: minor, readahead: readahead, flags: flags, writer: &writer, sink: sink)
            return .proceed
        }
        guard initialized.load(ordering: .acquiring) else {
            // Requests before INIT: EIO, as libfuse does; but FORGET-like requests never get a reply.
            switch request.body {
            case .forget, .batchForget, .interrupt: break
            default: sink.send(writer.finishError(Errno.ioError.rawValue))
            }
            return .proceed
        }
        let ctx = RequestContext(uid: header.uid, gid: header.gid, pid: header.pid,
                                 passthrough: passthroughActive.load(ordering: .relaxed) ? registrar : nil,
                                 notifier: notifier)
        // A wait in a layer may end early if the kernel interrupts this request (INTERRUPT).
        RequestInterruption.serving(header.unique.rawValue, of: interrupts)
        defer { RequestInterruption.servedNothing() }
        do {
            if let scattered, let replied = try performScattered(request, scattered, ctx: ctx, writer: &writer, sink: sink), replied {
                return .proceed
            }
            switch try perform(request, ctx: ctx, writer: &writer) {
            case .reply: sink.send(writer.finish())
            case .noReply: break
            case .destroy:
                sink.send(writer.finish())
                return .destroyed
            }
        } catch {
            if error == .ioError || error == .noFunction && request.isImplemented(noOpen: configuration.noOpen) {
                logger.warning("fuse request failed", metadata: ["fuse.opcode": "\(header.opcode)", "inode": "\(header.nodeID)", "errno": "\(error)"])
            }
            sink.send(writer.finishError(error.rawValue))
        }
        return .proceed
    }

    /// READ into and WRITE from the transport's buffers. Returns nil (or false) when the request
    /// is of another kind and takes the normal path.
    private func performScattered(_ request: FUSERequest, _ scattered: ScatteredData, ctx: RequestContext,
                                  writer: inout ReplyWriter, sink: some ReplySink) throws(Errno) -> Bool? {
        let node = request.header.nodeID
        switch (request.body, scattered) {
        case (.read(let handle, let offset, let size), .readDestination(let destination)) where destination.byteCount == Int(size):
            let count = try fileSystem.read(ctx, inode: node, handle: handle, offset: offset, into: destination)
            sink.send(writer.finish(externalBytes: count), followedBy: count)
            return true
        case (.write(let handle, let offset, _, let writeFlags, _), .writeSource(let source)):
            if writeFlags & WriteFlags.killSetIDBits != 0 { try fileSystem.dropSetIDBits(ctx, inode: node, handle: handle) }
            let written = try fileSystem.write(ctx, inode: node, handle: handle, offset: offset, from: source)
            writer.writeOut(size: UInt32(written))
            sink.send(writer.finish())
            return true
        default:
            return nil
        }
    }

    /// A request that failed to decode: EINVAL if its header was readable, else dropped.
    private func rejectMalformed(_ message: UnsafeRawBufferPointer, error: FUSEWireError,
                                 replyBuffer: UnsafeMutableRawBufferPointer, sink: some ReplySink) {
        var reader = ByteReader(message)
        guard let header = try? InHeader.decode(&reader) else {
            logger.warning("dropped unreadable fuse request", metadata: ["bytes": "\(message.count)", "error": "\(error)"])
            return
        }
        logger.warning("malformed fuse request", metadata: ["fuse.opcode": "\(header.opcode)", "fuse.unique": "\(header.unique.rawValue)", "error": "\(error)"])
        // FORGET and BATCH_FORGET must never be answered, even when broken.
        if header.opcode == FUSEOpcode.forget.rawValue || header.opcode == FUSEOpcode.batchForget.rawValue { return }
        var writer = ReplyWriter(buffer: replyBuffer, unique: header.unique)
        sink.send(writer.finishError(Errno.invalidArgument.rawValue))
    }

    private func initialize(major: UInt32, minor: UInt32, readahead: UInt32, flags: UInt64,
                            writer: inout ReplyWriter, sink: some ReplySink) {
        guard major == 7 else {
            // A newer major: answer with ours only, and the kernel retries or gives up.
            writer.put(UInt32(7)); writer.put(InitConfiguration.implementedMinor)
            sink.send(writer.finish())
            return
        }
        guard minor >= InitConfiguration.minimumMinor else {
            logger.error("kernel FUSE protocol 7.\(minor) is older than the 7.\(InitConfiguration.minimumMinor) we need")
            sink.send(writer.finishError(Errno.protocolNotSupported.rawValue))
            return
        }
        var result = configuration.negotiate(kernelMinor: minor, offered: InitFlags(rawValue: flags), maxReadahead: readahead)
        if registrar == nil { result.flags.remove(.passthrough) }
        writer.initOut(result, configuration: configuration)
        negotiatedState.withLock { $0 = result }
        passthroughActive.store(result.passthrough, ordering: .relaxed)
        umaskLeftToFileSystem.store(result.flags.contains(.dontMask), ordering: .relaxed)
        extendedSetxattr.store(result.flags.contains(.setxattrExt), ordering: .relaxed)
        initialized.store(true, ordering: .releasing)
        logger.debug("fuse session initialized", metadata: [
            "protocol": "7.\(result.minor)", "kernel": "7.\(minor)", "passthrough": "\(result.passthrough)",
            "writeback_cache": "\(result.flags.contains(.writebackCache))",
            "flags": "0x\(String(result.flags.rawValue, radix: 16))", "offered": "0x\(String(flags, radix: 16))",
        ])
        sink.send(writer.finish())
    }
}

extension FUSERequest {
    /// False for opcodes we answer ENOSYS on purpose (so their ENOSYS is not logged).
    func isImplemented(noOpen: Bool) -> Bool {
        switch body {
        case .open: return !noOpen
        case .unsupported: return false
        case .flush: return false  // ENOSYS on purpose: the kernel then stops sending FLUSH
        case .opendir: return false  // a filesystem without per-open listing state answers ENOSYS
        default: return true
        }
    }
}

/// Bits of fuse_write_in.write_flags.
enum WriteFlags {
    /// FUSE_WRITE_KILL_SUIDGID: the writer lacks CAP_FSETID (HANDLE_KILLPRIV_V2).
    static let killSetIDBits: UInt32 = 1 << 2
}
