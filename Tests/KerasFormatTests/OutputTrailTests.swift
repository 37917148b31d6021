import TestSupport
import Testing

@testable import KerasFormat

/// The layers between the final kernel layer and the model's output, read from the config.
@Suite struct OutputTrailTests {
    /// The activations Keras applies after the final Dense, as the trail names them.
    static func activations(_ trail: OutputTrail) -> [String]? {
        guard case .through(let steps) = trail else { return nil }
        return steps.compactMap { step in
            if case .activation(let name) = step.effect { return name }
            return nil
        }
    }

    @Test(arguments: Fixtures.all.filter { $0.outputActivation != nil })
    func findsTheActivationAfterTheFinalLayer(_ fixture: Fixture) throws {
        let model = try KerasModel.open(fixture.path)
        let layer = try #require(model.finalLayer)
        let trail = model.outputTrail(of: layer)
        #expect(Self.activations(trail) == [try #require(fixture.outputActivation)])
        guard case .through(let steps) = trail else { return }
        #expect(steps.allSatisfy { $0.effect != .unknown })
    }

    @Test func listsTheKerasLayersInBetweenInForwardOrder() throws {
        let keras2 = try KerasModel.open(Fixtures.named("keras2/trailing_softmax.h5").path)
        let keras3 = try KerasModel.open(Fixtures.named("keras3/trailing_softmax.keras").path)
        for model in [keras2, keras3] {
            let trail = model.outputTrail(of: try #require(model.finalLayer))
            guard case .through(let steps) = trail else {
                Issue.record("no trail: \(trail)")
                continue
            }
            #expect(steps.map(\.className) == ["Dropout", "Softmax"])
            #expect(steps.map(\.effect) == [.none, .activation("softmax")])
        }
    }

    @Test(arguments: Fixtures.all.filter { $0.unfollowableLayer != nil })
    func marksLayersItCannotFollow(_ fixture: Fixture) throws {
        let model = try KerasModel.open(fixture.path)
        let trail = model.outputTrail(of: try #require(model.finalLayer))
        guard case .through(let steps) = trail else {
            Issue.record("no trail: \(trail)")
            return
        }
        let step = try #require(steps.first { $0.path.name == fixture.unfollowableLayer })
        #expect(step.effect == .unknown)
    }

    @Test func isEmptyWhenTheFinalLayerIsTheOutput() throws {
        for name in [
            "keras2/sequential.h5", "keras2/functional.h5", "keras3/sequential.keras", "keras3/nested.keras",
            "keras2/nested.h5",
        ] {
            let model = try KerasModel.open(Fixtures.named(name).path)
            #expect(model.outputTrail(of: try #require(model.finalLayer)) == .through([]), "\(name)")
        }
    }

    @Test func followsOneOfSeveralOutputs() throws {
        let model = try KerasModel.open(Fixtures.named("keras3/multi_output.keras").path)
        #expect(model.outputTrail(of: try model.targetLayer(named: "out_a")) == .through([]))
    }

    @Test func saysAHiddenLayerIsNotTheLastBeforeTheOutput() throws {
        let model = try KerasModel.open(Fixtures.named("keras2/trailing_activation.h5").path)
        let hidden = try #require(model.kernelLayers.first)
        #expect(model.outputTrail(of: hidden) == .hidden)
    }

    @Test func isUnclearWithoutAConfig() throws {
        let model = try KerasModel.open(Fixtures.named("keras2/weights.h5").path)
        let layer = try model.targetLayer(named: "dense_1")
        guard case .unclear = model.outputTrail(of: layer) else {
            Issue.record("expected an unclear trail")
            return
        }
    }

    // MARK: Configs written out

    func config(_ text: String) throws -> ModelConfig { try ModelConfig.parse(try JSONValue.parse(text)) }

    func trail(_ config: ModelConfig, _ target: LayerPath, kernels: Set<String> = ["Dense"]) -> OutputTrail {
        config.trail(from: target) { _, layer in kernels.contains(layer.className) }
    }

    @Test func followsActivationsOutsideANestedModel() throws {
        // Keras 3: a Sequential whose final Dense is linear, then a sigmoid applied outside it.
        let model = try config(
            #"""
            {"class_name": "Functional", "config": {"name": "outer", "layers": [
              {"class_name": "InputLayer", "config": {"name": "in"}, "inbound_nodes": []},
              {"class_name": "Sequential", "config": {"name": "inner", "layers": [
                {"class_name": "Dense", "config": {"name": "head", "activation": "linear"}},
                {"class_name": "GaussianNoise", "config": {"name": "noise", "stddev": 0.1}}]},
               "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                            "config": {"keras_history": ["in", 0, 0]}}], "kwargs": {}}]},
              {"class_name": "Activation", "config": {"name": "act", "activation": "sigmoid"},
               "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__",
                                            "config": {"keras_history": ["inner", 1, 0]}}], "kwargs": {}}]}],
              "input_layers": [["in", 0, 0]], "output_layers": [["act", 0, 0]]}}
            """#)
        guard case .through(let steps) = trail(model, LayerPath(models: ["inner"], name: "head")) else {
            Issue.record("the trail is not followed")
            return
        }
        // Each step carries its layer's config as the file stores it.
        #expect(
            steps.map { TrailingLayer(path: $0.path, className: $0.className, effect: $0.effect) } == [
                TrailingLayer(
                    path: LayerPath(models: ["inner"], name: "noise"), className: "GaussianNoise", effect: .none),
                TrailingLayer(
                    path: LayerPath(models: [], name: "act"), className: "Activation",
                    effect: .activation("sigmoid")),
            ])
        #expect(steps.map { $0.config["name"]?.string } == ["noise", "act"])
        #expect(steps.first?.config["stddev"]?.number == 0.1)
    }

    /// A Keras 2 functional model: dense_1 -> dropout (called with training=True) -> add(with dense_2) -> out.
    let keras2Graph = #"""
        {"class_name": "Functional", "config": {"name": "m", "layers": [
          {"class_name": "InputLayer", "name": "in", "config": {"name": "in"}, "inbound_nodes": []},
          {"class_name": "Dense", "name": "dense_1", "config": {"name": "dense_1", "activation": "linear"},
           "inbound_nodes": [[["in", 0, 0, {}]]]},
          {"class_name": "Dropout", "name": "drop", "config": {"name": "drop", "rate": 0.5},
           "inbound_nodes": [[["dense_1", 0, 0, {"training": true}]]]},
          {"class_name": "Dense", "name": "dense_2", "config": {"name": "dense_2", "activation": "linear"},
           "inbound_nodes": [[["in", 0, 0, {}]]]},
          {"class_name": "Add", "name": "add", "config": {"name": "add"},
           "inbound_nodes": [[["drop", 0, 0, {}], ["dense_2", 0, 0, {}]]]},
          {"class_name": "ReLU", "name": "capped", "config": {"name": "capped", "max_value": 6.0,
           "negative_slope": 0.0, "threshold": 0.0}, "inbound_nodes": [[["dense_2", 0, 0, {}]]]}],
          "input_layers": [["in", 0, 0]], "output_layers": [["add", 0, 0], ["capped", 0, 0]]}}
        """#

    @Test func isUnclearThroughAMerge() throws {
        let model = try config(keras2Graph)
        guard case .unclear(let reason) = trail(model, LayerPath(models: [], name: "dense_1")) else {
            Issue.record("expected an unclear trail")
            return
        }
        #expect(reason.contains("add"))
    }

    @Test func readsWhatEachWeightlessLayerDoes() throws {
        let model = try config(keras2Graph)
        let byName = Dictionary(uniqueKeysWithValues: model.layers.map { ($0.name, $0.effect) })
        #expect(byName["drop"] == .unknown, "dropout called with training=True stays active")
        #expect(byName["capped"] == .unknown, "a capped ReLU is not relu")
        #expect(byName["add"] == .unknown)

        func effect(_ className: String, _ config: String) throws -> InferenceEffect {
            InferenceEffect(className: className, config: try JSONValue.parse(config), inboundNodes: nil)
        }
        #expect(try effect("Dropout", #"{"rate": 0.5}"#) == .none)
        #expect(try effect("ActivityRegularization", #"{"l1": 0.01}"#) == .none)
        #expect(try effect("Identity", "{}") == .none)
        #expect(try effect("Flatten", "{}") == .reshape)
        #expect(try effect("Activation", #"{"activation": "tanh"}"#) == .activation("tanh"))
        #expect(try effect("Activation", #"{"activation": {"class_name": "function", "config": "f"}}"#) == .unknown)
        #expect(try effect("Softmax", #"{"axis": -1}"#) == .activation("softmax"))
        #expect(try effect("Softmax", #"{"axis": [-1]}"#) == .activation("softmax"))
        #expect(try effect("Softmax", #"{"axis": 1}"#) == .unknown)
        #expect(
            try effect("ReLU", #"{"max_value": null, "negative_slope": 0.0, "threshold": 0.0}"#)
                == .activation("relu"))
        #expect(try effect("LeakyReLU", #"{"negative_slope": 0.3}"#) == .unknown)
        #expect(try effect("Rescaling", #"{"scale": 0.5, "offset": 0.0}"#) == .unknown)
        #expect(try effect("Lambda", #"{"function": "..."}"#) == .unknown)
        #expect(try effect("BatchNormalization", "{}") == .unknown)
    }

    @Test func isUnclearWhenTheLayerFeedsSeveralOutputs() throws {
        let model = try config(
            #"""
            {"class_name": "Functional", "config": {"name": "m", "layers": [
              {"class_name": "InputLayer", "name": "in", "config": {"name": "in"}, "inbound_nodes": []},
              {"class_name": "Dense", "name": "logits", "config": {"name": "logits", "activation": "linear"},
               "inbound_nodes": [[["in", 0, 0, {}]]]},
              {"class_name": "Softmax", "name": "probs", "config": {"name": "probs", "axis": -1},
               "inbound_nodes": [[["logits", 0, 0, {}]]]},
              {"class_name": "Activation", "name": "scores", "config": {"name": "scores", "activation": "sigmoid"},
               "inbound_nodes": [[["logits", 0, 0, {}]]]}],
              "input_layers": [["in", 0, 0]], "output_layers": [["probs", 0, 0], ["scores", 0, 0]]}}
            """#)
        guard case .unclear(let reason) = trail(model, LayerPath(models: [], name: "logits")) else {
            Issue.record("expected an unclear trail")
            return
        }
        #expect(reason.contains("2 of the model's outputs"))
    }

    @Test func walksSequentialLayersBackToTheTarget() throws {
        let sequential = try config(
            #"""
            {"class_name": "Sequential", "config": {"name": "s", "layers": [
              {"class_name": "Dense", "config": {"name": "a", "activation": "relu"}},
              {"class_name": "Dense", "config": {"name": "b", "activation": "linear"}},
              {"class_name": "Flatten", "config": {"name": "flat"}},
              {"class_name": "Activation", "config": {"name": "act", "activation": "softmax"}}]}}
            """#)
        #expect(trail(sequential, LayerPath(models: [], name: "a")) == .hidden)
        guard case .through(let steps) = trail(sequential, LayerPath(models: [], name: "b")) else {
            Issue.record("expected a trail")
            return
        }
        #expect(steps.map(\.effect) == [.reshape, .activation("softmax")])
    }
}
