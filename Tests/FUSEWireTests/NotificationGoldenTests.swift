// Golden bytes of the notifications the daemon sends unasked, written by hand from
// include/uapi/linux/fuse.h: fuse_out_header { len, error = notify code, unique = 0 }, then
// fuse_notify_inval_inode_out { ino, off, len } or fuse_notify_store_out { nodeid, offset,
// size, padding } and the stored data. All integers are little-endian.
import Testing

@testable import FUSEWire

struct NotificationGoldenTests {
    @Test func invalidateAttributesKeepsThePageCache() {
        let bytes = withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { buffer in
            Array(FUSENotification.invalidateAttributes(InodeNumber(0x1234), into: buffer))
        }
        #expect(bytes == [
            0x28, 0x00, 0x00, 0x00,                         // len = 40
            0x02, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_INVAL_INODE
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
            0x34, 0x12, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // ino = 0x1234
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // off = -1: attributes only
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // len = 0
        ])
    }

    @Test func storeCarriesTheDataAfterItsHeader() {
        let bytes = withUnsafeTemporaryAllocation(byteCount: 64, alignment: 8) { buffer in
            for (index, byte) in [0x61, 0x62, 0x63].enumerated() { buffer[FUSENotification.storeHeaderSize + index] = UInt8(byte) }
            return Array(FUSENotification.store(InodeNumber(0x99), offset: 0x1000, dataCount: 3, in: buffer))
        }
        #expect(bytes == [
            0x2b, 0x00, 0x00, 0x00,                         // len = 43
            0x04, 0x00, 0x00, 0x00,                         // error = FUSE_NOTIFY_STORE
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // unique = 0
            0x99, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nodeid = 0x99
            0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // offset = 0x1000
            0x03, 0x00, 0x00, 0x00,                         // size = 3
            0x00, 0x00, 0x00, 0x00,                         // padding
            0x61, 0x62, 0x63,                               // "abc"
        ])
    }
}
