// Expanding an abbreviated commit id in a repository on this host with `git rev-parse`, which
// knows every object there; a server (any transport) only fetches by full id.
import Glibc
import ScorpioSys
import SystemPackage

enum LocalRevParse {
    /// The commit `abbreviation` names in the repository at `path`, or nil when git knows none
    /// (or several: rev-parse refuses an ambiguous one) or cannot run.
    static func commit(_ abbreviation: String, in path: String) -> ObjectID? {
        guard let (output, input) = try? makePipe() else { return nil }
        let arguments = ["git", "-C", path, "rev-parse", "--verify", "--quiet", "--end-of-options", abbreviation + "^{commit}"]
        // Variables that point git at another repository than `path` (set in a hook, say).
        let elsewhere = ["GIT_DIR=", "GIT_WORK_TREE=", "GIT_COMMON_DIR=", "GIT_OBJECT_DIRECTORY=",
                         "GIT_ALTERNATE_OBJECT_DIRECTORIES=", "GIT_INDEX_FILE=", "GIT_NAMESPACE="]
        let environment = currentEnvironment().filter { entry in !elsewhere.contains { entry.hasPrefix($0) } }
        let child = try? ChildProcess.spawn(arguments, environment: environment, descriptors: [(input, 1)])
        input.closeQuietly()
        defer { output.closeQuietly() }
        guard let child else { return nil }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 128)
        while bytes.count < 256 {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(output.rawValue, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[..<count]
        }
        guard (try? child.wait()) == 0 else { return nil }
        return String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace).first.flatMap { ObjectID(hex: $0) }
    }
}
