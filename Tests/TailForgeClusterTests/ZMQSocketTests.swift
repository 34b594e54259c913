import CZeroMQ
import Foundation
import Testing
@testable import TailForgeCluster

@Suite struct ZMQSocketTests {
    private func factory(_ configure: (inout SocketSettings) -> Void = { _ in }) throws -> SocketFactory {
        var settings = SocketSettings()
        configure(&settings)
        return SocketFactory(context: try ZMQContext(), settings: settings)
    }

    @Test func routerAndDealerExchangeMultipartMessagesOnLoopback() throws {
        let factory = try factory()
        let router = try factory.makeRouter(binding: "tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let dealer = try factory.makeDealer(connecting: endpoint, identity: Array("worker-a".utf8))
        try dealer.send([[1, 2], [], [3]])
        #expect(try router.waitForInput(timeoutMilliseconds: 5_000))
        let received = try #require(try router.receive())
        #expect(received == [Array("worker-a".utf8), [1, 2], [], [3]])
        try router.send([Array("worker-a".utf8), [9]])
        #expect(try dealer.waitForInput(timeoutMilliseconds: 5_000))
        #expect(try dealer.receive() == [[9]])
        #expect(try dealer.receive(dontWait: true) == nil)
    }

    @Test func routerRefusesToSendToAnUnknownPeer() throws {
        let router = try factory().makeRouter(binding: "tcp://127.0.0.1:*")
        #expect(throws: ZMQError.hostUnreachable) { try router.send([Array("nobody".utf8), [1]]) }
    }

    @Test func framesOverTheSizeLimitDropThePeerNotTheReceiver() throws {
        let factory = try factory { $0.maxFrameBytes = 1_024 }
        let router = try factory.makeRouter(binding: "tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint
        let big = try factory.makeDealer(connecting: endpoint, identity: Array("big".utf8))
        try big.send([Array(repeating: 1, count: 4_096)])
        let small = try factory.makeDealer(connecting: endpoint, identity: Array("small".utf8))
        try small.send([[1]])
        #expect(try router.waitForInput(timeoutMilliseconds: 5_000))
        #expect(try router.receive() == [Array("small".utf8), [1]])
        #expect(try router.waitForInput(timeoutMilliseconds: 200) == false)
    }

    @Test func errorsCarryTheirCodeAndLibzmqText() throws {
        let socket = try factory().makeRouter(binding: "tcp://127.0.0.1:*")
        do {
            try socket.bind("nonsense://x")
            Issue.record("bind to a bad endpoint succeeded")
        } catch {
            #expect(error == .protocolNotSupported)
            #expect(error.description.contains("bind nonsense://x"))
        }
        socket.close()
        #expect(throws: ZMQError.self) { try socket.send([[1]]) }
    }

    @Test func bindingAnAddressTwiceSaysItIsInUse() throws {
        let factory = try factory()
        let first = try factory.makeRouter(binding: "tcp://127.0.0.1:*")
        #expect(throws: ZMQError.addressInUse) { _ = try factory.makeRouter(binding: try first.lastEndpoint) }
    }
}
