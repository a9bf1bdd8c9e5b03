// The device state one vhost-user connection builds up: negotiated features, the guest memory
// table, and per queue its ring setup, eventfds and worker. Runs on the connection's thread;
// only the queue workers run elsewhere, and they get immutable snapshots.
import Logging
import ScorpioSys
import SystemPackage

/// The outcome of one control message.
public enum VhostUserResponse: Equatable {
    /// A request with its own reply (GET_*): these bytes are the payload.
    case payload([UInt8])
    /// Done; acknowledged with 0 if the frontend asked for an acknowledgement.
    case done
}

public final class VhostUserDevice {
    /// What we offer in GET_FEATURES.
    public static let offeredFeatures = VirtioFeature.version1 | VirtioFeature.indirectDescriptors
        | VirtioFeature.eventIndex | VirtioFeature.protocolFeatures
    /// What we offer in GET_PROTOCOL_FEATURES.
    public static let offeredProtocolFeatures = VhostProtocolFeature.multiQueue | VhostProtocolFeature.replyAck
        | VhostProtocolFeature.configureMemorySlots

    struct QueueSlot {
        var configuration = VringConfiguration()
        var kick: FileDescriptor?
        var errorLine: FileDescriptor?
        let interrupt = InterruptLine()
        var enabled = false
        var worker: QueueWorker?
    }

    let logger: Logger
    let makeHandler: @Sendable () -> any ChainHandler
    private(set) var features: UInt64 = 0
    private(set) var protocolFeatures: UInt64 = 0
    private(set) var memory = GuestMemory.empty
    private var queues: [QueueSlot]

    /// A device with `queueCount` queues (hiprio plus request queues, for virtio-fs).
    public init(queueCount: Int, logger: Logger, makeHandler: @escaping @Sendable () -> any ChainHandler) {
        self.logger = logger
        self.makeHandler = makeHandler
        self.queues = (0..<queueCount).map { _ in QueueSlot() }  // one InterruptLine each
    }

    public var replyAckNegotiated: Bool { protocolFeatures & VhostProtocolFeature.replyAck != 0 }
    public var runningQueues: Int { queues.filter { $0.worker != nil }.count }

