import KerasFormat
import Numerics

extension Graph {
    /// The graph with each per-channel affine map on the last axis (`BatchNormalization`, `Normalization`,
    /// `Rescaling`) that is the only reader of a linear convolution's output folded into that convolution:
    /// `(W·x + b)·s + t` is `(W·s)·x + (b·s + t)`, one pass over the activations instead of three; and an
    /// `Activation` (or `ReLU`, `Softmax` layer) that is the only reader of one made the convolution's own
    /// activation. The folded
    /// layer keeps the map's name, so later layers and outputs find it; the convolution's own output, read by
    /// nothing else, is no longer computed. Results differ from the unfolded ones by float rounding only.
    func foldingNormalizations() throws -> Graph {
        var readers: [TensorReference: Int] = [:]
        for node in nodes { for inbound in node.inbound { readers[inbound, default: 0] += 1 } }
        for output in outputs { readers[output, default: 0] += 1 }
        var folded = nodes
        var removed = Set<Int>()
        var calls: [String: Int] = [:]
        var indexOfCall: [TensorReference: Int] = [:]
        for (index, node) in nodes.enumerated() {
            calls[node.name, default: 0] += 1
            indexOfCall[TensorReference(layer: node.name, node: node.call)] = index
        }
        for index in folded.indices {
            let node = folded[index]
            // Only a single call of a layer without masks, whose producer is read by nothing else.
            guard node.inbound.count == 1, let inbound = node.inbound.first, inbound.tensor == 0,
                readers[inbound] == 1, node.recordedMask != true,
                let producer = indexOfCall[TensorReference(layer: inbound.layer, node: inbound.node)],
                !removed.contains(producer), folded[producer].recordedMask != true,
                calls[inbound.layer] == 1,
                let layer = Self.fold(node.layer, into: folded[producer].layer)
            else { continue }
            let source = folded[producer]
            folded[index] = Node(
                name: node.name, className: node.className, call: node.call, inbound: source.inbound,
                layer: layer, masks: source.masks, recordedMask: source.recordedMask)
            removed.insert(producer)
        }
        let kept = folded.indices.filter { !removed.contains($0) }.map { folded[$0] }
        return try Graph(name: name, inputs: inputs, nodes: kept, outputs: outputs)
    }

    /// `layer` followed by `next` (a per-channel map or an activation), as one layer; nil when they do not
    /// fold.
    private static func fold(_ next: any ForwardLayer, into layer: any ForwardLayer) -> (any ForwardLayer)? {
        if let activation = next as? ActivationLayer { return withActivation(activation, layer) }
        guard let affine = next as? AffineLayer else { return nil }
        // The map's axis, when named by position (tf_keras writes BatchNormalization's as `[3]`), must be the
        // convolution output's last: its rank is the kernel's.
        let kernelRank =
            (layer as? ConvolutionLayer)?.kernel.rank ?? (layer as? DepthwiseConvolutionLayer)?.kernel.rank
            ?? (layer as? SeparableConvolutionLayer)?.depthwise.kernel.rank
        guard affine.axis == nil || kernelRank.map({ affine.axis == $0 - 1 }) == true else { return nil }
        switch layer {
        case let convolution as ConvolutionLayer:
            return fold(affine, into: convolution)
        case let separable as SeparableConvolutionLayer:
            return fold(affine, into: separable.pointwise).map {
                SeparableConvolutionLayer(depthwise: separable.depthwise, pointwise: $0)
            }
        case let depthwise as DepthwiseConvolutionLayer:
            let width =
                depthwise.kernel.shape[depthwise.kernel.rank - 2] * depthwise.kernel.shape[depthwise.kernel.rank - 1]
            guard depthwise.activation == .linear,
                let (kernel, bias) = scaled(depthwise.kernel, depthwise.bias, width, affine)
            else { return nil }
            return DepthwiseConvolutionLayer(
                name: affine.name, kernel: kernel, bias: bias, strides: depthwise.strides,
                dilation: depthwise.dilation, padding: depthwise.padding,
                activation: .linear, threads: depthwise.threads)
        default:
            return nil
        }
    }

    /// A linear convolution (plain, separable or depthwise) with `activation`'s activation as its own.
    private static func withActivation(_ activation: ActivationLayer, _ layer: any ForwardLayer) -> (any ForwardLayer)?
    {
        switch layer {
        case let c as ConvolutionLayer where c.activation == .linear:
            return ConvolutionLayer(
                name: activation.name, kernel: c.kernel, bias: c.bias, strides: c.strides,
                dilation: c.dilation, padding: c.padding, activation: activation.activation,
                blas: c.blas, groups: c.groups)
        case let s as SeparableConvolutionLayer:
            return withActivation(activation, s.pointwise).flatMap { $0 as? ConvolutionLayer }.map {
                SeparableConvolutionLayer(depthwise: s.depthwise, pointwise: $0)
            }
        case let d as DepthwiseConvolutionLayer where d.activation == .linear:
            return DepthwiseConvolutionLayer(
                name: activation.name, kernel: d.kernel, bias: d.bias, strides: d.strides,
                dilation: d.dilation, padding: d.padding,
                activation: activation.activation, threads: d.threads)
        default:
            return nil
        }
    }

    private static func fold(_ affine: AffineLayer, into convolution: ConvolutionLayer) -> ConvolutionLayer? {
        guard convolution.activation == .linear,
            let (kernel, bias) = scaled(
                convolution.kernel, convolution.bias, convolution.kernel.shape.last ?? 0, affine)
        else { return nil }
        return ConvolutionLayer(
            name: affine.name, kernel: kernel, bias: bias, strides: convolution.strides,
            dilation: convolution.dilation, padding: convolution.padding, activation: .linear,
            blas: convolution.blas, groups: convolution.groups)
    }

    /// A kernel whose last `width` values per row are output channels, and its bias (empty: zeros), with the
    /// map applied to each output channel; nil when the map has another width.
    private static func scaled(_ kernel: Tensor, _ bias: [Float], _ width: Int, _ affine: AffineLayer)
        -> (Tensor, [Float])?
    {
        guard width > 0, affine.scale.count == width, affine.shift.count == width, bias.isEmpty || bias.count == width
        else { return nil }
        var values = kernel.values
        for i in values.indices { values[i] *= affine.scale[i % width] }
        let newBias = (0..<width).map { (bias.isEmpty ? 0 : bias[$0]) * affine.scale[$0] + affine.shift[$0] }
        return (Tensor(shape: kernel.shape, values: values), newBias)
    }
}
