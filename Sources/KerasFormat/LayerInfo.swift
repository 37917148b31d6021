/// A layer and its stored weights.
public struct LayerInfo: Sendable, Equatable {
    /// Where the layer sits: its nested models' names and its own.
    public var path: LayerPath
    /// The Keras class from the config, when the file has one.
    public var className: String?
    /// For a wrapper (`TimeDistributed`, `Bidirectional`), the class of the layer it wraps.
    public var wrappedClassName: String?
    /// The activation from the config, when it is a plain name.
    public var activation: String?
    /// Every weight stored for the layer, in the layer's order, including those of sublayers nested below it.
    public var weights: [WeightInfo]
    /// Which of `weights` is the kernel, if the layer has a usable one.
    public var kernelIndex: Int?
    /// Why a layer whose class has a kernel has no usable one (no weights, a 1-D kernel, a linked kernel), as a
    /// clause: `its kernel 'dense/kernel:0' is 1-D (shape [64])`.
    public var kernelProblem: String?
    /// The layer's whole `config` object from the model config (`units`, `kernel_size`, `strides`, ...), as
    /// `LayerConfig.config` holds it; nil when the file has no model config (weights-only files).
    public var config: JSONValue?

    /// A layer known only from its weights (a file without a model config): its kernel is found by the
    /// weights' names.
    init(path: LayerPath, weights: [WeightInfo]) {
        self.init(path: path, className: nil, wrappedClassName: nil, activation: nil, config: nil, weights: weights)
    }

    /// A layer the model config describes, with its stored weights; its kernel is found from its class.
    init(path: LayerPath, layer: LayerConfig, weights: [WeightInfo]) {
        self.init(
            path: path, className: layer.className, wrappedClassName: layer.wrappedClassName,
            activation: layer.activation, config: layer.config, weights: weights)
    }

    /// Finds the layer's kernel from its class and weights.
    private init(
        path: LayerPath, className: String?, wrappedClassName: String?, activation: String?,
        config: JSONValue?, weights: [WeightInfo]
    ) {
        self.path = path
        self.className = className
        self.wrappedClassName = wrappedClassName
        self.activation = activation
        self.config = config
        self.weights = weights
        (kernelIndex, kernelProblem) = Self.findKernel(
            className: className, wrapped: wrappedClassName,
            weights: weights)
    }

    /// The kernel, when the layer has a usable one.
    public var kernel: WeightInfo? { kernelIndex.map { weights[$0] } }
    /// The bias: the first weight after the kernel whose shape is the kernel's last dimension.
    public var bias: WeightInfo? {
        guard let kernelIndex, let units = weights[kernelIndex].shape.last else { return nil }
        return weights.dropFirst(kernelIndex + 1).first { $0.shape == [units] }
    }

    /// The class that computes the layer's outputs: for a `TimeDistributed` layer the class it wraps (applied to
    /// every step), else the layer's own.
    public var computingClassName: String? { Self.computingClass(className, wrapped: wrappedClassName) }

    /// A `TimeDistributed` layer's wrapped class (its own when the config does not name one), any other's own.
    static func computingClass(_ className: String?, wrapped: String?) -> String? {
        className == "TimeDistributed" ? wrapped ?? className : className
    }

    /// Whether the layer is recurrent (`LSTM`, `GRU`, `SimpleRNN`, `Bidirectional`, a `TimeDistributed`
    /// recurrent layer...): kprune prunes it only when it is asked for by name.
    public var isRecurrent: Bool {
        [className, wrappedClassName].contains { $0.map(Self.recurrentClasses.contains) == true }
    }

    /// Whether the layer owns weights that a final-layer search must not pass over: a kernel, a broken
    /// kernel, or recurrent weights.
    var endsSearch: Bool { kernelIndex != nil || kernelProblem != nil || (isRecurrent && !weights.isEmpty) }

    /// `name (Class)` for messages.
    var described: String { "'\(path)'" + (className.map { " (\($0))" } ?? "") }

    /// Classes whose kernel is a known weight: the index of the weight that is the kernel.
    static let kernelIndexByClass: [String: Int] = [
        "Dense": 0, "EinsumDense": 0, "QuantizedDense": 0,
        "Conv1D": 0, "Conv2D": 0, "Conv3D": 0, "Convolution1D": 0, "Convolution2D": 0, "Convolution3D": 0,
        "Conv1DTranspose": 0, "Conv2DTranspose": 0, "Conv3DTranspose": 0,
        "Convolution2DTranspose": 0, "Convolution3DTranspose": 0, "Deconvolution2D": 0,
        "DepthwiseConv1D": 0, "DepthwiseConv2D": 0,
        "SeparableConv1D": 1, "SeparableConv2D": 1, "SeparableConvolution1D": 1, "SeparableConvolution2D": 1,
        "LocallyConnected1D": 0, "LocallyConnected2D": 0,
        // Recurrent layers store kernel, recurrent_kernel, bias: the input kernel comes first.
        "LSTM": 0, "GRU": 0, "SimpleRNN": 0, "CuDNNLSTM": 0, "CuDNNGRU": 0,
        "ConvLSTM1D": 0, "ConvLSTM2D": 0, "ConvLSTM3D": 0,
    ]

    /// Recurrent classes, and the wrapper that makes any layer recurrent.
    static let recurrentClasses: Set<String> = [
        "LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "RNN",
        "Bidirectional",
    ]

    /// Weight names that mark a kernel in layers of other classes.
    static let kernelNames: Set<String> = ["kernel", "pointwise_kernel"]

    /// Finds the kernel: by class where the class is known (a `TimeDistributed` layer by the class it wraps),
    /// else by the weight's own name. Only a dataset of its own of rank 2 or more is a kernel; otherwise the
    /// problem says why a layer of a class with a kernel has none.
    static func findKernel(className: String?, wrapped: String?, weights: [WeightInfo])
        -> (index: Int?, problem: String?)
    {
        let effective = computingClass(className, wrapped: wrapped)
        if className == "Bidirectional" {
            return (nil, weights.isEmpty ? nil : "it holds two input kernels, forward and backward")
        }
        let index: Int
        if let effective, let known = kernelIndexByClass[effective] {
            guard !weights.isEmpty else { return (nil, "it has no weights in the file") }
            guard known < weights.count else { return (nil, "it has \(weights.count) weights, no kernel among them") }
            index = known
        } else {
            let named = weights.firstIndex { weight in
                let last = weight.name.split(separator: "/").last.map { String($0.split(separator: ":")[0]) }
                return last.map(kernelNames.contains) == true
            }
            guard let named else { return (nil, nil) }
            index = named
        }
        let kernel = weights[index]
        if let link = kernel.link {
            return (nil, "its kernel '\(kernel.name)' is \(link), not a dataset of its own")
        }
        if let problem = kernel.storageProblem {
            return (
                nil,
                "its kernel '\(kernel.name)' is \(problem); kprune prunes only kernels whose bytes all "
                    + "lie in the file itself"
            )
        }
        switch kernel.shape.count {
        case 0: return (nil, "its kernel '\(kernel.name)' is a scalar")
        case 1: return (nil, "its kernel '\(kernel.name)' is 1-D (shape \(kernel.shape))")
        default: return (index, nil)
        }
    }
}
