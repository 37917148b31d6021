/// A model kprune cannot run, or inputs that do not fit it.
public struct InferenceError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is; extensible without breaking callers.
    public struct Code: Hashable, Sendable {
        private enum Kind: Hashable, Sendable {
            case unsupportedLayer, unsupportedConfig, noConfig, shapeMismatch, inputValue, batchTooLarge
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }
        /// A layer class the forward pass does not implement (a custom layer, a Lambda, one not yet covered).
        public static let unsupportedLayer = Code(.unsupportedLayer)
        /// A known layer with a setting the forward pass does not implement.
        public static let unsupportedConfig = Code(.unsupportedConfig)
        /// The file has no model config (a weights-only file): the graph is unknown.
        public static let noConfig = Code(.noConfig)
        /// Inputs or weights whose shapes do not fit the layer.
        public static let shapeMismatch = Code(.shapeMismatch)
        /// A value of the inputs the model cannot take (a token id outside an embedding's table).
        public static let inputValue = Code(.inputValue)
        /// A layer's output for the whole batch would pass `Allocation.perBatch`, though one sample's would not:
        /// the batch is run in smaller parts.
        public static let batchTooLarge = Code(.batchTooLarge)
    }

    /// What kind of failure this is.
    public var code: Code
    /// The layer concerned, when there is one.
    public var layer: String?
    /// What is wrong, in the user's terms.
    public var message: String
    /// The failure underneath, when there is one.
    public var cause: (any Error)?
    /// When a value of the inputs is at fault (a token id outside an embedding's table), not the model: where
    /// it is.
    public var dataFault: DataFault?

    /// A value of the model's inputs that the model cannot take.
    public struct DataFault: Sendable {
        /// The sample, counted in the batch that was run.
        public var sample: Int
        /// The model input it came through, when known (a layer fed straight by one).
        public var input: Int?
        /// The message's words before and after the place of the value, which `located` fills in.
        let before: String, after: String
    }

    /// An error about a value of sample `sample` of a batch: `before` + `sample 3 of the batch` + `after`.
    init(dataFault sample: Int, layer: String, before: String, after: String) {
        self.init(.inputValue, layer: layer, "\(before) sample \(sample) of the batch \(after)")
        dataFault = DataFault(sample: sample, input: nil, before: before, after: after)
    }

    /// The error with its data fault placed in the files the samples came from: the file at fault (the data file
    /// of the model input the value came through, or the only one) and the message naming its row
    /// (`layer emb (Embedding) has 10 rows; x.npy row 3 asks for id 1e+30`). Nil when no data fault is known.
    /// - Parameters:
    ///   - files: the data file of each model input, in order.
    ///   - firstRow: the row of the batch's first sample in those files.
    public func located(in files: [String], firstRow: Int) -> (file: String, error: InferenceError)? {
        guard let fault = dataFault,
            let file = fault.input.map({ files.indices.contains($0) ? files[$0] : nil })
                ?? (files.count == 1 ? files[0] : nil)
        else { return nil }
        var error = self
        let name = file.split(separator: "/").last.map(String.init) ?? file
        error.message = "\(fault.before) \(name) row \(firstRow + fault.sample) \(fault.after)"
        return (file, error)
    }

    /// An error of kind `code` about `layer`.
    public init(_ code: Code, layer: String? = nil, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.layer = layer
        self.message = message
        self.cause = cause
    }

    /// The message.
    public var description: String { message }
}
