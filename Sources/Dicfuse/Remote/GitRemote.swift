// A git protocol v2 client (gitprotocol-v2): capability advertisement, ls-refs, fetch with
// `filter blob:none` for a commit's trees, fetch of blobs by object id, and object-info for
// blob sizes. A server lacking something we need is named in a one-line error instead of
// falling back to a full download.
import Logging
import Synchronization

/// A ref as ls-refs reports it.
public struct RemoteRef: Sendable, Equatable {
    public var name: String
    public var id: ObjectID
    public var symrefTarget: String?
    public var peeled: ObjectID?
}

/// Counters of what was fetched, for tests, benchmarks and progress lines.
public struct FetchCounters: Sendable, Equatable {
    public var blobs = 0
    public var trees = 0
    public var bytes = 0
}

/// One git server, spoken to with protocol v2.
public final class GitRemote: Sendable {
    public let url: RemoteURL
    let timeout: Double
    let logger: Logger
    private let counterState = Mutex(FetchCounters())
    private let advertisedState = Mutex<[String]?>(nil)
    /// A smart-HTTP remote's location and credentials, worked out once (the credentials file is
    /// read and parsed then, not for every request).
    private let httpLocation = Mutex<HTTPLocation?>(nil)

    private func location(_ address: String) throws(RemoteError) -> HTTPLocation {
        if let known = httpLocation.withLock({ $0 }) { return known }
        let made = try HTTPLocation(address)
        httpLocation.withLock { $0 = made }
        return made
    }

    public init(url: RemoteURL, timeout: Double, logger: Logger) {
        self.url = url
        self.timeout = timeout
        self.logger = logger
    }

    /// What has been fetched so far.
    public var counters: FetchCounters { counterState.withLock { $0 } }

    /// Idle stream connections with their advertisement already read, ready for a command:
    /// spawning upload-pack costs 10-20 ms and an ssh login far more, per command otherwise.
    private let pool = Mutex<[(GitConnection, generation: Int)]>([])
    static let pooledConnections = 4
    /// Counts closeIdleConnections calls: a connection from before the last one, busy when it
    /// ran, is closed instead of pooled when its command ends.
    private let generation = Atomic<Int>(0)

    /// Closes the idle connections (ends their upload-pack or ssh processes). The daemon does
    /// it when it detaches: those processes were started with the user's stderr, and holding
    /// it would keep `scorpio-provider ... 2>&1 | tee log` waiting for an end of file.
    public func closeIdleConnections() {
        generation.add(1, ordering: .relaxed)
        let idle = pool.withLock { connections -> [(GitConnection, generation: Int)] in
            defer { connections = [] }
            return connections
        }
        for (connection, _) in idle { connection.close() }
    }

    /// Sends one command and hands its response to `parse`. Stream transports reuse an idle
    /// connection when there is one (a stale one, closed by the server meanwhile, is replaced
    /// by a fresh connection once); smart HTTP posts the command and parses the body.
    func perform<T>(command: String, arguments: [String],
                    _ parse: (inout PacketReader) throws(RemoteError) -> T) throws(RemoteError) -> T {
        if case .http(let address) = url {
            let advertised = try capabilities()
            try checkAdvertisement(advertised, offers: command)
            let location = try location(address)
            let requestBody = request(command, arguments, advertised)
            guard command == "fetch" else {
                let body = try SmartHTTP.command(location, body: requestBody, timeout: timeout)
                var reader = PacketReader(connection: MemorySource(body))
                return try parse(&reader)
            }
            // A pack is parsed while it arrives.
            let response = try SmartHTTP.commandStream(location, body: requestBody, timeout: timeout)
            var reader = PacketReader(connection: response)
            let result: T
            do {
                result = try parse(&reader)
            } catch {
                throw response.finish(complete: false) ?? error
            }
            if let failure = response.finish(complete: true) { throw failure }
            return result
        }
        if let (reused, started) = pool.withLock({ $0.popLast() }) {
            do {
                return try run(command, arguments, on: reused, generation: started, parse)
            } catch .transport(let why) {
                logger.debug("an idle git connection was gone; opening a new one: \(why)")
            }
        }
        let started = generation.load(ordering: .relaxed)
        let connection = try url.connect(timeout: timeout)
        var reader = PacketReader(connection: connection)
        let advertised: [String]
        do {
            advertised = try reader.lines()
        } catch {
            connection.close()
            throw error
        }
        advertisedState.withLock { $0 = advertised }
        do {
            try checkAdvertisement(advertised, offers: command)
        } catch {
            connection.close()
            throw error
        }
        return try run(command, arguments, on: connection, generation: started, parse)
    }

