import FileOutput
import FineTune
import HDF5
import KerasFormat
import Numerics
import Sparsity

extension FineTunedPruning {
    /// The activation the loss follows: the layer's own, then those of the layers between it and the model's
    /// output, which may only pass values through, reshape them, or apply one more activation to a linear
    /// layer's outputs.
    ///
    /// - Parameters:
    ///   - ownName: the activation the layer's config names.
    ///   - layer: the layer's path.
    ///   - trail: how its outputs reach the model's output.
    ///   - hasConfig: whether the file has a model config (without one, the report already says so).
    /// - Returns: the activation, the layer that applies it, and a note when the config does not say what
    ///   follows the layer (the layer's own activation is then used).
    /// - Throws: `PruningError` when an activation or a layer on the way changes the outputs in a way the
    ///   fine-tune cannot follow.
    static func lossActivation(
        own ownName: String?, of layer: LayerPath, trail: OutputTrail, hasConfig: Bool,
        perPosition: Bool = false
    ) throws
        -> (activation: Activation, source: String, note: String?)
    {
        guard let own = Activation(keras: ownName) else {
            throw PruningError(
                .notFineTunable,
                "the layer's activation '\(ownName ?? "?")' has no loss kprune can follow",
                hint: "the fine-tune follows softmax, sigmoid, linear, relu and tanh")
        }
        let source = layer.description
        switch trail {
        case .hidden:
            return (own, source, nil)
        case .unclear(let reason):
            let note =
                !hasConfig
                ? nil
                : "the loss follows \(source)'s own activation (\(own.name)); what follows the layer is unclear: "
                    + reason
            return (own, source, note)
        case .through(let steps):
            return try follow(steps, from: (own, source), of: layer, perPosition: perPosition)
        }
    }

    /// Global max pooling classes: each filter's largest value over the positions.
    static let maxPoolingClasses: Set<String> = [
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalMaxPool1D", "GlobalMaxPool2D",
        "GlobalMaxPool3D",
    ]

    /// How a convolution's outputs reach the model's output when, from the model's inputs, they are combined
    /// over positions in a way the pooled-patch rows cannot stand for: global average pooling after the
    /// layer's own non-linear activation, global max pooling, or a channels-last `Flatten` (or `Reshape` to
    /// one axis) whose values one activation spans; with nothing after that but layers that change nothing
    /// and at most one activation kprune differentiates. Nil otherwise: each position then keeps to its own
    /// outputs.
    /// - Returns: the layer's own activation, the pooling, and the layers after the pooling.
    static func groupedTrail(_ plan: ConversionPlan, _ trail: OutputTrail, calibration: Calibration)
        -> (inner: Activation, pooling: RowGroup.Pooling, after: [TrailingLayer])?
    {
        guard case .modelInputs = calibration.rows, plan.kernel.shape.count > 2, case .through(let steps) = trail,
            let inner = Activation(keras: plan.layer.activation), inner != .softmax,
            let first = steps.firstIndex(where: { $0.effect != .none })
        else { return nil }
        let pooling: RowGroup.Pooling
        var last = first
        if steps[first].effect == .pool {
            pooling = .mean
        } else if steps[first].effect == .unknown, maxPoolingClasses.contains(steps[first].className) {
            pooling = .max
        } else if steps[first].effect == .reshape {
            // Reshapes one after another: the last one decides the shape the activation after them sees.
            while last + 1 < steps.count, steps[last + 1].effect == .reshape || steps[last + 1].effect == .none {
                last += 1
            }
            let shaping = steps[first...last].filter { $0.effect == .reshape }
            guard let final = shaping.last, flattensWhole(final), isChannelsLast(plan.layer.config),
                shaping.allSatisfy({ isChannelsLast($0.config) })
            else { return nil }
            pooling = .flatten
        } else {
            return nil
        }
        let after = Array(steps[(last + 1)...])
        var outer = Activation.linear
        for step in after {
            switch step.effect {
            case .none: continue
            case .activation(let name):
                guard let next = Activation(keras: name) else { return nil }
                if next == .linear { continue }
                guard outer == .linear else { return nil }
                outer = next
            default: return nil
            }
        }
        // A smooth activation before the pooling has a curvature bounded only under cross-entropy.
        if inner == .tanh || inner == .sigmoid, outer != .softmax, outer != .sigmoid { return nil }
        return (inner, pooling, after)
    }

