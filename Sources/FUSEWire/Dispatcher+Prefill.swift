// Storing a small, unchanging file in the kernel's page cache while answering its OPEN
// (OpenResult.prefill). Reading every file of a tree the first time then costs LOOKUP, OPEN and
// RELEASE per file, as a warm read does, instead of also a READ per 32 KiB (the kernel's
// first readahead window for a small read) and a GETATTR for the next stat (a READ leaves
// the kernel's atime stale).
extension Dispatcher {
    /// Reads the whole file through the filesystem into `scratch` (the reply buffer, unused
    /// until the reply is written) and stores it with FUSE_NOTIFY_STORE, before the OPEN reply
    /// lets the program read. Best effort: anything that goes wrong leaves the READ path.
    func prefill(_ node: InodeNumber, _ opened: OpenResult, ctx: RequestContext, notifier: any KernelNotifier,
                 scratch: UnsafeMutableRawBufferPointer) {
        let header = FUSENotification.storeHeaderSize
        guard header + opened.prefill <= scratch.count else { return }
        let data = UnsafeMutableRawBufferPointer(rebasing: scratch[header..<(header + opened.prefill)])
        guard let count = try? fileSystem.read(ctx, inode: node, handle: opened.handle, offset: 0, into: data),
              count == opened.prefill else { return }  // changed or unreadable: READ will tell
        let message = FUSENotification.store(node, offset: 0, dataCount: count, in: scratch)
        do {
            try notifier.deliver(message)
        } catch {
            logger.debug("page cache store refused", metadata: ["inode": "\(node)", "errno": "\(error)"])
        }
    }
}
