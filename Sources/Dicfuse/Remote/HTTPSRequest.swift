// One smart-HTTP request over TLS, through libcurl (the system's well-kept TLS client): server
// certificates are verified against the system trust store, or against the CA file named by
// SCORPIO_HTTP_CA_FILE or git's own GIT_SSL_CAINFO.
import CCurlShim
import Foundation

enum HTTPSRequest {
    static func perform(_ location: HTTPLocation, path: String, body: [UInt8]?, timeout: Double) throws(RemoteError) -> (Int, [UInt8]) {
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
                                     max(1, Int(timeout.rounded(.up))), caFile, &status, &responsePointer, &responseLength, &error)
            }
        }
        guard code == 0 else {
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .transport("\(location.host):\(location.port): \(message)")
        }
        defer { scorpio_http_free(responsePointer) }
        let payload = responsePointer.map { Array(UnsafeBufferPointer(start: $0, count: responseLength)) } ?? []
        return (status, payload)
    }

    /// Calls `body` with a C array of the strings (valid only during the call).
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let duplicates = strings.map { UnsafePointer(strdup($0)) }
        defer { for pointer in duplicates { free(UnsafeMutablePointer(mutating: pointer)) } }
        return duplicates.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
