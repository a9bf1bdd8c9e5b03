// Open files. A handle owns a host descriptor (closed on release). Directories have no
// handles: listings are served by cookie without per-open state (OverlayFileSystem+Directories).
import FUSEWire
import ScorpioSys
import SystemPackage

struct OpenFile {
    var node: InodeNumber
    /// nil for a small lower file until an operation needs it (OverlayFileSystem.openFile).
    var descriptor: FileDescriptor?
    var layer: LayerIndex
    var backing: BackingID?
    /// The file's path in its lower layer, for that deferred open (lowers never change, so the
    /// path stays right whatever happens to the name in the mount meanwhile).
    var lowerPath: [UInt8]? = nil
    /// Opened in the kernel's caching io mode (neither passthrough nor direct I/O). The kernel
    /// fails with EIO an open whose mode conflicts with the node's other opens (fs/fuse/iomode.c).
    var cachedMode = false
    /// What keeps a small lower file's content while OPEN left opening it to the first READ.
    var hold: ContentHold? = nil
    /// Opened on a lower file that another open copied up since: `descriptor` is now the upper
    /// copy's (OverlayFileSystem.followCopyUp), and `retired` holds the lower descriptor(s) it
    /// replaced until the handle is released (a READ on another thread may still use one).
    var followsUpper = false
    var retired: [FileDescriptor] = []
}

/// An open file whose host descriptor is open.
struct ReadyFile {
    let node: InodeNumber
    let descriptor: FileDescriptor
    let layer: LayerIndex
    /// Holds a node's shared descriptor open while a request uses it (handle-less I/O).
    var keepAlive: NodeDescriptor? = nil
    /// The file's path in its lower layer: for a small lower file opened through a handle, and
    /// for handle-less READs of lower files (OverlayOptions.noOpen).
    var lowerPath: [UInt8]? = nil
}

/// Handle ids to handles. Kept inside the overlay's Mutex.
struct HandleTable {
    private var handles: [FileHandleID: OpenFile] = [:]
    private var nextID: UInt64 = 1

    mutating func insert(_ file: OpenFile) -> FileHandleID {
        let id = FileHandleID(nextID)
        nextID += 1
        handles[id] = file
        return id
    }

    subscript(_ id: FileHandleID) -> OpenFile? {
        get { handles[id] }
        set { handles[id] = newValue }
    }

    mutating func remove(_ id: FileHandleID) -> OpenFile? {
        handles.removeValue(forKey: id)
    }

    /// Some open descriptor of `node`, for attributes of an unlinked file that is still open;
    /// `upperOnly` asks for one of the upper copy: opened there (writable if opened so), else
    /// one of a lower open that follows the copy-up (read-only).
    func anyDescriptor(of node: InodeNumber, upperOnly: Bool = false) -> FileDescriptor? {
        var followed: FileDescriptor? = nil
        for file in handles.values where file.node == node {
            guard let descriptor = file.descriptor else { continue }
            if !upperOnly || file.layer == 0 { return descriptor }
            if file.followsUpper, followed == nil { followed = descriptor }
        }
        return followed
    }

    /// Whether `node` has an open handle on a lower copy that has not followed a copy-up yet
    /// (OverlayFileSystem.followCopyUp).
    func hasLowerOpenNotFollowing(_ node: InodeNumber) -> Bool {
        handles.values.contains { $0.node == node && $0.layer != 0 && !$0.followsUpper && $0.backing == nil }
    }

    /// Empties the table (session end) and returns what was open.
    mutating func removeAll() -> [OpenFile] {
        defer { handles.removeAll() }
        return Array(handles.values)
    }

    var count: Int { handles.count }
}