    /// One command on a stream connection; the connection goes back to the pool only when the
    /// response was read to its exact end.
    private func run<T>(_ command: String, _ arguments: [String], on connection: GitConnection, generation started: Int,
                        _ parse: (inout PacketReader) throws(RemoteError) -> T) throws(RemoteError) -> T {
        connection.startCommand()
        do {
            try connection.write(request(command, arguments, advertisedState.withLock { $0 } ?? []))
            var reader = PacketReader(connection: connection)
            let result = try parse(&reader)
            let keep = connection.atMessageBoundary && started == generation.load(ordering: .relaxed) && pool.withLock { idle in
                guard idle.count < Self.pooledConnections else { return false }
                idle.append((connection, started))
                return true
            }
            if !keep { connection.close() }
            return result
        } catch {
            connection.close()
            throw error
        }
    }

    /// A command request in pkt-lines.
    private func request(_ command: String, _ arguments: [String], _ advertised: [String]) -> [UInt8] {
        var request = PktLine.line("command=\(command)") + PktLine.line("agent=scorpio-provider/1")
        if advertised.contains(where: { $0.hasPrefix("object-format") }) { request += PktLine.line("object-format=sha1") }
        request += PktLine.delimiter
        for argument in arguments { request += PktLine.line(argument) }
        request += PktLine.flush
        return request
    }

    deinit {
        for (connection, _) in pool.withLock({ $0 }) { connection.close() }
    }

    /// Refuses servers without protocol v2 or without the command.
    private func checkAdvertisement(_ capabilities: [String], offers command: String) throws(RemoteError) {
        guard capabilities.first == "version 2" else {
            // A v0/v1 server starts with "<object id> <ref>\0<capabilities>".
            let first = capabilities.first ?? ""
            let answer = first.count > 41 && first.prefix(40).allSatisfy(\.isHexDigit) ? "a protocol v0 reference list" : (first.isEmpty ? "nothing" : String(first.prefix(60)).debugDescription)
            throw .unsupported("the server does not speak git protocol v2 (it answered with \(answer)); git 2.18+ with protocol v2 is needed")
        }
        guard capabilities.contains(where: { $0 == command || $0.hasPrefix(command + "=") }) else {
            throw .unsupported("the server does not offer the \(command) command")
        }
    }

    /// The capability lines of the last advertisement (fetched if none yet).
    public func capabilities() throws(RemoteError) -> [String] {
        if let known = advertisedState.withLock({ $0 }) { return known }
        let lines: [String]
        if case .http(let address) = url {
            lines = try SmartHTTP.advertisement(location(address), timeout: timeout)
        } else {
            let connection = try url.connect(timeout: timeout)
            defer { connection.close() }
            var reader = PacketReader(connection: connection)
            lines = try reader.lines()
        }
        advertisedState.withLock { $0 = lines }
        return lines
    }

    /// `fetch` capability features ("shallow", "filter", ...).
    private func fetchFeatures() throws(RemoteError) -> [String] {
        guard let line = try capabilities().first(where: { $0.hasPrefix("fetch") }) else { return [] }
        return line.split(separator: "=", maxSplits: 1).dropFirst().first.map { $0.split(separator: " ").map(String.init) } ?? []
    }

    /// ls-refs with symrefs and peeled tags.
    public func listRefs() throws(RemoteError) -> [RemoteRef] {
        let lines = try perform(command: "ls-refs", arguments: ["symrefs", "peel", "ref-prefix HEAD", "ref-prefix refs/heads/", "ref-prefix refs/tags/"]) {
            (reader) throws(RemoteError) in try reader.lines()
        }
        var refs: [RemoteRef] = []
        for line in lines {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let id = ObjectID(hex: parts[0]) else {
                if line.hasPrefix("unborn") { continue }
                throw .protocolViolation("bad ls-refs line \(line.debugDescription)")
            }
            var ref = RemoteRef(name: String(parts[1]), id: id)
            for attribute in parts.dropFirst(2) {
                if attribute.hasPrefix("symref-target:") { ref.symrefTarget = String(attribute.dropFirst("symref-target:".count)) }
                if attribute.hasPrefix("peeled:") { ref.peeled = ObjectID(hex: attribute.dropFirst("peeled:".count)) }
            }
            refs.append(ref)
        }
        return refs
    }