    /// Whether a reshaping layer leaves one axis: `Flatten`, or a `Reshape` to a single dimension.
    static func flattensWhole(_ step: TrailingLayer) -> Bool {
        step.className == "Flatten" || (step.className == "Reshape" && step.config["target_shape"]?.array?.count == 1)
    }

    /// Whether a config's `data_format` is absent or channels-last: a convolution's outputs, flattened, are
    /// then its positions one after another, each with its `units` values.
    static func isChannelsLast(_ config: JSONValue?) -> Bool {
        guard let format = config?["data_format"], format != .null else { return true }
        return format.string == "channels_last"
    }

    /// `trail` with each `Reshape` that keeps a channels-last convolution's positions apart (its target's last
    /// dimension is the layer's `units`) marked as changing nothing: an activation after it applies to one
    /// position's outputs at a time, as the per-position loss does.
    static func positionPreserving(_ trail: OutputTrail, units: Int, layerConfig: JSONValue?) -> OutputTrail {
        guard case .through(let steps) = trail, isChannelsLast(layerConfig) else { return trail }
        return .through(
            steps.map { step in
                guard step.className == "Reshape", let shape = step.config["target_shape"]?.array, shape.count >= 2,
                    shape.last?.number == Double(units)
                else { return step }
                var kept = step
                kept.effect = .none
                return kept
            })
    }

    /// Follows the layers after `layer` on the way to the model's output, from the activation `start`
    /// applied by the layer it names.
    private static func follow(
        _ steps: [TrailingLayer], from start: (Activation, String), of layer: LayerPath,
        perPosition: Bool
    ) throws -> (activation: Activation, source: String, note: String?) {
        var (activation, source) = start
        func refusal(_ step: TrailingLayer, _ reason: String) -> PruningError {
            PruningError(.notFineTunable, "\(layer)'s outputs reach the model's output through \(step), \(reason)")
        }
        var reshapedBy: TrailingLayer? = nil
        for step in steps {
            // A convolution is fine-tuned one output position at a time: once positions are pooled, flattened
            // or combined by a layer kprune does not follow (max pooling, say), what follows no longer applies
            // to a single position's outputs, and each position keeps to its own outputs.
            if perPosition, step.effect == .reshape || step.effect == .pool || step.effect == .unknown {
                let note =
                    "the loss is taken at each output position on \(source)'s \(activation.name) outputs; "
                    + "the model then combines positions (\(step))"
                return (activation, source, note)
            }
            switch step.effect {
            case .none:
                continue
            case .reshape, .pool:
                reshapedBy = reshapedBy ?? step
            case .activation(let name):
                guard let next = Activation(keras: name) else {
                    throw refusal(step, "an activation the fine-tune has no loss for")
                }
                if next == .linear { continue }
                guard activation == .linear else {
                    throw refusal(
                        step,
                        "which applies \(name) on top of \(source)'s \(activation.name); "
                            + "the fine-tune's loss follows one activation only")
                }
                if next == .softmax, let reshapedBy {
                    throw refusal(
                        step,
                        "a softmax over outputs \(reshapedBy.path) reshaped, which the fine-tune's "
                            + "loss cannot follow")
                }
                activation = next
                source = step.path.description
            case .unknown:
                throw refusal(step, "which changes them in a way the fine-tune's loss cannot follow")
            }
        }
        return (activation, source, nil)
    }
}
