import ArrayIO
import Foundation
import Numerics
import TestSupport
import Testing

@testable import Inference
@testable import KerasFormat

/// Sizes a crafted config claims are refused in one error naming the layer, never allocated or looped over.
@Suite struct HostileConfigTests {
    static let image = "inference/keras2/image.h5"
    static let input = Tensor(shape: [2, 6, 6, 3], values: (0..<216).map { Float($0 % 7) / 7 })

    /// (layer, config key, value, what the error says)
    static let cases: [(String, String, JSONValue, String)] = [
        ("up_sampling2d", "size", .array([.number(65536), .number(65536)]), "more values than kprune allocates"),
        ("conv2d", "strides", .number(0), "cannot read"),
        ("conv2d_2", "dilation_rate", .number(-3), "cannot read"),
        ("max_pooling2d", "pool_size", .number(1e300), "cannot read"),
        ("average_pooling2d", "pool_size", .array([.number(65536), .number(65536)]), "too many to gather"),
        ("zero_padding2d", "padding", .number(1e18), "cannot read"),
        ("repeat_vector", "n", .number(1e300), "must be a whole number"),
    ]

    @Test(arguments: 0..<cases.count)
    func refusesClaimedSizes(_ index: Int) throws {
        let (layer, key, value, message) = Self.cases[index]
        let error = try Self.refusal(layer, key, value)
        #expect(error.layer == layer)
        #expect(error.message.contains(message), "\(error.message)")
    }

    /// The error the image fixture, its `layer`'s config `key` set to `value`, gives when built and run.
    static func refusal(_ layer: String, _ key: String, _ value: JSONValue) throws -> InferenceError {
        try #require(throws: InferenceError.self) {
            let edited = try predictor(image) { setting(key, to: value, layer: layer, in: $0) }
            _ = try edited.predict([input])
        }
    }

    /// A transposed convolution's strides multiply its output: claimed strides are counted before anything is
    /// allocated.
    @Test func refusesATransposedOutputTooLarge() throws {
        let source = try ArraySource.open(
            Fixtures.directory.appendingPathComponent(
                "predict/inference_keras2_transpose_h5.x.npy"
            ).path)
        let x = Tensor(shape: source.shape, values: try source.readAll())
        let error = try #require(throws: InferenceError.self) {
            let edited = try predictor("inference/keras2/transpose.h5") {
                setting(
                    "strides", to: .array([.number(65536), .number(65536), .number(65536)]),
                    layer: "conv3d_transpose", in: $0)
            }
            _ = try edited.predict([x])
        }
        #expect(error.layer == "conv3d_transpose")
        #expect(error.message.contains("more values than kprune allocates"), "\(error.message)")
    }

    /// A reshape whose target overflows when multiplied out is refused, not trapped.
    @Test func refusesAnOverflowingReshape() throws {
        let layer = ReshapeLayer(name: "reshape", target: [1 << 40, 1 << 40, -1])
        let error = try #require(throws: InferenceError.self) {
            try layer.forward([Tensor(shape: [1, 4], values: [1, 2, 3, 4])])
        }
        #expect(error.layer == "reshape")
    }

    /// A node or tensor index that is not a count (huge, negative, fractional, NaN) in a reference to a nested
    /// model's call, a layer's input or a model output is refused in one error, never converted into a trap.
    @Test(arguments: [JSONValue.number(1e300), .number(-1), .number(0.5), .number(.nan), .number(7)])
    func refusesCraftedNodeIndices(_ index: JSONValue) throws {
        let fixture = "inference/keras2/nested_functional.h5"
        let input = Tensor(shape: [1, 8, 8, 3], values: [Float](repeating: 0.5, count: 192))
        func replacing(_ json: JSONValue, _ position: Int) -> JSONValue {
            switch json {
            case .array(let items) where items.count >= 3 && items[0] == .string("backbone"):
                var edited = items
                edited[position] = index
                return .array(edited)
            case .array(let items): return .array(items.map { replacing($0, position) })
            case .object(let members): return .object(members.mapValues { replacing($0, position) })
            default: return json
            }
        }
        for position in [1, 2] {
            // Not a count: refused when the config is parsed, before a graph is built. A count that names no
            // call or output: refused where the graph follows it.
            if index.integer.map({ $0 >= 0 }) == true {
                let error = try #require(throws: InferenceError.self) {
                    _ = try predictor(fixture) { replacing($0, position) }.predict([input])
                }
                #expect(error.message.contains("backbone"), "\(error.message)")
            } else {
                let error = try #require(throws: ConfigError.self) {
                    _ = try predictor(fixture) { replacing($0, position) }.predict([input])
                }
                #expect(error.message.contains("backbone"), "\(error.message)")
                #expect(error.code == .invalidValue)
            }
        }
    }

    /// Sizes that overflow or exceed the bound are not a product.
    @Test func productsAreChecked() {
        #expect(Allocation.product([1 << 20, 1 << 20, 1 << 30]) == nil)
        #expect(Allocation.product([8, 8, 1]) == 64)
        #expect(throws: InferenceError.self) { try Allocation.count([Int.max, 2], layer: "x") }
    }
}
