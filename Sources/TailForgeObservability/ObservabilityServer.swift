import Foundation
internal import Hummingbird
import Logging
internal import NIOCore
import ServiceLifecycle
import Synchronization
import TailForgeCluster

/// One HTTP listener of a daemon, as a `Service` in the daemon's `ServiceGroup`: `/metrics` (Prometheus text)
/// always; with a snapshot box (the coordinator's `--http-bind`) also the status page `/` and `/api/status`.
/// It reads only the thread-safe metrics registry and the last published ``ClusterSnapshot``, never the
/// network thread's state.
public struct ObservabilityServer: Service {
    let listener: HTTPListener
    let logger: Logger

    public init(_ listener: HTTPListener, logger: Logger) {
        self.listener = listener
        self.logger = logger
    }

    /// The listeners as services for the daemon's `ServiceGroup`.
    public static func services(_ listeners: [HTTPListener], logger: Logger) -> [any Service] {
        listeners.map { ObservabilityServer($0, logger: logger) }
    }

    public func run() async throws {
        if let gate = listener.startsAfter {
            // A daemon that fails or is stopped before it is up (its state directory in use) never listens.
            do { try await cancelWhenGracefulShutdown { try await gate.wait() } } catch { return }
        }
        let router = Router()
        if let token = listener.token { router.add(middleware: TokenMiddleware(token: token)) }
        let metrics = listener.metrics
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
        if let snapshots = listener.snapshots {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            router.get("api/status") { _, _ -> Response in
                let body = try encoder.encode(snapshots.current)
                return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                                body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
            router.get("/") { _, _ -> Response in
                Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                                .contentSecurityPolicy: StatusPage.contentSecurityPolicy],
                         body: .init(byteBuffer: ByteBuffer(string: StatusPage.html(snapshots.current))))
            }
        }
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let listening = Latch()
        let address = listener.address, endpointFile = listener.endpointFile, logger = self.logger, pages = listener.snapshots != nil
        let app = Application(router: router, configuration: .init(address: .hostname(address.host, port: address.port), serverName: "tailforge"),
                              onServerRunning: { channel in
                                  listening.open()
                                  let port = channel.localAddress?.port ?? address.port
                                  let url = "http://\(HTTPBindAddress(host: address.host, port: port))"
                                  try? Data((url + "\n").utf8).write(to: URL(fileURLWithPath: endpointFile), options: .atomic)
                                  logger.info("\(pages ? "status page, /api/status and /metrics" : "metrics") on \(url)\(pages ? "/" : "/metrics")")
                              }, logger: quiet)
        do {
            try await app.run()
        } catch where !listening.isOpen {
            throw ObservabilityServerError(flag: listener.flag, address: address, underlying: error)
        }
        try? FileManager.default.removeItem(atPath: endpointFile)
    }
}

/// A listener that could not start (port in use, an address not on this machine, a host name that does not resolve).
public struct ObservabilityServerError: Error, CustomStringConvertible {
    public var flag: String
    public var address: HTTPBindAddress
    public var underlying: any Error

    public var description: String {
        if let io = underlying as? IOError, io.errnoCode == EADDRINUSE {
            return "\(flag) \(address): port \(address.port) is already in use on \(address.host); stop what listens there or choose another port (0 picks a free one)"
        }
        if let io = underlying as? IOError, io.errnoCode == EADDRNOTAVAIL {
            return "\(flag) \(address): \(address.host) is not an address of this machine; use 127.0.0.1, 0.0.0.0 or one of its interfaces' addresses"
        }
        if underlying is SocketAddressError.UnknownHost {
            return "\(flag) \(address): \(address.host) is not a host name this machine can resolve; check its spelling, or use 127.0.0.1, 0.0.0.0 or one of its interfaces' addresses"
        }
        return "\(flag) \(address): cannot listen there: \(underlying)"
    }
}

/// Refuses every request without the token (401), so a page bound beyond loopback shows nothing to strangers.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: HTTPToken

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let header = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let candidate = header ?? request.uri.queryParameters.get("token"), token.matches(candidate) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer", .contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "a token is required: open /?token=TOKEN (the content of the coordinator's --http-token-file) or send Authorization: Bearer TOKEN\n")))
        }
        return try await next(request, context)
    }
}
