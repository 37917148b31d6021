import FileOutput
import FineTune
import HDF5
import KerasFormat
import Numerics
import Sparsity

/// Pruning without data: the pattern selects the weights by magnitude in one streamed pass (rarely a few),
/// and the write-back's pass zeroes them.
enum DataFreePruning {
    /// Prunes `plan`'s kernel into `output`.
    /// - Throws: `PruningError` when the kernel's type or values cannot be pruned; read and write errors.
    static func run(_ plan: ConversionPlan, output: AtomicOutput, observer: (any PruningObserver)?) throws
        -> MethodOutcome
    {
        switch plan.kernel.storedType {
        case .float(bits: 16), .float(bits: 32):
            return try run(Float.self, plan, output: output, observer: observer)
        case .float(bits: 64):
            return try run(Double.self, plan, output: output, observer: observer)
        default:
            throw PruningError(
                .unsupportedType, "the kernel \(plan.kernel.dataset) is stored as \(plan.kernel.storedType)",
                hint: "kprune prunes float16, float32 and float64 kernels")
        }
    }

    private static func run<T: KernelElement>(
        _ type: T.Type, _ plan: ConversionPlan, output: AtomicOutput,
        observer: (any PruningObserver)?
    ) throws -> MethodOutcome {
        var zerosBefore = 0
        let written = try WriteBack.write(
            T.self, plan, output: output, readPasses: 1,
            observer: observer
        ) { source, segmentation, progress in
            let planned = try plan.request.pattern.dataFreeRewrite(
                source, segmentation: segmentation,
                zeros: plan.targetZeros,
                path: plan.kernel.dataset, progress: progress)
            zerosBefore = planned.zerosBefore
            return (planned.rewrite, planned.passes)
        }
        return MethodOutcome(zerosBefore: zerosBefore, written: written)
    }
}
