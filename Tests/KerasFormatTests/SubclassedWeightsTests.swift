import Foundation
import TestSupport
import Testing

@testable import KerasFormat

/// A Keras 3 `.weights.h5` saved from a subclassed model: layers at the root under their attributes' names,
/// no config.
@Suite struct SubclassedWeightsTests {
    static let file = Fixtures.named("extra/keras3/subclassed.weights.h5").path

    /// Every layer is found at the root beside `/vars` and `/optimizer` (neither is a layer), a list attribute's
    /// layers below its name, each with its kernel first.
    @Test func listsTheAttributesLayers() throws {
        let model = try KerasModel.open(Self.file)
        #expect(model.format == .keras3WeightsH5)
        #expect(model.config == nil)
        #expect(model.layers.map(\.path.description) == ["blocks/dense", "head", "hidden"])
        for layer in model.layers {
            #expect(layer.kernel?.dataset == "/\(layer.path.description)/vars/0")
            #expect(layer.weights.count == 2)
        }
        #expect(model.optimizerWeights.count == 14)
        #expect(try model.targetLayer(named: "blocks/dense").kernel?.shape == [16, 16])
    }

    /// Without a config the final layer is not known: refused, the candidates listed.
    @Test func refusesToGuessTheFinalLayer() throws {
        let model = try KerasModel.open(Self.file)
        #expect(model.finalLayer == nil)
        let error = try #require(throws: KerasFormatError.self) { try model.targetLayer(named: nil) }
        #expect(error.code == .ambiguousLayer)
        for name in ["blocks/dense", "head", "hidden"] { #expect(error.hint?.contains(name) == true, "\(name)") }
    }

    /// In a `.weights.h5` without a config the layers are in the file's alphabetical order (`dense_10` before
    /// `dense_2`), not the model's: the optimizer block of a kernel whose shape other kernels share is not
    /// guessed from its rank, while the same layer of the `.keras` file, whose config gives the order, has its
    /// slots.
    @Test func leavesSlotsOfSharedShapesUnmatchedWithoutAConfig() throws {
        let weights = try KerasModel.open(Fixtures.named("keras3/many_layers.weights.h5").path)
        let (slots, note) = weights.optimizerSlots(for: try weights.targetLayer(named: "dense_2"))
        #expect(slots.isEmpty)
        #expect(note?.contains("could not be matched") == true)
        let archive = try KerasModel.open(Fixtures.directory.appendingPathComponent("keras3/many_layers.keras").path)
        let (archived, _) = archive.optimizerSlots(for: try archive.targetLayer(named: "dense_2"))
        #expect(archived.count == 2)
    }
}