    /// The commit a --ref names: a full object id, a branch, a tag, or (nil) the remote's HEAD.
    public func resolve(ref: String?) throws(RemoteError) -> (commit: ObjectID, name: String) {
        if let ref, let id = ObjectID(hex: ref) { return (id, ref) }
        let refs = try listRefs()
        let wanted = ref ?? "HEAD"
        let candidates = [wanted, "refs/heads/\(wanted)", "refs/tags/\(wanted)"]
        for name in candidates {
            if let found = refs.first(where: { $0.name == name }) { return (found.peeled ?? found.id, name) }
        }
        if let ref, let commit = try expandAbbreviation(ref, tips: refs) { return (commit, ref) }
        let known = refs.map { $0.name.replacingOccurrences(of: "refs/heads/", with: "").replacingOccurrences(of: "refs/tags/", with: "") }
        let shown = known.prefix(8).joined(separator: ", ") + (known.count > 8 ? " and \(known.count - 8) more" : "")
        throw .unsupported("no branch, tag or ref named \(wanted) on \(url) (it has \(known.isEmpty ? "no refs" : shown))")
    }

    /// The commit an abbreviated id (4 to 39 hex digits) names: in a repository on this host,
    /// what `git rev-parse` makes of it; on a server, the one branch or tag tip it starts. A server
    /// cannot expand abbreviations (protocol v2 fetches by full id), so an abbreviation of
    /// an older commit on a remote is an error that asks for the full id. nil: not hex.
    private func expandAbbreviation(_ ref: String, tips: [RemoteRef]) throws(RemoteError) -> ObjectID? {
        let prefix = ref.lowercased()
        guard (4...39).contains(prefix.count), prefix.allSatisfy(\.isHexDigit) else { return nil }
        if case .local(let path) = url {
            // git knows every commit there, and refuses an ambiguous abbreviation.
            if let full = LocalRevParse.commit(prefix, in: path) { return full }
            throw .unsupported("no commit \(ref) in \(url) (or more than one starts with it)")
        }
        let matches = Set(tips.map { $0.peeled ?? $0.id }.filter { $0.hex.hasPrefix(prefix) })
        if matches.count > 1 { throw .unsupported("abbreviated id \(ref) is ambiguous on \(url): give more digits") }
        if let tip = matches.first { return tip }
        throw .unsupported("abbreviated id \(ref) is not a branch or tag tip on \(url), and a git server cannot expand it: give the full 40-digit id")
    }

    /// How much of a tree fetch's trees to keep as delta bases; older ones are read back.
    public static let treeBaseCacheBytes = 16 << 20

    /// The commit and every tree reachable from it, without blobs (filter blob:none, depth 1),
    /// handed to `deliver` one at a time while the pack arrives. Memory holds the part of the
    /// pack not parsed yet and 16 MiB of trees as delta bases, not a large repository's whole
    /// tree set; `loadBase` reads back a tree already delivered (its id is checked). Objects
    /// delivered before a failure are verified but not all of them: the caller counts the trees
    /// complete only when this returns. A request sent again over another connection delivers
    /// its objects again.
    public func fetchTrees(of commit: ObjectID, baseCacheBytes: Int = treeBaseCacheBytes,
                           loadBase: @escaping (ObjectID) -> GitObject?,
                           deliver: (GitObject) throws(RemoteError) -> Void) throws(RemoteError) {
        try streamObjects(arguments: try commitArguments(commit, filter: "blob:none"), wanted: [commit],
                          progress: FetchProgress(label: "fetching trees"),
                          bases: (baseCacheBytes, .tree, loadBase), restart: {}, deliver: deliver)
    }

    /// The commit and its root tree only (`--trees lazy`): filter tree:1 stops below the root.
    public func fetchCommitAndRootTree(_ commit: ObjectID) throws(RemoteError) -> [GitObject] {
        try fetchPack(arguments: try commitArguments(commit, filter: "tree:1"), wanted: [commit])
    }

