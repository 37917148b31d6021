package import ArrayIO
import Foundation
package import Numerics

/// Turns label rows into target rows: class ids become one-hot rows; rows of the layer's width are taken as
/// they are. The checks that need the whole array (its shape) are made once; each block's values are checked
/// as it is decoded.
package struct LabelDecoder {
    package let name: String
    package let units: Int
    package let columns: Int
    package let activation: Activation

    package init(_ labels: ArraySource, samples: Int, units: Int, activation: Activation) throws {
        guard labels.rows == samples else {
            throw DataError(
                .shapeMismatch, labels.name, "\(labels.rows) labels for \(samples) samples",
                hint: "give one label per feature row")
        }
        let classIds = labels.columns == 1 && units > 1 && activation.classifies
        guard classIds || labels.columns == units else {
            throw DataError(
                .shapeMismatch, labels.name, "labels have \(labels.columns) columns, the layer has \(units) outputs",
                hint: "give class ids, one-hot rows or one target per output")
        }
        name = labels.name
        self.units = units
        columns = labels.columns
        self.activation = activation
    }

    /// Target rows and, when the layer classifies, class ids for `values` (rows from `firstRow` on).
    package func decode(_ values: [Float], firstRow: Int) throws -> (matrix: Tensor, classes: [Int]?) {
        let rows = values.count / max(columns, 1)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw DataError(name, "labels hold NaN or infinity (row \(firstRow + bad / max(columns, 1)))")
        }
        if columns == 1, units > 1, activation.classifies {
            var matrix = Tensor(zeros: rows, units)
            var classes: [Int] = []
            classes.reserveCapacity(rows)
            for (row, value) in values.enumerated() {
                // Compared as floats before converting: 1e20 or 2^63 would trap in Int(_:).
                guard value == value.rounded(), value >= 0, value < Float(units) else {
                    throw DataError(name, "label \(value) in row \(firstRow + row) is not a class id in 0..<\(units)")
                }
                matrix[row, Int(value)] = 1
                classes.append(Int(value))
            }
            return (matrix, classes)
        }
        let matrix = Tensor(rows: rows, columns: units, values: values)
        guard activation.classifies else { return (matrix, nil) }
        if units == 1 || activation == .sigmoid {
            if let bad = values.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
                throw DataError(
                    name, "label \(values[bad]) in row \(firstRow + bad / columns) is outside [0, 1]",
                    hint: "sigmoid labels are probabilities, one per output")
            }
            if units == 1 { return (matrix, values.map { $0 >= 0.5 ? 1 : 0 }) }
        } else {
            try checkDistributions(values, rows: rows, firstRow: firstRow)
        }
        return (matrix, (0..<rows).map { matrix.argmax(row: $0) })
    }

    /// Softmax label rows must be one-hot or soft labels: non-negative and summing to 1 within
    /// `LabelDecoder.sumTolerance`.
    private func checkDistributions(_ values: [Float], rows: Int, firstRow: Int) throws {
        for row in 0..<rows {
            let slice = values[(row * columns)..<((row + 1) * columns)]
            if let negative = slice.first(where: { $0 < 0 }) {
                throw DataError(
                    name, "label row \(firstRow + row) holds \(negative), not a probability",
                    hint: "give class ids, or rows that are one-hot or sum to 1")
            }
            let sum = slice.reduce(0.0) { $0 + Double($1) }
            guard abs(sum - 1) <= Self.sumTolerance else {
                throw DataError(
                    name, "label row \(firstRow + row) sums to \(Float(sum)), not 1",
                    hint: "give class ids, or rows that are one-hot or sum to 1")
            }
        }
    }

    /// How far a softmax label row's sum may stray from 1.
    package static let sumTolerance = 1e-3
}

extension Activation {
    /// Whether the outputs are class scores (softmax, sigmoid), so that labels may be class ids.
    package var classifies: Bool { self == .softmax || self == .sigmoid }
}
