// Pack parsing on hand-made packs: cases git never writes but a hostile or broken server could
// send (REF_DELTA cycles, forward references, thin packs, over-long delta chains, bad headers,
// bad entry types and offsets, implausible sizes), and the cases git writes rarely enough that a
// small repository would not exercise them.
import Testing
@testable import Dicfuse

@Suite struct HandMadePackTests: SampleBlobs {
    // MARK: Delta resolution

    @Test func refDeltaCycleIsRejected() {
        let pack = PackBuilder.pack([
            PackBuilder.refDeltaEntry(base: betaID, delta: PackBuilder.insertDelta(from: beta, to: alpha)),
            PackBuilder.refDeltaEntry(base: alphaID, delta: PackBuilder.insertDelta(from: alpha, to: beta)),
        ])
        let error = packError { try PackParser.parse(pack) }
        let rejected = error == PackError.deltaBaseMissing(min(alphaID, betaID)) || error == PackError.deltaChainTooDeep
        #expect(rejected, "got \(String(describing: error))")
    }

    @Test func cycleWithAnExternalBaseResolves() throws {
        let pack = PackBuilder.pack([
            PackBuilder.refDeltaEntry(base: betaID, delta: PackBuilder.insertDelta(from: beta, to: alpha)),
            PackBuilder.refDeltaEntry(base: alphaID, delta: PackBuilder.insertDelta(from: alpha, to: beta)),
        ])
        let alpha = self.alpha
        let objects = try PackParser.parse(pack, externalBase: { id in
            id == ObjectHasher.id(type: .blob, data: alpha) ? GitObject(type: .blob, data: alpha) : nil
        })
        #expect(objects.map(\.id) == [alphaID, betaID])
        #expect(objects.map(\.data) == [alpha, beta])
    }

    @Test func forwardRefDeltaAndOffsetDeltaOnTopOfIt() throws {
        let first = PackBuilder.refDeltaEntry(base: alphaID, delta: PackBuilder.insertDelta(from: alpha, to: beta))
        let second = PackBuilder.plainEntry(.blob, alpha)
        let third = PackBuilder.offsetDeltaEntry(
            distance: first.count + second.count, delta: PackBuilder.insertDelta(from: beta, to: gamma))
        let objects = try PackParser.parse(PackBuilder.pack([first, second, third]))
        #expect(objects.map(\.id) == [betaID, alphaID, gammaID])
        #expect(objects.map(\.data) == [beta, alpha, gamma])
        #expect(objects.allSatisfy { $0.type == .blob })
    }

    @Test func deltaTakesTheBaseType() throws {
        let tree = PackBuilder.plainEntry(.tree, [])
        let delta = PackBuilder.offsetDeltaEntry(distance: tree.count, delta: PackBuilder.insertDelta(from: [], to: beta))
        let objects = try PackParser.parse(PackBuilder.pack([tree, delta]))
        #expect(objects.map(\.type) == [ObjectType.tree, .tree])
        #expect(objects[1].id == ObjectHasher.id(type: .tree, data: beta))
    }

    @Test func thinPackUsesExternalBases() throws {
        let pack = PackBuilder.pack([
            PackBuilder.refDeltaEntry(base: alphaID, delta: PackBuilder.insertDelta(from: alpha, to: beta)),
        ])
        let alpha = self.alpha
        let gamma = self.gamma
        let alphaID = self.alphaID

        let objects = try PackParser.parse(pack, externalBase: { id in
            id == alphaID ? GitObject(type: .blob, data: alpha) : nil
        })
        #expect(objects.map(\.id) == [betaID])

        let missing = packError { try PackParser.parse(pack) }
        #expect(missing == PackError.deltaBaseMissing(alphaID))

        let wrong = packError { try PackParser.parse(pack, externalBase: { _ in GitObject(type: .blob, data: gamma) }) }
        #expect(wrong == PackError.objectIDMismatch(expected: alphaID, actual: gammaID))
    }

    /// A whole blob followed by `length` OFS_DELTA entries, each based on the one before.
    private func chain(_ length: Int) -> [UInt8] {
        let base = bytes("depth test\n")
        let delta = PackBuilder.deltaSize(base.count) + PackBuilder.deltaSize(base.count) + [0x90, UInt8(base.count)]
        var entries = [PackBuilder.plainEntry(.blob, base)]
        for _ in 0..<length {
            entries.append(PackBuilder.offsetDeltaEntry(distance: entries[entries.count - 1].count, delta: delta))
        }
        return PackBuilder.pack(entries)
    }

    @Test func deltaChainAtTheLimitResolves() throws {
        let objects = try PackParser.parse(chain(PackLimits.maxDeltaDepth))
        #expect(objects.count == PackLimits.maxDeltaDepth + 1)
        #expect(Set(objects.map(\.id)).count == 1)
    }

