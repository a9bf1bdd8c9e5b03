// A per-thread hint that the current request is about to wait for something slow (the network,
// another thread's fetch, a large copy). Transports that process requests inline on the thread
// that reads them use it to hand reading over to another thread first, so one slow request
// does not hold up the others. Layers call `BlockingHint.willBlock()` without knowing which
// transport, if any, runs them; on threads without a handler it does nothing.
import Glibc

/// Receives `willBlock()` calls made on the thread it was installed on.
public protocol BlockingHandler: AnyObject {
    func willBlock()
}

public enum BlockingHint {
    /// The thread-specific slot holding the current thread's handler (unretained).
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// Installs `handler` for the calling thread. The caller keeps it alive until it calls
    /// `uninstall()` on the same thread.
    public static func install(_ handler: some BlockingHandler) {
        uninstall()
        pthread_setspecific(key, Unmanaged.passRetained(HandlerBox(handler)).toOpaque())
    }

    /// Removes the calling thread's handler.
    public static func uninstall() {
        guard let raw = pthread_getspecific(key) else { return }
        pthread_setspecific(key, nil)
        Unmanaged<HandlerBox>.fromOpaque(raw).release()
    }

    /// True when the calling thread has a handler (a worker that reads requests inline).
    public static var isInstalled: Bool { pthread_getspecific(key) != nil }

    /// Tells the calling thread's handler, if any, that a slow wait follows.
    @inline(__always)
    public static func willBlock() {
        guard let raw = pthread_getspecific(key) else { return }
        Unmanaged<HandlerBox>.fromOpaque(raw).takeUnretainedValue().handler.willBlock()
    }
}

/// Holds the handler as an existential so the slot can store one object pointer.
private final class HandlerBox {
    let handler: any BlockingHandler
    init(_ handler: any BlockingHandler) { self.handler = handler }
}
