/// The Keras file formats kprune reads and writes.
public enum KerasFileFormat: String, Sendable, CaseIterable {
    /// Keras 2 `model.save("m.h5")`: config in `model_config`, weights under `/model_weights`.
    case keras2H5 = "keras2-h5"
    /// Keras 2 `model.save_weights("w.h5")`: layer groups at the root, no config.
    case keras2WeightsH5 = "keras2-weights-h5"
    /// Keras 3 `model.save("m.h5")`, the legacy HDF5 layout written by Keras 3.
    case keras3H5 = "keras3-h5"
    /// Keras 3 `.keras`: a zip of `config.json`, `metadata.json` and `model.weights.h5`.
    case keras3Archive = "keras3-keras"
    /// Keras 3 `.weights.h5`: `/layers/<saveable>/vars/<i>`, no config.
    case keras3WeightsH5 = "keras3-weights-h5"
}