    @Test func deltaChainPastTheLimitIsRejected() {
        let error = packError { try PackParser.parse(chain(PackLimits.maxDeltaDepth + 1)) }
        #expect(error == PackError.deltaChainTooDeep)
    }

    @Test func invalidDeltaInsidePackIsRejected() {
        // The delta claims a base one byte longer than alpha.
        let delta = PackBuilder.insertDelta(from: alpha + [0], to: beta)
        let pack = PackBuilder.pack([
            PackBuilder.plainEntry(.blob, alpha),
            PackBuilder.refDeltaEntry(base: alphaID, delta: delta),
        ])
        let error = packError { try PackParser.parse(pack) }
        #expect(isCase(error, .badDelta), "got \(String(describing: error))")
    }

    // MARK: Header and entry framing

    @Test func emptyPackAndVersion3AreAccepted() throws {
        #expect(try PackParser.parse(PackBuilder.pack([])).isEmpty)
        let objects = try PackParser.parse(PackBuilder.pack([PackBuilder.plainEntry(.blob, alpha)], version: 3))
        #expect(objects.map(\.id) == [alphaID])
    }

    @Test func badSignatureAndVersion() {
        var pack = PackBuilder.pack([PackBuilder.plainEntry(.blob, alpha)])
        pack[3] = UInt8(ascii: "X")
        #expect(packError { try PackParser.parse(pack) } == PackError.badSignature)
        let version4 = PackBuilder.pack([PackBuilder.plainEntry(.blob, alpha)], version: 4)
        #expect(packError { try PackParser.parse(version4) } == PackError.unsupportedVersion(4))
    }

    @Test func objectCountMustMatch() {
        let entry = PackBuilder.plainEntry(.blob, alpha)
        let tooMany = packError { try PackParser.parse(PackBuilder.pack([entry], count: 2)) }
        #expect(isCase(tooMany, .truncated))
        let tooFew = packError { try PackParser.parse(PackBuilder.pack([entry, entry], count: 1)) }
        #expect(isCase(tooFew, .corruptObject))
    }

    @Test func invalidEntryTypesAreRejected() {
        for type: UInt8 in [0, 5] {
            let entry = PackBuilder.entryHeader(type: type, size: 1) + PackBuilder.zlibStored([0])
            let error = packError { try PackParser.parse(PackBuilder.pack([entry])) }
            #expect(isCase(error, .corruptObject), "type \(type)")
        }
    }

    @Test func offsetDeltaMustPointToAnEarlierEntryStart() {
        let base = PackBuilder.plainEntry(.blob, alpha)
        let delta = PackBuilder.insertDelta(from: alpha, to: beta)
        for distance in [0, 1, base.count - 1, base.count + 1, 1 << 20] {
            let pack = PackBuilder.pack([base, PackBuilder.offsetDeltaEntry(distance: distance, delta: delta)])
            let error = packError { try PackParser.parse(pack) }
            #expect(isCase(error, .corruptObject), "distance \(distance)")
        }
        // A large distance in the multi-byte encoding still lands on the first entry.
        let filler = PackBuilder.plainEntry(.blob, [UInt8](repeating: 7, count: 300))
        let far = PackBuilder.offsetDeltaEntry(
            distance: base.count + filler.count, delta: delta)
        #expect(PackBuilder.baseDistance(base.count + filler.count).count == 2)
        #expect(packError { try PackParser.parse(PackBuilder.pack([base, filler, far])) } == nil)
    }

    @Test func declaredSizeMustMatchTheStream() {
        for size in [alpha.count - 1, alpha.count + 1] {
            let entry = PackBuilder.entryHeader(type: 3, size: size) + PackBuilder.zlibStored(alpha)
            let error = packError { try PackParser.parse(PackBuilder.pack([entry])) }
            #expect(isCase(error, .corruptObject), "size \(size)")
        }
    }

    @Test func implausibleSizesAreRejectedBeforeInflating() {
        for size in [1 << 33, 10_000_000] {
            let entry = PackBuilder.entryHeader(type: 3, size: size) + PackBuilder.zlibStored(alpha)
            let error = packError { try PackParser.parse(PackBuilder.pack([entry])) }
            #expect(isCase(error, .corruptObject), "size \(size)")
        }
    }
}

/// The cases of PackError without their payloads, for matching.
enum PackErrorCase {
    case truncated, corruptObject, badDelta
}

func isCase(_ error: PackError?, _ expected: PackErrorCase) -> Bool {
    switch (error, expected) {
    case (.truncated?, .truncated), (.corruptObject?, .corruptObject), (.badDelta?, .badDelta): true
    default: false
    }
}