    /// Handles one message. Descriptors it keeps are removed from `descriptors`; the caller
    /// closes what is left.
    public func handle(_ header: VhostUserHeader, payload: UnsafeRawBufferPointer,
                       descriptors: inout [FileDescriptor]) throws(VhostUserError) -> VhostUserResponse {
        guard let request = VhostUserRequest(rawValue: header.request) else { throw .unsupported(header.request) }
        switch request {
        case .getFeatures:
            return .payload(u64(VhostUserDevice.offeredFeatures))
        case .setFeatures:
            let value = try readU64(request, payload)
            guard value & ~VhostUserDevice.offeredFeatures == 0 else { throw .invalid("SET_FEATURES with unoffered bits 0x\(String(value & ~VhostUserDevice.offeredFeatures, radix: 16))") }
            features = value
            for index in queues.indices {
                queues[index].configuration.eventIndex = value & VirtioFeature.eventIndex != 0
                queues[index].configuration.indirectDescriptors = value & VirtioFeature.indirectDescriptors != 0
            }
        case .getProtocolFeatures:
            return .payload(u64(VhostUserDevice.offeredProtocolFeatures))
        case .setProtocolFeatures:
            let value = try readU64(request, payload)
            guard value & ~VhostUserDevice.offeredProtocolFeatures == 0 else { throw .invalid("SET_PROTOCOL_FEATURES with unoffered bits") }
            protocolFeatures = value
        case .setOwner:
            break
        case .resetOwner:
            reset()
        case .getQueueNum:
            return .payload(u64(UInt64(queues.count)))
        case .getMaxMemSlots:
            return .payload(u64(UInt64(GuestMemory.maximumRegions)))
        case .setMemTable:
            try setMemoryTable(payload, descriptors: &descriptors)
        case .addMemReg:
            let description = try singleRegion(request, payload)
            guard !descriptors.isEmpty else { throw .missingDescriptor(request: header.request) }
            let region = try GuestRegion.map(description, descriptor: descriptors[0])
            replaceMemory(try memory.adding(region))
        case .remMemReg:
            replaceMemory(try memory.removing(try singleRegion(request, payload)))
        case .setVringNum:
            let (index, number) = try vringState(request, payload)
            guard number > 0, number <= 32768, number & (number - 1) == 0 else { throw .invalid("queue size \(number) is not a power of two up to 32768") }
            try stopped(index).configuration.size = UInt16(number)
        case .setVringBase:
            let (index, number) = try vringState(request, payload)
            guard number <= UInt32(UInt16.max) else { throw .invalid("vring base \(number) out of range") }
            try stopped(index).configuration.base = UInt16(number)
        case .setVringAddr:
            guard payload.count == VringAddresses.size else { throw .payloadSize(request: header.request, got: payload.count, expected: VringAddresses.size) }
            let addresses = VringAddresses(payload)
            try stopped(Int(addresses.index)).configuration.addresses = addresses
        case .getVringBase:
            let (index, _) = try vringState(request, payload)
            try checkIndex(index)
            stopWorker(index)
            queues[index].kick?.closeQuietly()
            queues[index].kick = nil  // stopped until the next SET_VRING_KICK
            var reply = [UInt8]()
            reply.appendLittleEndian(UInt32(index))
            reply.appendLittleEndian(UInt32(queues[index].configuration.base))
            return .payload(reply)
        case .setVringKick, .setVringCall, .setVringErr:
            try setEventDescriptor(request, payload, descriptors: &descriptors)
        case .setVringEnable:
            let (index, enable) = try vringState(request, payload)
            try checkIndex(index)
            guard protocolFeatures != 0 || features & VirtioFeature.protocolFeatures != 0 else {
                throw .invalid("SET_VRING_ENABLE without VHOST_USER_F_PROTOCOL_FEATURES")
            }
            queues[index].enabled = enable != 0
            if enable != 0 { try startIfReady(index) } else { stopWorker(index) }
        case .setBackendReqFD:
            break  // not offered; the descriptor is closed by the caller
        case .setLogBase, .setLogFD:
            throw .unsupported(header.request)  // dirty logging (migration) is not offered
        }
        return .done
    }

    /// Stops every queue and forgets the memory table (RESET_OWNER, disconnect).
    public func reset() {
        for index in queues.indices {
            stopWorker(index)
            queues[index].kick?.closeQuietly()
            queues[index].errorLine?.closeQuietly()
            queues[index].interrupt.replace(with: nil)
            queues[index] = QueueSlot()
        }
        memory = GuestMemory.empty
        features = 0
        protocolFeatures = 0
    }

    // MARK: - Queues

    private func checkIndex(_ index: Int) throws(VhostUserError) {
        guard index >= 0, index < queues.count else { throw .queueIndex(UInt32(truncatingIfNeeded: index)) }
    }

    /// A queue's slot for changing its ring setup, which must not happen while it runs.
    private func stopped(_ index: Int) throws(VhostUserError) -> Slot {
        try checkIndex(index)
        guard queues[index].worker == nil else { throw .invalid("queue \(index) changed while it runs") }
        return Slot(device: self, index: index)
    }

    /// Write access to one slot's configuration (keeps call sites one line).
    struct Slot {
        let device: VhostUserDevice
        let index: Int
        var configuration: VringConfiguration {
            get { device.queues[index].configuration }
            nonmutating set { device.queues[index].configuration = newValue }
        }
    }

    private func startIfReady(_ index: Int) throws(VhostUserError) {
        let slot = queues[index]
        let enabled = slot.enabled || features & VirtioFeature.protocolFeatures == 0
        guard slot.worker == nil, enabled, let kick = slot.kick, slot.configuration.addresses != nil,
              slot.configuration.size > 0, memory.regionCount > 0 else { return }
        do {
            _ = try SplitVirtqueue(memory: memory, configuration: slot.configuration)  // refuse bad rings here, with a reply
        } catch {
            throw .invalid("queue \(index): \(error)")
        }
        do {
            queues[index].worker = try QueueWorker.start(
                index: index, configuration: slot.configuration, memory: memory, kick: kick,
                interrupt: slot.interrupt, logger: logger, makeHandler: makeHandler)
            logger.debug("queue \(index) started", metadata: ["size": "\(slot.configuration.size)", "base": "\(slot.configuration.base)"])
        } catch {
            throw .invalid("cannot start a worker thread for queue \(index): \(error)")
        }
    }

