import ArrayIO
import Foundation
import Numerics

/// Label rows for a block of samples, as one row of `units` per output row: class ids become one-hot rows.
struct Targets {
    /// Per output row: its class (softmax with class ids) or nil.
    var classes: [Int]?
    /// Per output value: the target (probabilities, one-hot rows or regression values).
    var values: [Float]

    init(_ labels: ArraySource, rows range: Range<Int>, outputRows: Int, units: Int, activation: Activation) throws {
        var raw = [Float](repeating: 0, count: range.count * labels.columns)
        try raw.withUnsafeMutableBufferPointer { try labels.read(rows: range, into: $0) }
        if let bad = raw.firstIndex(where: { !$0.isFinite }) {
            throw DataError(
                labels.name, "labels hold NaN or infinity (row \(range.lowerBound + bad / max(labels.columns, 1)))")
        }
        let perSample = outputRows / max(range.count, 1)
        if activation == .softmax, units > 1, labels.columns == perSample {
            var classes: [Int] = []
            classes.reserveCapacity(raw.count)
            for (index, value) in raw.enumerated() {
                guard value == value.rounded(), value >= 0, value < Float(units) else {
                    throw DataError(
                        labels.name,
                        "label \(value) in row \(range.lowerBound + index / labels.columns) is not a class id in "
                            + "0..<\(units)")
                }
                classes.append(Int(value))
            }
            var values = [Float](repeating: 0, count: outputRows * units)
            for (row, id) in classes.enumerated() { values[row * units + id] = 1 }
            self.classes = classes
            self.values = values
            return
        }
        guard labels.columns == perSample * units else {
            throw DataError(
                .shapeMismatch, labels.name,
                "labels have \(labels.columns) values per sample, the model's output has \(perSample * units)",
                hint: activation == .softmax
                    ? "give class ids or one-hot rows" : "give one target per output value")
        }
        if activation == .softmax || activation == .sigmoid,
            let bad = raw.firstIndex(where: { !($0 >= 0 && $0 <= 1) })
        {
            throw DataError(
                labels.name,
                "label \(raw[bad]) in row \(range.lowerBound + bad / labels.columns) is not a probability")
        }
        classes = nil
        values = raw
    }
}

/// Running sums of one model's figures.
struct Score {
    var rows = 0, decisions = 0
    var correct = 0, agreeing = 0
    var loss = 0.0, lossTerms = 0

    func figures(labelled: Bool, activation: Activation) -> EvaluationReport.Figures {
        let decides = activation == .softmax || activation == .sigmoid
        return EvaluationReport.Figures(
            accuracy: labelled && decides && decisions > 0 ? Double(correct) / Double(decisions) : nil,
            agreement: decides && decisions > 0 ? Double(agreeing) / Double(decisions) : nil,
            loss: labelled && lossTerms > 0 ? loss / Double(lossTerms) : nil)
    }
}

/// Adds a block's outputs to a score: decisions against the labels and the dense outputs, and the loss.
struct Scorer {
    let activation: Activation
    let units: Int
    /// The dense model's outputs for the block.
    let reference: [Float]
    static let epsilon: Float = 1e-7

    func add(_ outputs: [Float], targets: Targets?, into score: inout Score) {
        let rows = outputs.count / max(units, 1)
        score.rows += rows
        switch activation {
        case .softmax where units > 1:
            for row in 0..<rows {
                let top = argmax(outputs, row), denseTop = argmax(reference, row)
                score.decisions += 1
                if top == denseTop { score.agreeing += 1 }
                guard let targets else { continue }
                let truth = targets.classes?[row] ?? argmax(targets.values, row)
                if top == truth { score.correct += 1 }
                var crossEntropy = 0.0
                for j in 0..<units where targets.values[row * units + j] != 0 {
                    let p = min(max(outputs[row * units + j], Self.epsilon), 1 - Self.epsilon)
                    crossEntropy -= Double(targets.values[row * units + j]) * log(Double(p))
                }
                score.loss += crossEntropy
                score.lossTerms += 1
            }
        case .sigmoid:
            for index in 0..<outputs.count {
                score.decisions += 1
                if (outputs[index] > 0.5) == (reference[index] > 0.5) { score.agreeing += 1 }
                guard let targets else { continue }
                let y = Double(targets.values[index])
                if (outputs[index] > 0.5) == (y > 0.5) { score.correct += 1 }
                let p = Double(min(max(outputs[index], Self.epsilon), 1 - Self.epsilon))
                score.loss -= y * log(p) + (1 - y) * log(1 - p)
                score.lossTerms += 1
            }
        default:
            guard let targets else { return }
            for index in 0..<outputs.count {
                let difference = Double(outputs[index]) - Double(targets.values[index])
                score.loss += difference * difference
                score.lossTerms += 1
            }
        }
    }

    /// The lowest column of a row's largest value.
    private func argmax(_ values: [Float], _ row: Int) -> Int {
        var best = 0
        for j in 1..<max(units, 1) where values[row * units + j] > values[row * units + best] { best = j }
        return best
    }
}
