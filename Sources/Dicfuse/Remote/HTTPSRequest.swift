// One smart-HTTP request over TLS, through libcurl (the system's well-kept TLS client): server
// certificates are verified against the system trust store, or against the CA file named by
// SCORPIO_HTTP_CA_FILE or git's own GIT_SSL_CAINFO. A request's body comes back whole
// (`perform`, for the small answers), or is read while it arrives (`stream`, for packs): libcurl
// then runs on a thread of its own and sends the body through a socket pair.
import CCurlShim
import Foundation
import ScorpioSys
import Synchronization
import SystemPackage

enum HTTPSRequest {
    /// What libcurl ended with: its code (0 for success), the HTTP status once the headers had
    /// come, and its message.
    struct Outcome: Sendable {
        var code: Int32
        var status: Int
        var message: String

        /// libcurl's failure as a RemoteError: a timeout is final (it waited --fetch-timeout
        /// already); a certificate that cannot be trusted or a URL libcurl cannot use is final
        /// too, since the next try would fail the same way; anything else (a refused, reset or
        /// broken connection, a failed handshake, a proxy) is retried (RemoteRetry).
        func error(_ location: HTTPLocation) -> RemoteError {
            let text = "\(location.host):\(location.port): \(message)"
            switch code {
            case 28: return .timedOut(text)  // CURLE_OPERATION_TIMEDOUT
            // UNSUPPORTED_PROTOCOL, URL_MALFORMAT, PEER_FAILED_VERIFICATION, SSL_CERTPROBLEM,
            // SSL_CACERT_BADFILE, SSL_CRL_BADFILE, SSL_ISSUER_ERROR, SSL_PINNEDPUBKEYNOTMATCH,
            // SSL_INVALIDCERTSTATUS, SSL_CLIENTCERT
            case 1, 3, 60, 58, 77, 82, 83, 90, 91, 98: return .configuration(text)
            default: return .transport(text)
            }
        }
    }

    /// A streamed transfer's outcome, set by its thread when it ends.
    final class OutcomeSlot: Sendable {
        let value = Mutex<Outcome?>(nil)
    }

    static func perform(_ location: HTTPLocation, path: String, body: [UInt8]?, timeout: Double) throws(RemoteError) -> (Int, [UInt8]) {
        var payload: [UInt8] = []
        let outcome = run(location, path: path, body: body, timeout: timeout, bodySocket: -1) { pointer, length in
            payload = pointer.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
        }
        guard outcome.code == 0 else { throw outcome.error(location) }
        return (outcome.status, payload)
    }

    /// Starts a request whose body is read as it arrives.
    static func stream(_ location: HTTPLocation, path: String, body: [UInt8]?, timeout: Double) throws(RemoteError) -> HTTPSBodyStream {
        let (ours, theirs): (FileDescriptor, FileDescriptor)
        do {
            (ours, theirs) = try UnixSocket.pair()
        } catch {
            throw .transport("cannot make a socket pair: \(error)")
        }
        let result = OutcomeSlot()
        let thread: KernelThread
        do {
            thread = try KernelThread.start {
                let outcome = run(location, path: path, body: body, timeout: timeout, bodySocket: theirs.rawValue) { _, _ in }
                result.value.withLock { $0 = outcome }  // before the reader can see the end
                theirs.closeQuietly()  // the reader sees the end of the body
            }
        } catch {
            ours.closeQuietly()
            theirs.closeQuietly()
            throw .transport("cannot start the HTTPS transfer: \(error)")
        }
        return HTTPSBodyStream(socket: ours, thread: thread, outcome: result, location: location, timeout: timeout)
    }