    /// A depth-1 fetch of one commit with a filter; refuses servers that cannot filter.
    private func commitArguments(_ commit: ObjectID, filter: String) throws(RemoteError) -> [String] {
        let features = try fetchFeatures()
        guard features.contains("filter") else {
            throw .unsupported("the server lacks the fetch filter capability (set uploadpack.allowFilter=true); refusing a full download")
        }
        var arguments = ["ofs-delta", "no-progress", "filter \(filter)"]
        if features.contains("shallow") { arguments.append("deepen 1") }
        return arguments + ["want \(commit.hex)", "done"]
    }

    /// Trees by id, without their subtrees or blobs (filter tree:0 keeps only what is
    /// wanted), in one request, each handed to `deliver` as the pack yields it. Delta bases
    /// as in fetchTrees(of:): 16 MiB kept, older ones read back through `loadBase`.
    public func fetchTrees(_ ids: [ObjectID], loadBase: @escaping (ObjectID) -> GitObject?,
                           deliver: (GitObject) throws(RemoteError) -> Void) throws(RemoteError) {
        let arguments = ["ofs-delta", "no-progress", "filter tree:0"] + ids.map { "want \($0.hex)" } + ["done"]
        let trees = try streamObjects(arguments: arguments, wanted: ids, progress: nil,
                                      bases: (Self.treeBaseCacheBytes, .tree, loadBase), restart: {}) { (object) throws(RemoteError) in
            guard object.type == .tree else { throw .pack("\(object.id.hex) is a \(object.type.name), not a tree") }
            try deliver(object)
        }
        logger.info("fetched trees", metadata: ["count": "\(trees)", "first": "\(ids.first?.hex ?? "")"])
    }

    /// Blobs by object id, in one request. The pack goes to `consume` as it arrives, its
    /// trailer not yet checked: the caller parses it (PackStream) and checks that every blob
    /// asked for came, and reports what it got with noteBlobsReceived. `restart` is called
    /// before the pack starts, and again when the request is sent over another connection.
    public func fetchBlobs(_ ids: [ObjectID], restart: () -> Void,
                           consume: (ArraySlice<UInt8>) throws(RemoteError) -> Void) throws(RemoteError) {
        let arguments = ["ofs-delta", "no-progress"] + ids.map { "want \($0.hex)" } + ["done"]
        do {
            try streamPack(arguments: arguments, restart: restart, consume: consume)
        } catch .server(let message) where message.contains("not our ref") || message.contains("not our") {
            // git's upload-pack says this for an object it does not have; over protocol v2 it
            // serves any object it has, wherever allowAnySHA1InWant is off (git 2.39).
            throw .unsupported("the server has no such object, or does not let objects be fetched by id (git servers: uploadpack.allowAnySHA1InWant=true): \(message)")
        }
    }

    /// Counts and logs the blobs of a pack from fetchBlobs, once they are parsed and stored.
    public func noteBlobsReceived(count: Int, bytes: Int, first: ObjectID?) {
        counterState.withLock { $0.blobs += count }
        logger.info("fetched blobs", metadata: ["count": "\(count)", "bytes": "\(bytes)", "first": "\(first?.hex ?? "")"])
    }

    /// Whether the server advertised object-info; nil before its capabilities were read.
    public var offersObjectInfo: Bool? {
        advertisedState.withLock { $0 }.map { Self.advertisesObjectInfo($0) }
    }

    private static func advertisesObjectInfo(_ capabilities: [String]) -> Bool {
        capabilities.contains { $0 == "object-info" || $0.hasPrefix("object-info=") }
    }

    /// Blob sizes without content, when the server advertises object-info; nil otherwise.
    public func objectSizes(_ ids: [ObjectID]) throws(RemoteError) -> [ObjectID: UInt64]? {
        guard Self.advertisesObjectInfo(try capabilities()) else { return nil }
        let lines = try perform(command: "object-info", arguments: ["size"] + ids.map { "oid \($0.hex)" }) {
            (reader) throws(RemoteError) in try reader.lines()
        }
        var sizes: [ObjectID: UInt64] = [:]
        for line in lines where line != "size" {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let id = ObjectID(hex: parts[0]), let size = UInt64(parts[1]) else { continue }
            sizes[id] = size
        }
        logger.info("learned blob sizes", metadata: ["count": "\(ids.count)", "first": "\(ids.first?.hex ?? "")"])
        return sizes
    }

