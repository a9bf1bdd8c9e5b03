// A request waiting for a fetch gives up (EINTR) when the kernel interrupts it (FUSE INTERRUPT),
// whether the interrupt comes during the wait or overtakes it; the other waiters still get the
// fetch's outcome, and waits on threads that serve no request are not interruptible.
import Glibc
import ScorpioSys
import Synchronization
import SystemPackage
import Testing
@testable import Dicfuse

@Suite struct FetchWaiterTests {
    /// What a waiting thread got back; nil while it still waits.
    final class Outcome: Sendable {
        let value = Mutex<Errno??>(nil)
        var current: Errno?? { value.withLock { $0 } }
    }

    /// Starts a thread that serves request `unique` (0: none) and waits on `waiter`.
    func startWaiting(on waiter: FetchWaiter, request unique: UInt64, of interrupts: RequestInterrupts,
                      for object: ObjectID? = nil) throws -> (KernelThread, Outcome) {
        let outcome = Outcome()
        let thread = try KernelThread.start {
            if unique != 0 { RequestInterruption.serving(unique, of: interrupts) }
            let result = waiter.wait(for: object)
            RequestInterruption.servedNothing()
            outcome.value.withLock { $0 = .some(result) }
        }
        return (thread, outcome)
    }

    /// Polls until `outcome` is set or two seconds pass.
    func settled(_ outcome: Outcome) -> Errno?? {
        for _ in 0..<200 {
            if let result = outcome.current { return result }
            usleep(10_000)
        }
        return nil
    }

    @Test func aWaitForOneBlobEndsWhenThatBlobArrives() throws {
        let interrupts = RequestInterrupts()
        let waiter = FetchWaiter()
        let wanted = ObjectID(hex: "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")!
        let other = ObjectID(hex: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")!
        let (forBlob, blobOutcome) = try startWaiting(on: waiter, request: 41, of: interrupts, for: wanted)
        let (forAll, allOutcome) = try startWaiting(on: waiter, request: 42, of: interrupts)
        waiter.noteArrived(other)
        usleep(50_000)
        #expect(blobOutcome.current == nil, "another blob of the batch arrived")
        waiter.noteArrived(wanted)
        #expect(settled(blobOutcome) == .some(nil), "its blob is stored")
        usleep(50_000)
        #expect(allOutcome.current == nil, "a wait for the whole fetch goes on")
        waiter.finish(.ioError)
        forBlob.join()
        forAll.join()
        #expect(allOutcome.current == .some(.ioError))
        // Once the fetch is over its outcome holds for every blob: a failed pack took back
        // what it stored.
        #expect(waiter.wait(for: wanted) == .ioError)
    }

    @Test func anInterruptDuringTheWaitEndsOnlyThatRequestsWait() throws {
        let interrupts = RequestInterrupts()
        let waiter = FetchWaiter()
        let (first, firstOutcome) = try startWaiting(on: waiter, request: 11, of: interrupts)
        let (second, secondOutcome) = try startWaiting(on: waiter, request: 12, of: interrupts)
        usleep(50_000)
        #expect(firstOutcome.current == nil && secondOutcome.current == nil, "both wait for the fetch")
        interrupts.interrupt(11)
        let interrupted = settled(firstOutcome)
        #expect(secondOutcome.current == nil, "the other request still waits")
        waiter.finish(nil)
        first.join()
        second.join()
        #expect(interrupted == .some(.interrupted))
        #expect(secondOutcome.current == .some(nil), "the other request gets the fetch's outcome")
    }

    @Test func anInterruptThatOvertakesTheWaitEndsItAtOnce() throws {
        let interrupts = RequestInterrupts()
        let waiter = FetchWaiter()
        interrupts.interrupt(21)  // read by another worker before request 21 reached its wait
        let (thread, outcome) = try startWaiting(on: waiter, request: 21, of: interrupts)
        let result = settled(outcome)
        waiter.finish(nil)
        thread.join()
        #expect(result == .some(.interrupted))
    }

    @Test func waitsOutsideARequestAndFinishedFetchesAreNotInterrupted() throws {
        let interrupts = RequestInterrupts()
        let waiter = FetchWaiter()
        let (thread, outcome) = try startWaiting(on: waiter, request: 0, of: interrupts)
        usleep(50_000)
        interrupts.interrupt(0)
        usleep(50_000)
        #expect(outcome.current == nil, "a thread serving no request waits for the fetch")
        waiter.finish(.ioError)
        thread.join()
        #expect(outcome.current == .some(.ioError))
        // A fetch that already finished answers at once, interrupted or not.
        interrupts.interrupt(31)
        let (late, lateOutcome) = try startWaiting(on: waiter, request: 31, of: interrupts)
        late.join()
        #expect(lateOutcome.current == .some(.ioError))
    }

    @Test func workRunsOnItsOwnThreadAndFinishesTheWaiter() throws {
        let waiter = FetchWaiter()
        let ran = Mutex<Bool>(false)
        waiter.run {
            ran.withLock { $0 = true }
            return .timedOut
        }
        #expect(waiter.wait() == .timedOut)
        #expect(ran.withLock { $0 })
    }
}
