// vhost-user wire definitions (QEMU docs/interop/vhost-user.rst): the 12-byte message header,
// request codes, feature bits, and the payloads this backend understands. Little-endian on the
// wire, like every host QEMU runs on.

/// Request codes of frontend-to-backend messages.
public enum VhostUserRequest: UInt32, Sendable {
    case getFeatures = 1
    case setFeatures = 2
    case setOwner = 3
    case resetOwner = 4
    case setMemTable = 5
    case setLogBase = 6
    case setLogFD = 7
    case setVringNum = 8
    case setVringAddr = 9
    case setVringBase = 10
    case getVringBase = 11
    case setVringKick = 12
    case setVringCall = 13
    case setVringErr = 14
    case getProtocolFeatures = 15
    case setProtocolFeatures = 16
    case getQueueNum = 17
    case setVringEnable = 18
    case setBackendReqFD = 21
    case getMaxMemSlots = 36
    case addMemReg = 37
    case remMemReg = 38
}

/// The header's flags word.
public enum VhostUserFlags {
    public static let versionMask: UInt32 = 0x3
    public static let version: UInt32 = 0x1
    public static let reply: UInt32 = 1 << 2
    public static let needReply: UInt32 = 1 << 3
}

/// Virtio and vhost feature bits (GET_FEATURES).
public enum VirtioFeature {
    public static let indirectDescriptors: UInt64 = 1 << 28
    public static let eventIndex: UInt64 = 1 << 29
    /// VHOST_USER_F_PROTOCOL_FEATURES: rings start disabled until SET_VRING_ENABLE.
    public static let protocolFeatures: UInt64 = 1 << 30
    public static let version1: UInt64 = 1 << 32
}

/// Protocol feature bits (GET_PROTOCOL_FEATURES).
public enum VhostProtocolFeature {
    public static let multiQueue: UInt64 = 1 << 0
    public static let replyAck: UInt64 = 1 << 3
    public static let configureMemorySlots: UInt64 = 1 << 15
}

/// The fixed part of every message.
public struct VhostUserHeader: Sendable, Equatable {
    public static let size = 12
    /// Payloads larger than this are refused (the biggest we accept, SET_MEM_TABLE with 8
    /// regions, is 264 bytes).
    public static let maximumPayload = 4096

    public var request: UInt32
    public var flags: UInt32
    public var size: UInt32

    public init(request: UInt32, flags: UInt32, size: UInt32) {
        self.request = request
        self.flags = flags
        self.size = size
    }

    public init(_ bytes: UnsafeRawBufferPointer) {
        request = bytes.loadLittleEndian(at: 0)
        flags = bytes.loadLittleEndian(at: 4)
        size = bytes.loadLittleEndian(at: 8)
    }

    public var needsReply: Bool { flags & VhostUserFlags.needReply != 0 }
}

/// Errors in a control message. Each names what was wrong, for the log line.
public enum VhostUserError: Error, Equatable, CustomStringConvertible {
    case badVersion(UInt32)
    case payloadTooLarge(UInt32)
    case payloadSize(request: UInt32, got: Int, expected: Int)
    case missingDescriptor(request: UInt32)
    case queueIndex(UInt32)
    case unsupported(UInt32)
    case invalid(String)

    public var description: String {
        switch self {
        case .badVersion(let flags): "unsupported vhost-user version in flags 0x\(String(flags, radix: 16))"
        case .payloadTooLarge(let size): "payload of \(size) bytes exceeds the \(VhostUserHeader.maximumPayload)-byte limit"
        case .payloadSize(let request, let got, let expected): "request \(request): payload of \(got) bytes, expected \(expected)"
        case .missingDescriptor(let request): "request \(request) carried no file descriptor"
        case .queueIndex(let index): "queue index \(index) out of range"
        case .unsupported(let request): "unsupported vhost-user request \(request)"
        case .invalid(let what): what
        }
    }
}

/// One memory region as SET_MEM_TABLE and ADD_MEM_REG describe it.
public struct MemoryRegionDescription: Sendable, Equatable {
    public static let size = 32
    public var guestPhysicalAddress: UInt64
    public var size: UInt64
    /// The region's address in the frontend's (QEMU's) address space: ring addresses use these.
    public var userAddress: UInt64
    public var mmapOffset: UInt64

    public init(guestPhysicalAddress: UInt64, size: UInt64, userAddress: UInt64, mmapOffset: UInt64) {
        self.guestPhysicalAddress = guestPhysicalAddress
        self.size = size
        self.userAddress = userAddress
        self.mmapOffset = mmapOffset
    }

    init(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        guestPhysicalAddress = bytes.loadLittleEndian(at: offset)
        size = bytes.loadLittleEndian(at: offset + 8)
        userAddress = bytes.loadLittleEndian(at: offset + 16)
        mmapOffset = bytes.loadLittleEndian(at: offset + 24)
    }

    public func encode(into bytes: inout [UInt8]) {
        for value in [guestPhysicalAddress, size, userAddress, mmapOffset] { bytes.appendLittleEndian(value) }
    }
}

/// SET_VRING_ADDR's payload.
public struct VringAddresses: Sendable, Equatable {
    public static let size = 40
    public var index: UInt32
    public var flags: UInt32
    public var descriptorTable: UInt64
    public var usedRing: UInt64
    public var availableRing: UInt64
    public var log: UInt64

    public init(index: UInt32, descriptorTable: UInt64, usedRing: UInt64, availableRing: UInt64) {
        self.index = index
        self.flags = 0
        self.descriptorTable = descriptorTable
        self.usedRing = usedRing
        self.availableRing = availableRing
        self.log = 0
    }

    init(_ bytes: UnsafeRawBufferPointer) {
        index = bytes.loadLittleEndian(at: 0)
        flags = bytes.loadLittleEndian(at: 4)
        descriptorTable = bytes.loadLittleEndian(at: 8)
        usedRing = bytes.loadLittleEndian(at: 16)
        availableRing = bytes.loadLittleEndian(at: 24)
        log = bytes.loadLittleEndian(at: 32)
    }
}

extension UnsafeRawBufferPointer {
    /// A little-endian integer at `offset`; callers check the length first.
    @inline(__always)
    func loadLittleEndian<T: FixedWidthInteger>(at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension Array where Element == UInt8 {
    public mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
