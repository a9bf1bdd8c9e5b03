// Robustness of the decoder and dispatcher against short and hostile input: every prefix of
// every golden request, and a seeded stream of random and mutated buffers. Decoding must either
// succeed or throw a FUSEWireError (never trap); the dispatcher must send at most one
// well-formed reply per message, echoing its unique, and none for FORGET/BATCH_FORGET.
import Testing

@testable import FUSEWire

struct TruncationFuzzTests {
    /// struct fuse_in_header fields as (offset, size), in decoding order.
    static let headerFields: [(offset: Int, size: Int)] = [
        (0, 4), (4, 4), (8, 8), (16, 8), (24, 4), (28, 4), (32, 4), (36, 2), (38, 2),
    ]

    /// The error decoding a header cut at `length` (< 40) bytes must report.
    static func headerTruncation(at length: Int) -> FUSEWireError {
        for field in headerFields where field.offset + field.size > length {
            return .truncated(need: field.size, have: length - field.offset)
        }
        preconditionFailure("header of \(length) bytes is complete")
    }

    /// Prefixes the decoder accepts by design once `len` is patched to match:
    /// - INIT from 16 bytes of fuse_init_in on (the pre-7.36 layout; flags2 and unused[] are
    ///   optional, and a partial flags2 is read as absent);
    /// - opcodes answered ENOSYS (GETLK, unknown), whose arguments are never read.
    static func acceptsPatchedPrefix(of golden: [UInt8], length: Int) -> Bool {
        guard length >= InHeader.size else { return false }
        switch readLE32(golden, at: 4) {
        case FUSEOpcode.initialize.rawValue: return length >= InHeader.size + 16
        case FUSEOpcode.getlk.rawValue, 9999: return true
        default: return false
        }
    }

    // MARK: Prefixes of golden requests

    @Test(arguments: Golden.all)
    func everyPrefixWithOriginalLengthFieldFails(_ golden: GoldenRequest) {
        let declared = readLE32(golden.bytes, at: 0)
        for length in 0..<golden.bytes.count {
            let outcome = decodeOutcome(Array(golden.bytes[0..<length]))
            let expected: FUSEWireError = length < InHeader.size
                ? Self.headerTruncation(at: length)
                : .headerLengthMismatch(declared: declared, received: length)
            #expect(outcome == .failed(expected), "\(golden.name) cut at \(length)")
        }
    }

    @Test(arguments: Golden.all)
    func everyPrefixWithPatchedLengthFieldFailsUnlessItsBodyIsOptional(_ golden: GoldenRequest) {
        let opcode = readLE32(golden.bytes, at: 4)
        for length in 0..<golden.bytes.count {
            let outcome = decodeOutcome(patchingLength(Array(golden.bytes[0..<length])))
            if Self.acceptsPatchedPrefix(of: golden.bytes, length: length) {
                #expect(outcome == .decoded(opcode: opcode), "\(golden.name) cut at \(length)")
                continue
            }
            switch outcome {
            case .failed(.headerLengthMismatch):
                Issue.record("\(golden.name) cut at \(length): len was patched, yet \(outcome)")
            case .failed(let error) where length < InHeader.size:
                #expect(error == Self.headerTruncation(at: length), "\(golden.name) cut at \(length)")
            case .failed:
                break
            case .decoded, .failedOther:
                Issue.record("\(golden.name) cut at \(length) must fail with a FUSEWireError, got \(outcome)")
            }
        }
    }

    @Test func truncatedInitKeepsWhatTheOldLayoutHas() throws {
        // 40 + 16 bytes: a 7.31 kernel's INIT. flags2 must read as 0 even though the golden had 0x1bd.
        try withDecoded(patchingLength(Array(Golden.initialize[0..<56]))) { request, _ in
            guard case .initialize(_, _, _, let flags) = request.body else { Issue.record("not INIT"); return }
            #expect(flags == 0x7fff_fffb)
        }
        // 40 + 19 bytes: a partial flags2 is not read.
        try withDecoded(patchingLength(Array(Golden.initialize[0..<59]))) { request, _ in
            guard case .initialize(_, _, _, let flags) = request.body else { Issue.record("not INIT"); return }
            #expect(flags == 0x7fff_fffb)
        }
    }

    // MARK: Seeded random and mutated buffers

    /// Number of buffers each fuzz test generates.
    static let iterations = 20_000

