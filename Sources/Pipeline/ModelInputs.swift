public import ArrayIO
import Inference
public import Numerics

/// A model's inputs as arrays, one per input of the model, read a block of samples at a time: the data of
/// `kprune predict` and of `convert --data`.
public struct ModelInputs {
    /// The arrays, in the model's input order.
    public let sources: [ArraySource]
    /// The shape of one sample of each input.
    public let sampleShapes: [[Int]]
    /// Samples: every array's rows.
    public var samples: Int { sources.first?.rows ?? 0 }

    /// Opens `names`, one array per model input, and works out each input's sample shape.
    /// - Parameter declared: the model's input shapes as its config gives them (`Predictor.inputShapes`).
    /// - Throws: `DataError` naming the array when it cannot be read, when it does not fit its input, or when
    ///   the arrays hold different numbers of samples; `InferenceError` when the count of arrays is not the
    ///   model's count of inputs.
    public init(_ names: [String], declared: [[Int?]?]) throws {
        guard names.count == declared.count else {
            throw InferenceError(
                .unsupportedConfig,
                "the model takes \(declared.count) input\(declared.count == 1 ? "" : "s"), "
                    + "and \(names.count) arrays of inputs were given")
        }
        sources = try names.map { try ArraySource.open($0) }
        sampleShapes = try zip(sources, declared).map { try Self.sampleShape($1, of: $0) }
        if let first = sources.first, let other = sources.first(where: { $0.rows != first.rows }) {
            throw DataError(
                .shapeMismatch, other.name,
                "holds \(other.rows) samples, but \(first.name) holds \(first.rows)",
                hint: "give every input the same samples, in the same order")
        }
    }

    /// The shape of one sample of `array` for an input declared `declared`: the declared shape, which each row
    /// must fill; where the config leaves dimensions open, the array's own trailing shape when it has the
    /// same rank, else the one open dimension that the row's values fill.
    static func sampleShape(_ declared: [Int?]?, of array: ArraySource) throws -> [Int] {
        let trailing = Array(array.shape.dropFirst())
        guard let declared else { return trailing.isEmpty ? [1] : trailing }
        let known = declared.compactMap { $0 }
        if known.count == declared.count, let values = Allocation.product(known), values == array.columns {
            return known
        }
        if trailing.count == declared.count,
            zip(declared, trailing).allSatisfy({ $0.0 == nil || $0.0 == $0.1 })
        {
            return trailing
        }
        if declared.count - known.count == 1, let values = Allocation.product(known), values > 0,
            array.columns % values == 0
        {
            return declared.map { $0 ?? array.columns / values }
        }
        let text = "[" + declared.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + "]"
        throw DataError(
            .shapeMismatch, array.name,
            "samples of \(array.columns) values do not fit the model's input of shape \(text)",
            hint: "give one sample per row, with the input's shape after the first axis")
    }

    /// Samples `range` of every input, as tensors of their sample shapes.
    /// - Parameter finite: refuse NaN and infinity, naming the array and the sample.
    /// - Throws: `DataError` when an array cannot be read or holds a value refused.
    public func batch(_ range: Range<Int>, finite: Bool) throws -> [Tensor] {
        try zip(sources, sampleShapes).map { source, shape in
            var values = [Float](repeating: 0, count: range.count * source.columns)
            try values.withUnsafeMutableBufferPointer { try source.read(rows: range, into: $0) }
            if finite, let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw DataError(
                    source.name,
                    "the inputs hold NaN or infinity (sample \(range.lowerBound + bad / max(source.columns, 1)))",
                    hint: "clean the data")
            }
            return Tensor(shape: [range.count] + shape, values: values)
        }
    }

    /// `body`'s result for the batch whose first sample is row `firstRow`; a value of the inputs the model cannot
    /// take (a token id outside an embedding's table) becomes a `DataError` naming the array it came from and
    /// its row, so that the data, not the model, is blamed.
    public func locatingFaults<Result>(firstRow: Int, _ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as InferenceError {
            guard let located = error.located(in: sources.map(\.name), firstRow: firstRow) else { throw error }
            throw DataError(located.file, located.error.message, hint: "give ids the model's table has")
        }
    }
}
