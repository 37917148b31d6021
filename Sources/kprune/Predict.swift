import ArgumentParser
import ArrayIO
import CProcess
import FileOutput
import Foundation
import Inference
import KerasFormat
import Numerics
import Pipeline
import Sparsity

extension Kprune {
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a Keras model on inputs and write its outputs as .npy, without Python.",
            discussion: """
                Inputs are read a batch at a time from a .npy, an .npz member (x.npz:NAME) or an HDF5 dataset \
                (x.h5:/PATH), one row per sample. The output goes to OUT.npy (default: beside the data, \
                X.predictions.npy); a model with several outputs writes OUT.NAME.npy for each, or only the one \
                --output names. Outputs appear complete or not at all.
                """)

        @Argument(help: "A Keras file with a model config: .h5 or .keras.")
        var model: String

        @Option(
            help:
                "The model's inputs, one row per sample (x.npy, x.npz:NAME, x.h5:/PATH); once per input of a model with several, in their order."
        )
        var data: [String]

        @Option(name: [.short, .customLong("output-file")], help: "Output .npy file.")
        var outputFile: String?

        @Option(
            name: .customLong("output"), help: "Write only this output layer's values (models with several outputs).")
        var outputName: String?

        @Option(help: "Samples per batch.")
        var batchSize: Int = 256

        @Flag(help: "Replace an existing output file.")
        var force = false

        @OptionGroup
        var report: ReportOptions

        func validate() throws {
            guard Limits.batchSize.contains(batchSize) else {
                throw ValidationError("--batch-size \(batchSize) is outside [1, \(Limits.batchSize.upperBound)]")
            }
            if let outputFile, !outputFile.lowercased().hasSuffix(".npy") {
                throw ValidationError("-o \(outputFile) must end in .npy")
            }
        }

        func run() throws {
            ErrorLine.verbose = report.verbose
            // `-o` that is the model or a data file is a usage error, refused before any file is opened.
            if !Isolation.isChild, let outputFile {
                let lines = PredictDestinations.collisions([outputFile], with: readFiles)
                if !lines.isEmpty {
                    lines.forEach(printError)
                    throw ExitCode.validationFailure
                }
            }
            // The model and the data are worked on in a child process (Isolation.swift), so a crash on a corrupt
            // file is one line, and the child's temporary outputs are removed after it.
            guard try Isolation.inputsForThisProcess([model], outputFile: base) == [model] else { return }
            Signals.install()
            do {
                try predict()
            } catch let exit as ExitCode {
                throw exit
            } catch {
                ErrorLine.report(error, file: model)
                throw ExitCode.failure
            }
        }

        /// `-o OUT.npy`, or `X.predictions.npy` beside the first data array.
        private var base: String {
            outputFile ?? PredictDestinations.defaultBase(dataFile: data.first.map(ArraySource.file(of:)) ?? "inputs")
        }

        /// The files the run reads: the model and each data array's file.
        private var readFiles: [String] { [model] + data.map(ArraySource.file(of:)) }

        private func predict() throws {
            let clock = ContinuousClock(), started = clock.now
            Self.keepFreedActivations()
            // Reading the model's structure is bounded in time, as for convert and inspect.
            StructureDeadline.arm()
            let keras: KerasModel
            do {
                defer { StructureDeadline.disarm() }
                keras = try KerasModel.open(model)
            }
            let predictor = try Predictor(model: keras, blas: BLAS(threads: Workers.available))
            let destinations = try checkedDestinations(predictor.outputNames)
            let inputs = try ModelInputs(data, declared: predictor.inputShapes)
            let outputs = destinations.outputs
            let files = try OutputSet(destinations: outputs.map(\.destination), replacing: force)
            defer { files.discard() }
            var writers: [NPYWriter?] = Array(repeating: nil, count: outputs.count)
            var computing = Duration.zero
            for start in stride(from: 0, to: inputs.samples, by: batchSize) {
                let batch = try inputs.batch(start..<min(inputs.samples, start + batchSize), finite: false)
                let before = clock.now
                let results = try inputs.locatingFaults(firstRow: start) { try predictor.predict(batch) }
                computing += clock.now - before
                for (index, output) in outputs.enumerated() {
                    let result = results[output.index]
                    if writers[index] == nil {
                        writers[index] = try NPYWriter(
                            path: files.outputs[index].temporaryPath,
                            shape: [inputs.samples] + result.shape.dropFirst(),
                            name: output.destination)
                    }
                    try writers[index]?.append(result.values)
                }
            }
            if inputs.samples == 0 {
                // No rows: the outputs' shapes come from one sample of zeros, of which nothing is written.
                let results = try predictor.predict(inputs.sampleShapes.map { Tensor(zeros: [1] + $0) })
                for (index, output) in outputs.enumerated() {
                    writers[index] = try NPYWriter(
                        path: files.outputs[index].temporaryPath,
                        shape: [0] + results[output.index].shape.dropFirst(),
                        name: output.destination)
                }
            }
            // Every output is complete before the first gets its name.
            for writer in writers { try writer?.close() }
            try files.commit()
            if report.json {
                print(
                    jsonLine(
                        PredictReport(
                            model: model, data: data, outputFiles: outputs.map(\.destination),
                            rows: inputs.samples, batchSize: batchSize,
                            predictSeconds: computing.seconds, totalSeconds: (clock.now - started).seconds)))
            }
        }

        /// The destinations of the outputs to write, refused before any work when two are one file, when one is
        /// a file the run reads (exit 64), or when one cannot be written (exit 1).
        private func checkedDestinations(_ names: [String]) throws -> PredictDestinations {
            let destinations = try PredictDestinations(names: names, base: base, chosen: outputName)
            let lines = PredictDestinations.collisions(destinations.outputs.map(\.destination), with: readFiles)
            if !lines.isEmpty {
                lines.forEach(printError)
                throw ExitCode.validationFailure
            }
            for output in destinations.outputs { try OutputPath.check(output.destination, replacing: force) }
            return destinations
        }

        /// Keeps the memory of a batch's freed activations in the heap for the next batch's: by default glibc
        /// maps each activation of more than a few MiB afresh and returns it when freed, so every batch would
        /// page-fault its activations in again, a large share of a convolutional model's time.
        private static func keepFreedActivations() {
            _ = kp_keep_freed_memory(1 << 30)
        }
    }
}

/// The `--json` line of `kprune predict`, printed once the outputs are committed. Keys are stable.
struct PredictReport: Encodable {
    /// The model file, as given.
    let model: String
    /// The data arrays, as given, one per model input.
    let data: [String]
    /// The output files written, in the model's output order.
    let outputFiles: [String]
    /// Samples run.
    let rows: Int
    /// Samples per batch.
    let batchSize: Int
    /// Time in the forward pass alone, summed over the batches: no file reading or writing.
    let predictSeconds: Double
    /// Time from opening the model to the committed outputs.
    let totalSeconds: Double

    enum CodingKeys: String, CodingKey {
        case model, data, rows
        case outputFiles = "output_files"
        case batchSize = "batch_size"
        case predictSeconds = "predict_seconds"
        case totalSeconds = "total_seconds"
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
