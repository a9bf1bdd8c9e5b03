// The guest's RAM as the frontend shared it: a set of mapped regions, and bounds-checked
// translation of guest physical addresses (descriptor buffers) and frontend virtual addresses
// (ring locations). No access the backend makes can leave a mapped region: every translation
// checks the whole requested range, with overflow-safe arithmetic.
import Glibc
import ScorpioSys
import SystemPackage

/// One mapped region, unmapped when the last memory table holding it goes away (tables built by
/// ADD_MEM_REG and REM_MEM_REG share the regions they keep).
final class GuestRegion: @unchecked Sendable {
    // @unchecked: both fields are immutable; the mapped bytes are shared with the guest by design
    // and only reached through bounds-checked translations.
    let description: MemoryRegionDescription
    let mapping: MemoryMapping
    /// Where guest physical address `description.guestPhysicalAddress` is in our address space.
    let hostBase: UnsafeMutableRawPointer

    private init(description: MemoryRegionDescription, mapping: MemoryMapping) {
        self.description = description
        self.mapping = mapping
        self.hostBase = mapping.base + Int(description.mmapOffset)
    }

    deinit { mapping.unmap() }

    /// Maps the region's file. The mapping covers offset 0 to mmap_offset + size, so the
    /// offset need not be page-aligned.
    static func map(_ description: MemoryRegionDescription, descriptor: FileDescriptor) throws(VhostUserError) -> GuestRegion {
        let (length, overflow) = description.mmapOffset.addingReportingOverflow(description.size)
        guard description.size > 0, !overflow, length <= UInt64(Int.max),
              !description.guestPhysicalAddress.addingReportingOverflow(description.size).overflow,
              !description.userAddress.addingReportingOverflow(description.size).overflow
        else { throw .invalid("memory region with invalid size or address") }
        do {
            return GuestRegion(description: description, mapping: try MemoryMapping.mapShared(descriptor, length: Int(length)))
        } catch {
            throw .invalid("cannot map guest memory region of \(length) bytes: \(error)")
        }
    }
}

/// An immutable memory table. Queue workers keep a reference for as long as they run, so a
/// table replaced by SET_MEM_TABLE is never unmapped under a running worker.
public final class GuestMemory: Sendable {
    let regions: [GuestRegion]

    init(regions: [GuestRegion]) {
        self.regions = regions
    }

    public static let empty = GuestMemory(regions: [])

    public var regionCount: Int { regions.count }

    /// The host address of `length` bytes at guest physical `address`, if they all lie in one
    /// region. Callers that accept buffers spanning regions use `contiguousPrefix`.
    public func translate(guest address: UInt64, length: Int) -> UnsafeMutableRawPointer? {
        guard let (pointer, available) = contiguousPrefix(guest: address), available >= length else { return nil }
        return pointer
    }

    /// The host address of guest physical `address` and how many bytes from it are mapped
    /// contiguously.
    public func contiguousPrefix(guest address: UInt64) -> (UnsafeMutableRawPointer, Int)? {
        for region in regions {
            let start = region.description.guestPhysicalAddress
            guard address >= start, address - start < region.description.size else { continue }
            let offset = address - start
            return (region.hostBase + Int(offset), Int(clamping: region.description.size - offset))
        }
        return nil
    }

    /// The host address of `length` bytes at frontend virtual `address` (SET_VRING_ADDR).
    public func translate(frontend address: UInt64, length: Int) -> UnsafeMutableRawPointer? {
        for region in regions {
            let start = region.description.userAddress
            guard address >= start, address - start < region.description.size else { continue }
            let offset = address - start
            guard UInt64(length) <= region.description.size - offset else { return nil }
            return region.hostBase + Int(offset)
        }
        return nil
    }

    /// SET_MEM_TABLE: a table of `descriptions`, one descriptor per region.
    static func mapping(_ descriptions: [MemoryRegionDescription], descriptors: [FileDescriptor]) throws(VhostUserError) -> GuestMemory {
        var regions: [GuestRegion] = []
        for (description, descriptor) in zip(descriptions, descriptors) {
            regions.append(try GuestRegion.map(description, descriptor: descriptor))  // mapped ones unmap on throw
        }
        return GuestMemory(regions: regions)
    }

    /// ADD_MEM_REG.
    func adding(_ region: GuestRegion) throws(VhostUserError) -> GuestMemory {
        guard regions.count < GuestMemory.maximumRegions else { throw .invalid("more than \(GuestMemory.maximumRegions) memory regions") }
        return GuestMemory(regions: regions + [region])
    }

    /// REM_MEM_REG: the table without the region at the same guest address and size.
    func removing(_ description: MemoryRegionDescription) throws(VhostUserError) -> GuestMemory {
        guard let index = regions.firstIndex(where: {
            $0.description.guestPhysicalAddress == description.guestPhysicalAddress && $0.description.size == description.size
        }) else { throw .invalid("REM_MEM_REG of a region that is not mapped") }
        var kept = regions
        kept.remove(at: index)
        return GuestMemory(regions: kept)
    }

    /// GET_MAX_MEM_SLOTS' answer (libvhost-user offers 32 as well).
    public static let maximumRegions = 32
}
