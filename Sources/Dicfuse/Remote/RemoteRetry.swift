// Retries of transient failures, for every request to the git server: a refused or reset
// connection, or an HTTP answer that says "later" (429, 502, 503, 504), is tried twice more,
// after 0.2 s and 1 s. A timeout already waited --fetch-timeout and is final, so an
// unreachable server fails a read once, after that timeout; so are server answers (ERR,
// missing capabilities, bad packs) and a full disk.
import Glibc
import Logging

enum RemoteRetry {
    static let attempts = 3

    static func run<T>(logger: Logger, attempts: Int = attempts, _ body: () throws(RemoteError) -> T) throws(RemoteError) -> T {
        var delay: UInt32 = 200_000
        var attempt = 0
        while true {
            do {
                return try body()
            } catch {
                attempt += 1
                guard case .transport = error, attempt < attempts else { throw error }
                logger.warning("git server unavailable, retrying: \(error)", metadata: ["attempt": "\(attempt + 1) of \(attempts)"])
                usleep(delay)
                delay *= 5
            }
        }
    }
}
