import Foundation
import Testing
import TailForgeNumerics
@testable import TailForgeCluster

@Suite struct SocketMailboxTests {
    @Test func aPostFromAnotherThreadWakesTheOwnersPollAndArrivesInOrder() throws {
        let factory = SocketFactory(context: try ZMQContext())
        let (mailbox, wake) = try SocketMailbox<Int>.make(factory: factory)
        defer { mailbox.close(); wake.close() }
        #expect(try ZMQSocket.poll([wake], timeoutMilliseconds: 0) == [false])
        ComputePool.forEach(4, width: 4) { thread in mailbox.post((0..<25).map { thread * 100 + $0 }) }
        // An infinite wait returns only because the posts woke it (a lost wake-up would hang, not pass).
        #expect(try ZMQSocket.poll([wake], timeoutMilliseconds: -1) == [true])
        let values = mailbox.drain(wake)
        #expect(values.count == 100)
        for thread in 0..<4 {
            #expect(values.filter { $0 / 100 == thread } == (0..<25).map { thread * 100 + $0 })
        }
        // Draining consumed every wake-up: nothing is readable until the next post.
        #expect(try ZMQSocket.poll([wake], timeoutMilliseconds: 0) == [false])
        #expect(mailbox.isEmpty)
    }

    @Test func wakeWithoutValuesWakesThePollAndPostsAfterCloseAreDropped() throws {
        let factory = SocketFactory(context: try ZMQContext())
        let (mailbox, wake) = try SocketMailbox<String>.make(factory: factory)
        defer { wake.close() }
        mailbox.wake()
        #expect(try ZMQSocket.poll([wake], timeoutMilliseconds: -1) == [true])
        #expect(mailbox.drain(wake).isEmpty)
        mailbox.close()
        mailbox.post("late")
        #expect(mailbox.isEmpty)
        #expect(try ZMQSocket.poll([wake], timeoutMilliseconds: 0) == [false])
    }
}
