// A split virtqueue (virtio 1.x, section 2.7) seen from the device side: take descriptor chains
// the guest made available, hand back used ones, and decide whether the guest wants an
// interrupt. Everything read from guest memory is read once into locals before it is checked,
// so a guest changing a descriptor under us cannot get past a check.
import ScorpioSys

/// A queue's setup as the vhost-user messages described it.
public struct VringConfiguration: Sendable, Equatable {
    public var size: UInt16 = 0
    public var addresses: VringAddresses?
    /// SET_VRING_BASE: where the next available entry is.
    public var base: UInt16 = 0
    public var eventIndex = false
    public var indirectDescriptors = false

    public init() {}
}

/// Why a queue or one of its chains was refused.
public enum VirtqueueError: Error, Equatable, CustomStringConvertible {
    /// The rings themselves are unusable (bad addresses, bad indices): the queue stops.
    case brokenRing(String)
    /// One chain is malformed; it is returned to the guest unused and the queue goes on.
    case badChain(head: UInt16, String)

    public var description: String {
        switch self {
        case .brokenRing(let why): "virtqueue unusable: \(why)"
        case .badChain(let head, let why): "descriptor chain \(head) rejected: \(why)"
        }
    }
}

/// A piece of guest memory a chain points at, already bounds-checked.
public struct GuestSegment {
    public let pointer: UnsafeMutableRawPointer
    public let length: Int
}

/// The buffers of one request: device-readable ones first, then device-writable ones. The
/// arrays are reused from chain to chain (no allocation per request once warmed up).
public struct DescriptorChain {
    public var head: UInt16 = 0
    public var readable: [GuestSegment] = []
    public var writable: [GuestSegment] = []
    public var readableBytes = 0
    public var writableBytes = 0

    public init() {
        readable.reserveCapacity(64)
        writable.reserveCapacity(300)
    }

    mutating func reset(head: UInt16) {
        self.head = head
        readable.removeAll(keepingCapacity: true)
        writable.removeAll(keepingCapacity: true)
        readableBytes = 0
        writableBytes = 0
    }
}

struct SplitVirtqueue {
    static let descriptorSize = 16
    static let flagNext: UInt16 = 1
    static let flagWrite: UInt16 = 2
    static let flagIndirect: UInt16 = 4
    static let availableNoInterrupt: UInt16 = 1

    let memory: GuestMemory
    let size: UInt16
    let descriptors: UnsafeMutableRawPointer
    let available: UnsafeMutableRawPointer
    let used: UnsafeMutableRawPointer
    let eventIndex: Bool
    let indirectAllowed: Bool
    private(set) var lastAvailable: UInt16
    private(set) var nextUsed: UInt16

    /// Locates the rings in guest memory; every ring must lie entirely inside one region.
    init(memory: GuestMemory, configuration: VringConfiguration) throws(VirtqueueError) {
        let size = Int(configuration.size)
        guard size > 0, size <= 32768, size & (size - 1) == 0 else { throw .brokenRing("queue size \(size) is not a power of two up to 32768") }
        guard let addresses = configuration.addresses else { throw .brokenRing("ring addresses were never set") }
        guard let descriptors = memory.translate(frontend: addresses.descriptorTable, length: 16 * size),
              let available = memory.translate(frontend: addresses.availableRing, length: 6 + 2 * size),
              let used = memory.translate(frontend: addresses.usedRing, length: 6 + 8 * size)
        else { throw .brokenRing("ring addresses lie outside guest memory") }
        guard Int(bitPattern: descriptors) % 16 == 0, Int(bitPattern: available) % 2 == 0, Int(bitPattern: used) % 4 == 0
        else { throw .brokenRing("misaligned ring addresses") }
        self.memory = memory
        self.size = UInt16(size)
        self.descriptors = descriptors
        self.available = available
        self.used = used
        self.eventIndex = configuration.eventIndex
        self.indirectAllowed = configuration.indirectDescriptors
        self.lastAvailable = configuration.base
        // Resuming after GET_VRING_BASE: everything before the base was completed.
        self.nextUsed = SharedMemoryOrder.loadAcquire(used + 2)
    }

    /// True when the guest made entries available that we have not taken yet.
    var hasAvailable: Bool { SharedMemoryOrder.loadAcquire(available + 2) != lastAvailable }

    /// Takes the next available chain into `chain`; false when there is none.
    mutating func next(into chain: inout DescriptorChain) throws(VirtqueueError) -> Bool {
        let availableIndex = SharedMemoryOrder.loadAcquire(available + 2)
        if availableIndex == lastAvailable { return false }
        guard availableIndex &- lastAvailable <= size else {
            throw .brokenRing("guest claims \(availableIndex &- lastAvailable) new entries in a queue of \(size)")
        }
        let slot = Int(lastAvailable % size)
        let head = UInt16(littleEndian: available.loadUnaligned(fromByteOffset: 4 + 2 * slot, as: UInt16.self))
        guard head < size else { throw .brokenRing("available entry names descriptor \(head) of \(size)") }
        lastAvailable &+= 1
        chain.reset(head: head)
        try walk(from: head, into: &chain)
        return true
    }