    /// Sends a fetch of a small pack and returns its verified objects (none on any failure).
    private func fetchPack(arguments: [String], wanted: [ObjectID]) throws(RemoteError) -> [GitObject] {
        var objects: [GitObject] = []
        // Everything stays in memory anyway, so no base is ever dropped or read back.
        try streamObjects(arguments: arguments, wanted: wanted, progress: nil, bases: (Int.max, .tree, { _ in nil }),
                          restart: { objects.removeAll() }) { (object) throws(RemoteError) in objects.append(object) }
        return objects
    }

    /// Sends a fetch and parses its pack while it arrives (PackStream), handing each object to
    /// `deliver` once its id is verified; then checks the pack to its end (trailer) and that
    /// every object in `wanted` came. `bases` bounds the delta bases kept in memory: how many
    /// bytes, of which type, and how to read a dropped one back. `restart` is called when the
    /// request is sent again over another connection (its objects are delivered again).
    /// Counts the pack's trees in `counters` and returns how many there were.
    @discardableResult
    private func streamObjects(arguments: [String], wanted: [ObjectID], progress: FetchProgress?,
                               bases: (bytes: Int, type: ObjectType, load: (ObjectID) -> GitObject?),
                               restart: () -> Void, deliver: (GitObject) throws(RemoteError) -> Void) throws(RemoteError) -> Int {
        func newStream() -> PackStream { PackStream(baseCacheBytes: bases.bytes, droppable: bases.type, loadBase: bases.load) }
        var stream = newStream()
        var missing = Set(wanted)
        var objects = 0, trees = 0, bytes = 0
        func take(_ object: GitObject) throws(RemoteError) {
            missing.remove(object.id)
            objects += 1
            try deliver(object)
            if object.type == .tree { trees += 1 }
        }
        try streamPack(arguments: arguments, restart: {
            stream = newStream()
            missing = Set(wanted)
            objects = 0
            trees = 0
            bytes = 0
            restart()
        }) { (chunk) throws(RemoteError) in
            bytes += chunk.count
            try Self.unpacking { () throws in try stream.append(chunk) { object throws in try take(object) } }
            progress?.update(bytes: bytes, objects: objects, of: stream.declaredCount)
        }
        try Self.unpacking { () throws in try stream.finish { object throws in try take(object) } }
        progress?.finish(bytes: bytes, objects: objects)
        if let absent = wanted.first(where: { missing.contains($0) }) {
            throw .pack("the server did not send \(absent.hex)")
        }
        counterState.withLock { $0.trees += trees }
        return trees
    }

    /// Runs a step of a pack stream: a rejected pack becomes `.pack`, what `deliver` threw stays.
    private static func unpacking(_ body: () throws -> Void) throws(RemoteError) {
        do {
            try body()
        } catch let error as RemoteError {
            throw error
        } catch {
            throw .pack("\(error)")
        }
    }

    /// Sends a fetch and hands its pack to `consume` as it arrives (sideband 1), after
    /// `restart` (called again when the request is sent over another connection).
    private func streamPack(arguments: [String], restart: () -> Void,
                            consume: (ArraySlice<UInt8>) throws(RemoteError) -> Void) throws(RemoteError) {
        let received = try perform(command: "fetch", arguments: arguments) { (r) throws(RemoteError) -> Int? in
            restart()
            var received = 0
            var inPackfile = false
            loop: while true {
                switch try r.next() {
                case .flush, .responseEnd:
                    break loop
                case .delimiter:
                    continue
                case .data(let payload):
                    if !inPackfile {
                        if payload == Array("packfile\n".utf8) || payload == Array("packfile".utf8) { inPackfile = true }
                        continue
                    }
                    guard let band = payload.first else { continue }
                    switch band {
                    case 1:
                        received += payload.count - 1
                        try consume(payload.dropFirst())
                    case 2: logger.debug("remote: \(String(decoding: payload.dropFirst(), as: UTF8.self).trimmingNewline)")
                    case 3: throw .server(String(decoding: payload.dropFirst(), as: UTF8.self).trimmingNewline)
                    default: throw .protocolViolation("unknown sideband \(band)")
                    }
                }
            }
            return inPackfile ? received : nil
        }
        guard let received else { throw .protocolViolation("the fetch response has no packfile section") }
        counterState.withLock { $0.bytes += received }
    }
}
