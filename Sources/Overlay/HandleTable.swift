// Open files and directories. A file handle owns a host descriptor (closed on release); a
// directory handle owns a snapshot of the merged listing, taken at opendir and retaken on
// rewind, so READDIR cookies stay valid while the directory changes.
import FUSEWire
import ScorpioSys
import SystemPackage

/// One open file or directory.
enum OpenHandle {
    case file(OpenFile)
    case directory(DirectorySnapshot)
}

struct OpenFile {
    var node: InodeNumber
    var descriptor: FileDescriptor
    var layer: LayerIndex
    var backing: BackingID?
}

struct DirectorySnapshot {
    var node: InodeNumber
    /// nil until the first READDIR at offset 0 (opendir itself stays cheap).
    var entries: [DirectoryEntry]?
}

/// Handle ids to handles. Kept inside the overlay's Mutex.
struct HandleTable {
    private var handles: [FileHandleID: OpenHandle] = [:]
    private var nextID: UInt64 = 1

    mutating func insert(_ handle: OpenHandle) -> FileHandleID {
        let id = FileHandleID(nextID)
        nextID += 1
        handles[id] = handle
        return id
    }

    subscript(_ id: FileHandleID) -> OpenHandle? {
        get { handles[id] }
        set { handles[id] = newValue }
    }

    mutating func remove(_ id: FileHandleID) -> OpenHandle? {
        handles.removeValue(forKey: id)
    }

    /// Some open descriptor of `node`, for attributes of an unlinked file that is still open;
    /// `upperOnly` asks for one that may be written.
    func anyDescriptor(of node: InodeNumber, upperOnly: Bool = false) -> FileDescriptor? {
        for case .file(let file) in handles.values where file.node == node && (!upperOnly || file.layer == 0) {
            return file.descriptor
        }
        return nil
    }

    /// Empties the table (session end) and returns what was open.
    mutating func removeAll() -> [OpenHandle] {
        defer { handles.removeAll() }
        return Array(handles.values)
    }

    var count: Int { handles.count }
}
