public import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Tag {
    /// Tests of several seconds each (whole conversions of the calibration models, signal handling). The full
    /// tier (`tools/test.sh`) runs them; the quick tier (`tools/test.sh --quick`) skips them.
    @Tag public static var slow: Self
}

/// The tier a test run belongs to.
public enum TestTier {
    /// Whether this is the quick tier: `KPRUNE_TEST_TIER=quick` in the environment, as `tools/test.sh --quick`
    /// sets it.
    public static let isQuick = getenv("KPRUNE_TEST_TIER").map { String(cString: $0) } == "quick"
}

extension Trait where Self == ConditionTrait {
    /// Skipped in the quick tier; always run in the full one. Given with the `slow` tag.
    public static var fullTier: Self {
        .disabled(if: TestTier.isQuick, "the quick tier skips it; tools/test.sh runs it")
    }
}
