import Foundation
import TailForgeEngine
import TailForgeStorage

/// Balances each recipe when it is fitted, on this machine's threads (`balance --layout compact`); the fit is the
/// caller's.
public struct LocalAblationBalancer: AblationBalancer {
    public var threads: Int

    public init(threads: Int) { self.threads = max(1, threads) }

    public func start(_ balancings: [AblationBalancing]) async throws {}

    public func finish(_ balancing: AblationBalancing) async throws -> AblationBalanced {
        let start = ContinuousClock.now
        _ = try BalanceRunner(input: InputSpec(path: balancing.input), outputPath: balancing.output, settings: balancing.settings,
                              threads: threads, computeOutputDigest: false, layout: .compact).run()
        return AblationBalanced(balanceSeconds: (ContinuousClock.now - start).seconds)
    }

    public func abandon() {}
}
