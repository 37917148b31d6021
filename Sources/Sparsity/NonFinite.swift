/// The one rule for weights that are not numbers: a kernel (or layer) holding NaN or infinity is refused,
/// whichever path read it.
public enum NonFinite {
    /// Refuses `count` NaN or infinite values found in `what` (`the kernel dense/kernel:0`).
    /// - Throws: `PruningError` `.nonFinite` when `count > 0`.
    public static func refuse(count: Int, in what: String) throws(PruningError) {
        guard count > 0 else { return }
        throw PruningError(
            .nonFinite, "\(what) holds \(count) NaN or infinite values",
            hint: "the model's weights are broken; retrain or restore them")
    }
}
