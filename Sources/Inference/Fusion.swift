import Numerics

extension Graph {
    /// The graph with each per-channel affine map on the last axis (`BatchNormalization`, `Normalization`,
    /// `Rescaling`) that is the only reader of a linear convolution's output folded into that convolution:
    /// `(W·x + b)·s + t` is `(W·s)·x + (b·s + t)`, one pass over the activations instead of three. The folded
    /// layer keeps the map's name, so later layers and outputs find it; the convolution's own output, read by
    /// nothing else, is no longer computed. Results differ from the unfolded ones by float rounding only.
    func foldingNormalizations() -> Graph {
        var readers: [String: Int] = [:]
        for node in nodes { for inbound in node.inbound { readers[inbound, default: 0] += 1 } }
        for output in outputs { readers[output, default: 0] += 1 }
        var folded = nodes
        var removed = Set<String>()
        for index in folded.indices {
            let node = folded[index]
            guard let affine = node.layer as? AffineLayer, affine.axis == nil, node.inbound.count == 1,
                  readers[node.inbound[0]] == 1,
                  let producer = folded.firstIndex(where: { $0.name == node.inbound[0] }),
                  let layer = Self.fold(affine, into: folded[producer].layer)
            else { continue }
            folded[index] = Node(name: node.name, inbound: folded[producer].inbound, layer: layer)
            removed.insert(folded[producer].name)
        }
        return Graph(name: name, inputs: inputs, nodes: folded.filter { !removed.contains($0.name) }, outputs: outputs)
    }

    /// `layer` followed by `affine`, as one layer; nil for a layer it cannot be folded into.
    private static func fold(_ affine: AffineLayer, into layer: any ForwardLayer) -> (any ForwardLayer)? {
        switch layer {
        case let convolution as ConvolutionLayer:
            return fold(affine, into: convolution)
        case let separable as SeparableConvolutionLayer:
            return fold(affine, into: separable.pointwise).map {
                SeparableConvolutionLayer(depthwise: separable.depthwise, pointwise: $0)
            }
        case let depthwise as DepthwiseConvolutionLayer:
            let width = depthwise.kernel.shape[depthwise.kernel.rank - 2] * depthwise.kernel.shape[depthwise.kernel.rank - 1]
            guard depthwise.activation == .linear, let (kernel, bias) = scaled(depthwise.kernel, depthwise.bias, width, affine)
            else { return nil }
            return DepthwiseConvolutionLayer(name: affine.name, kernel: kernel, bias: bias, strides: depthwise.strides,
                                             dilation: depthwise.dilation, padding: depthwise.padding,
                                             activation: .linear, threads: depthwise.threads)
        default:
            return nil
        }
    }

    private static func fold(_ affine: AffineLayer, into convolution: ConvolutionLayer) -> ConvolutionLayer? {
        guard convolution.activation == .linear,
              let (kernel, bias) = scaled(convolution.kernel, convolution.bias, convolution.kernel.shape.last ?? 0, affine)
        else { return nil }
        return ConvolutionLayer(name: affine.name, kernel: kernel, bias: bias, strides: convolution.strides,
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
