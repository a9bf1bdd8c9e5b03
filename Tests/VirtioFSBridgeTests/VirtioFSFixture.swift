// An overlay over temporary directories, served through a TestFrontend.
import Foundation
import Overlay
import ScorpioSys

@testable import VirtioFSBridge

struct VirtioFSFixture {
    let base: String
    let upper: String
    let lower: String
    let overlay: OverlayFileSystem
    let frontend: TestFrontend

    init(queueCount: Int = 2, lowerFiles: [String: String] = ["hello.txt": "hello world"]) throws {
        base = NSTemporaryDirectory() + "scorpio-virtiofs-\(UUID().uuidString)"
        upper = base + "/upper"
        lower = base + "/lower"
        try FileManager.default.createDirectory(atPath: upper, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: lower, withIntermediateDirectories: true)
        for (name, contents) in lowerFiles {
            try contents.write(toFile: lower + "/" + name, atomically: false, encoding: .utf8)
        }
        overlay = try OverlayFileSystem(upper: try HostDirectoryLayer(path: upper, name: "upper"),
                                        lowers: [try HostDirectoryLayer(path: lower, name: "lower")],
                                        options: OverlayOptions(), logger: testLogger)
        frontend = try TestFrontend(queueCount: queueCount, fileSystem: overlay)
    }

    /// Negotiates like QEMU and answers the guest's FUSE_INIT.
    func start(eventIndex: Bool = false) throws {
        try frontend.negotiate(eventIndex: eventIndex)
        let reply = FUSEReply(bytes: try frontend.fuse(FUSEMessage.initialize(unique: frontend.nextUnique())))
        guard reply.error == 0 else { throw FrontendFailure(description: "INIT failed with \(reply.error)") }
    }

    func lookup(_ name: String) throws -> FUSEReply {
        FUSEReply(bytes: try frontend.fuse(FUSEMessage.lookup(name, unique: frontend.nextUnique())))
    }

    func remove() {
        frontend.close()
        overlay.destroy()
        try? FileManager.default.removeItem(atPath: base)
    }
}
