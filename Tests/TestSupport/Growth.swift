import Foundation

/// How much longer `work` takes on a larger input than on a smaller one: the ratio of the fastest of `repeats`
/// runs at each size. Timing tests compare this ratio with the sizes' ratio (linear work on 8 times the input
/// takes about 8 times as long, quadratic about 64), never a wall-clock bound, so a loaded machine does not
/// fail them.
public func growth(small: Int, large: Int, repeats: Int = 3, _ work: (Int) throws -> Void) rethrows -> Double {
    func fastest(_ size: Int) throws -> Double {
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = ContinuousClock.now
            try work(size)
            let elapsed = ContinuousClock.now - start
            best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return best
    }
    return try fastest(large) / max(try fastest(small), 1e-6)
}