    /// One fuzz input: random bytes of random length 0...300, or a golden request with a few
    /// bytes changed and possibly cut or extended; the opcode is often forced into the known
    /// range and `len` often patched, so that decoding gets past the header.
    static func fuzzInput(_ rng: inout XorShift64) -> [UInt8] {
        var bytes: [UInt8]
        if rng.below(3) == 0 {
            bytes = Golden.all[rng.below(Golden.all.count)].bytes
            for _ in 0...rng.below(4) where !bytes.isEmpty {
                bytes[rng.below(bytes.count)] = rng.byte()
            }
            switch rng.below(4) {
            case 0: bytes.removeLast(rng.below(bytes.count + 1))
            case 1: bytes.append(contentsOf: (0..<rng.below(16)).map { _ in rng.byte() })
            default: break
            }
        } else {
            let count = rng.below(301)
            bytes = (0..<count).map { _ in rng.byte() }
            if bytes.count >= 8, rng.below(4) != 0 {
                bytes.replaceSubrange(4..<8, with: le32(UInt32(rng.below(56))))  // opcode 0...55
            }
        }
        if bytes.count >= 4, rng.below(2) == 0 {
            bytes = patchingLength(bytes)
        }
        return bytes
    }

    @Test func randomBuffersDecodeOrThrowAWireError() {
        var rng = XorShift64(seed: 0x5eed_0000_f00d_cafe)
        var decoded = 0
        for iteration in 0..<Self.iterations {
            let bytes = Self.fuzzInput(&rng)
            let outcome = decodeOutcome(bytes)
            switch outcome {
            case .decoded(let opcode):
                decoded += 1
                guard bytes.count >= InHeader.size else {
                    Issue.record("iteration \(iteration): decoded without a whole header: \(bytes)")
                    continue
                }
                #expect(opcode == readLE32(bytes, at: 4), "iteration \(iteration)")
            case .failed:
                break
            case .failedOther(let error):
                Issue.record("iteration \(iteration): non-wire error \(error) for \(bytes)")
            }
        }
        // The generator is meant to reach the argument decoders, not just the header checks.
        #expect(decoded > Self.iterations / 100)
    }

    @Test func randomBuffersGetAtMostOneWellFormedReplyFromTheDispatcher() {
        var rng = XorShift64(seed: 0xd15e_a7c4_0000_0001)
        let harness = DispatchHarness()
        #expect(harness.send(Golden.initialize).replies.count == 1)
        for iteration in 0..<Self.iterations {
            let bytes = Self.fuzzInput(&rng)
            let replies = harness.send(bytes).replies
            Self.checkReplies(replies, to: bytes, iteration: iteration)
        }
    }

    @Test func randomBuffersBeforeInitGetAtMostOneReply() {
        var rng = XorShift64(seed: 0x0bad_5eed_1234_5678)
        let harness = DispatchHarness(registrar: nil)
        for iteration in 0..<Self.iterations / 4 {
            let bytes = Self.fuzzInput(&rng)
            let replies = harness.send(bytes).replies
            #expect(replies.count <= 1, "iteration \(iteration)")
            guard bytes.count >= InHeader.size else {
                #expect(replies.isEmpty, "iteration \(iteration): unreadable header answered")
                continue
            }
            for reply in replies { Self.checkReply(reply, unique: readLE64(bytes, at: 8), iteration: iteration) }
        }
    }

    /// Reply rules for one message sent to an initialized dispatcher.
    static func checkReplies(_ replies: [[UInt8]], to bytes: [UInt8], iteration: Int,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(replies.count <= 1, "iteration \(iteration)", sourceLocation: sourceLocation)
        guard bytes.count >= InHeader.size else {
            #expect(replies.isEmpty, "iteration \(iteration): unreadable header answered", sourceLocation: sourceLocation)
            return
        }
        let opcode = readLE32(bytes, at: 4)
        switch opcode {
        case FUSEOpcode.forget.rawValue, FUSEOpcode.batchForget.rawValue:
            #expect(replies.isEmpty, "iteration \(iteration): FORGET answered", sourceLocation: sourceLocation)
        case FUSEOpcode.interrupt.rawValue:
            break  // none when well formed, EINVAL when malformed
        default:
            #expect(replies.count == 1, "iteration \(iteration): opcode \(opcode)", sourceLocation: sourceLocation)
        }
        for reply in replies {
            checkReply(reply, unique: readLE64(bytes, at: 8), iteration: iteration, sourceLocation: sourceLocation)
        }
    }

    /// A reply must be a whole fuse_out_header (+ body) whose len is its size and whose unique
    /// echoes the request's; error replies carry no body.
    static func checkReply(_ reply: [UInt8], unique: UInt64, iteration: Int,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        guard let header = OutHeader(reply) else {
            Issue.record("iteration \(iteration): reply of \(reply.count) bytes", sourceLocation: sourceLocation)
            return
        }
        #expect(Int(header.len) == reply.count, "iteration \(iteration)", sourceLocation: sourceLocation)
        #expect(header.unique == unique, "iteration \(iteration)", sourceLocation: sourceLocation)
        #expect(header.error <= 0, "iteration \(iteration)", sourceLocation: sourceLocation)
        if header.error != 0 {
            #expect(reply.count == ReplyWriter.headerSize, "iteration \(iteration)", sourceLocation: sourceLocation)
        }
    }
}