    /// Follows a chain through the descriptor table, and one indirect table if there is one.
    private func walk(from head: UInt16, into chain: inout DescriptorChain) throws(VirtqueueError) {
        var table = UnsafeRawPointer(descriptors)
        var tableSize = Int(size)
        var index = Int(head)
        var visited = 0
        var inIndirect = false
        while true {
            visited += 1
            guard visited <= tableSize else { throw .badChain(head: head, "chain longer than its table (a loop?)") }
            let entry = table + index * SplitVirtqueue.descriptorSize
            let address = UInt64(littleEndian: entry.loadUnaligned(as: UInt64.self))
            let length = UInt32(littleEndian: entry.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            let flags = UInt16(littleEndian: entry.loadUnaligned(fromByteOffset: 12, as: UInt16.self))
            let nextIndex = UInt16(littleEndian: entry.loadUnaligned(fromByteOffset: 14, as: UInt16.self))
            if flags & SplitVirtqueue.flagIndirect != 0 {
                guard indirectAllowed else { throw .badChain(head: head, "indirect descriptor without the feature") }
                guard !inIndirect else { throw .badChain(head: head, "nested indirect table") }
                guard flags & SplitVirtqueue.flagNext == 0 else { throw .badChain(head: head, "indirect descriptor with NEXT") }
                guard length > 0, length % 16 == 0 else { throw .badChain(head: head, "indirect table of \(length) bytes") }
                guard let indirect = memory.translate(guest: address, length: Int(length)) else {
                    throw .badChain(head: head, "indirect table outside guest memory")
                }
                table = UnsafeRawPointer(indirect)
                tableSize = Int(length) / SplitVirtqueue.descriptorSize
                guard tableSize <= 65536 else { throw .badChain(head: head, "indirect table of \(tableSize) entries") }
                index = 0
                visited = 0
                inIndirect = true
                continue
            }
            try append(address: address, length: Int(length), writable: flags & SplitVirtqueue.flagWrite != 0, head: head, to: &chain)
            guard flags & SplitVirtqueue.flagNext != 0 else { return }
            guard Int(nextIndex) < tableSize else { throw .badChain(head: head, "next descriptor \(nextIndex) outside its table") }
            index = Int(nextIndex)
        }
    }

    /// Adds one buffer, split where it crosses from one memory region into the next.
    private func append(address: UInt64, length: Int, writable: Bool, head: UInt16, to chain: inout DescriptorChain) throws(VirtqueueError) {
        guard !address.addingReportingOverflow(UInt64(length)).overflow else { throw .badChain(head: head, "buffer wraps the address space") }
        if !writable && !chain.writable.isEmpty { throw .badChain(head: head, "device-readable buffer after a writable one") }
        var cursor = address
        var remaining = length
        while remaining > 0 {
            guard let (pointer, contiguous) = memory.contiguousPrefix(guest: cursor) else {
                throw .badChain(head: head, "buffer at 0x\(String(cursor, radix: 16)) outside guest memory")
            }
            let piece = min(contiguous, remaining)
            let segment = GuestSegment(pointer: pointer, length: piece)
            if writable {
                chain.writable.append(segment)
                chain.writableBytes += piece
            } else {
                chain.readable.append(segment)
                chain.readableBytes += piece
            }
            cursor += UInt64(piece)
            remaining -= piece
        }
    }

    /// Hands chain `head` back with `written` bytes filled in. The entry is written before the
    /// index is published (release store), so the guest never sees the index first.
    mutating func complete(head: UInt16, written: UInt32) {
        let slot = Int(nextUsed % size)
        let entry = used + 4 + 8 * slot
        entry.storeBytes(of: UInt32(head).littleEndian, as: UInt32.self)
        entry.storeBytes(of: written.littleEndian, toByteOffset: 4, as: UInt32.self)
        nextUsed &+= 1
        SharedMemoryOrder.storeRelease(used + 2, nextUsed.littleEndian)
    }

    /// Whether the guest asked for an interrupt for the entries used since `previousUsed`.
    func needsInterrupt(since previousUsed: UInt16) -> Bool {
        SharedMemoryOrder.fullFence()  // our used index must be visible before we read its wishes
        if eventIndex {
            let usedEvent = SharedMemoryOrder.loadAcquire(available + 4 + 2 * Int(size))
            return nextUsed &- usedEvent &- 1 < nextUsed &- previousUsed
        }
        return SharedMemoryOrder.loadAcquire(available) & SplitVirtqueue.availableNoInterrupt == 0
    }

    /// Before sleeping: tell the guest (EVENT_IDX) which entry should kick us next, then check
    /// again, since the guest may have added entries before it saw that. True if there is work.
    func armNotification() -> Bool {
        if eventIndex {
            SharedMemoryOrder.storeRelease(used + 4 + 8 * Int(size), lastAvailable)
        }
        SharedMemoryOrder.fullFence()
        return hasAvailable
    }
}
