// The one place that turns a C return value into a Swift error. Every raw call in the package
// goes through `retrying` so that EINTR is retried in exactly one spot and callers see
// `throws(Errno)` (the swift-system / NIO `syscall(blocking:)` pattern).
import Glibc
import SystemPackage

/// Runs `body` until it returns something other than -1 with errno EINTR.
/// Returns the result, or throws the errno of the failure.
@inline(__always)
public func retrying<T: FixedWidthInteger>(_ body: () -> T) throws(Errno) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno(rawValue: Glibc.errno)
        if error != .interrupted { throw error }
    }
}

/// Like `retrying`, for calls that return 0 on success and whose result carries no value.
@inline(__always)
public func retryingVoid(_ body: () -> Int32) throws(Errno) {
    _ = try retrying(body)
}

/// Calls `body` with a NUL-terminated copy of `path` (a byte path: names need not be UTF-8).
@inline(__always)
public func withCPath<R>(_ path: [UInt8], _ body: (UnsafePointer<CChar>) throws(Errno) -> R) throws(Errno) -> R {
    // SAFETY: the closure gets a pointer valid only for the duration of the call.
    var terminated = path
    terminated.append(0)
    let result: Result<R, Errno> = terminated.withUnsafeBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { pointer in
            do throws(Errno) { return .success(try body(pointer)) } catch { return .failure(error) }
        }
    }
    return try result.get()
}

/// Restores the typed error of a closure passed through a rethrowing standard-library call
/// (`withUnsafeMutableBytes` and friends only rethrow `any Error`).
@inline(__always)
public func typedErrno<R>(_ body: () throws -> R) throws(Errno) -> R {
    do { return try body() } catch let error as Errno { throw error } catch { throw .ioError }
}

/// AT_EMPTY_PATH (glibc declares it only with _GNU_SOURCE).
let atEmptyPath: Int32 = 0x1000