    /// One libcurl request; `received` sees the collected body (nil when streamed or failed).
    private static func run(_ location: HTTPLocation, path: String, body: [UInt8]?, timeout: Double, bodySocket: Int32,
                            received: (UnsafeMutablePointer<UInt8>?, Int) -> Void) -> Outcome {
        let url = "https://\(location.host):\(location.port)\(location.path)\(path)"
        var headers = ["User-Agent: git/2.39 scorpio-provider/1", "Git-Protocol: version=2"]
        if let authorization = location.authorization { headers.append("Authorization: \(authorization)") }
        if body != nil {
            headers.append("Content-Type: application/x-git-upload-pack-request")
            headers.append("Accept: application/x-git-upload-pack-result")
        }
        let environment = ProcessInfo.processInfo.environment
        let caFile = environment["SCORPIO_HTTP_CA_FILE"] ?? environment["GIT_SSL_CAINFO"]
        var status = 0
        var responsePointer: UnsafeMutablePointer<UInt8>? = nil
        var responseLength = 0
        var error = [CChar](repeating: 0, count: Int(SCORPIO_HTTP_ERROR_SIZE))
        let code = withCStrings(headers) { headerPointers in
            (body ?? []).withUnsafeBytes { bodyBytes in
                scorpio_http_request(url, headerPointers, Int32(headers.count),
                                     body == nil ? nil : (bodyBytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)), body?.count ?? 0,
                                     max(1, Int(timeout.rounded(.up))), caFile, bodySocket, &status, &responsePointer,
                                     &responseLength, &error)
            }
        }
        defer { scorpio_http_free(responsePointer) }
        if code == 0 { received(responsePointer, responseLength) }
        let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Outcome(code: code, status: status, message: message)
    }

    /// Calls `body` with a C array of the strings (valid only during the call).
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let duplicates = strings.map { UnsafePointer(strdup($0)) }
        defer { for pointer in duplicates { free(UnsafeMutablePointer(mutating: pointer)) } }
        return duplicates.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// The body of an HTTPS response, read while libcurl receives it. When reading fails or ends
/// early, `finish` tells why: libcurl's error, or an HTTP status other than 200.
final class HTTPSBodyStream: ResponseBody {
    private let connection: GitConnection
    private let thread: KernelThread
    private let outcome: HTTPSRequest.OutcomeSlot
    private let location: HTTPLocation
    private var joined = false

    init(socket: FileDescriptor, thread: KernelThread, outcome: HTTPSRequest.OutcomeSlot, location: HTTPLocation, timeout: Double) {
        // The fetch timeout counts silence here too (libcurl has its own low-speed limit).
        connection = GitConnection(input: socket, output: socket, child: nil, timeout: timeout)
        self.thread = thread
        self.outcome = outcome
        self.location = location
    }

    deinit { close() }

    func readExactly(_ count: Int) throws(RemoteError) -> [UInt8] {
        do {
            return try connection.readExactly(count)
        } catch {
            throw finish(complete: false) ?? error  // the transfer's own failure says more than a closed socket
        }
    }

    /// Waits for the transfer to end and returns why the response is not a good one: a status
    /// other than 200, or libcurl's error when the transfer ended by itself; nil for a good
    /// answer, and for a transfer that we stopped (the caller's own error says why). After a
    /// complete read the rest of the body is drained first, so the transfer ends by itself.
    func finish(complete: Bool) -> RemoteError? {
        if complete, !joined { _ = try? connection.readToEnd() }
        let endedByItself = outcome.value.withLock { $0 != nil }
        close()
        guard let outcome = outcome.value.withLock({ $0 }) else { return .transport("the HTTPS transfer ended without an outcome") }
        if outcome.status != 200, outcome.status != 0 {
            do {
                try SmartHTTP.requireSuccess(status: outcome.status, location: location, method: "POST", path: "/git-upload-pack")
            } catch {
                return error
            }
        }
        if outcome.code != 0, endedByItself || complete { return outcome.error(location) }
        return nil
    }

    func close() {
        connection.close()  // a transfer still sending gets an error and stops
        if !joined {
            joined = true
            thread.join()
        }
    }
}