    private func stopWorker(_ index: Int) {
        guard let worker = queues[index].worker else { return }
        queues[index].configuration.base = worker.stop()
        queues[index].worker = nil
    }

    private func setEventDescriptor(_ request: VhostUserRequest, _ payload: UnsafeRawBufferPointer,
                                    descriptors: inout [FileDescriptor]) throws(VhostUserError) {
        let value = try readU64(request, payload)
        let index = Int(value & 0xff)
        try checkIndex(index)
        let noDescriptor = value & 0x100 != 0
        if !noDescriptor && descriptors.isEmpty { throw .missingDescriptor(request: request.rawValue) }
        let descriptor = noDescriptor ? nil : descriptors.removeFirst()
        switch request {
        case .setVringKick:
            guard let descriptor else { throw .invalid("queue \(index): polling without a kick eventfd is not supported") }
            stopWorker(index)
            queues[index].kick?.closeQuietly()
            queues[index].kick = descriptor
            try startIfReady(index)
        case .setVringCall:
            queues[index].interrupt.replace(with: descriptor)
        default:
            queues[index].errorLine?.closeQuietly()
            queues[index].errorLine = descriptor
        }
    }

    // MARK: - Memory

    private func setMemoryTable(_ payload: UnsafeRawBufferPointer, descriptors: inout [FileDescriptor]) throws(VhostUserError) {
        guard payload.count >= 8 else { throw .payloadSize(request: VhostUserRequest.setMemTable.rawValue, got: payload.count, expected: 8) }
        let count = Int(payload.loadLittleEndian(at: 0) as UInt32)
        guard count > 0, count <= 8 else { throw .invalid("SET_MEM_TABLE with \(count) regions (1 to 8 allowed)") }
        guard payload.count >= 8 + count * MemoryRegionDescription.size else {
            throw .payloadSize(request: VhostUserRequest.setMemTable.rawValue, got: payload.count, expected: 8 + count * MemoryRegionDescription.size)
        }
        guard descriptors.count == count else { throw .invalid("SET_MEM_TABLE with \(count) regions but \(descriptors.count) descriptors") }
        let descriptions = (0..<count).map { MemoryRegionDescription(payload, at: 8 + $0 * MemoryRegionDescription.size) }
        replaceMemory(try GuestMemory.mapping(descriptions, descriptors: descriptors))
    }

    /// Installs a new table; running queues restart on it where they stopped.
    private func replaceMemory(_ table: GuestMemory) {
        let running = queues.indices.filter { queues[$0].worker != nil }
        for index in running { stopWorker(index) }
        memory = table
        for index in running {
            do { try startIfReady(index) } catch { logger.error("queue \(index) not restarted after a memory change: \(error)") }
        }
    }

    private func singleRegion(_ request: VhostUserRequest, _ payload: UnsafeRawBufferPointer) throws(VhostUserError) -> MemoryRegionDescription {
        guard payload.count == 8 + MemoryRegionDescription.size else {
            throw .payloadSize(request: request.rawValue, got: payload.count, expected: 8 + MemoryRegionDescription.size)
        }
        return MemoryRegionDescription(payload, at: 8)
    }

    // MARK: - Payloads

    private func readU64(_ request: VhostUserRequest, _ payload: UnsafeRawBufferPointer) throws(VhostUserError) -> UInt64 {
        guard payload.count == 8 else { throw .payloadSize(request: request.rawValue, got: payload.count, expected: 8) }
        return payload.loadLittleEndian(at: 0)
    }

    private func vringState(_ request: VhostUserRequest, _ payload: UnsafeRawBufferPointer) throws(VhostUserError) -> (Int, UInt32) {
        guard payload.count == 8 else { throw .payloadSize(request: request.rawValue, got: payload.count, expected: 8) }
        return (Int(payload.loadLittleEndian(at: 0) as UInt32), payload.loadLittleEndian(at: 4))
    }

    private func u64(_ value: UInt64) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.appendLittleEndian(value)
        return bytes
    }
}
