using Microsoft.ML.OnnxRuntime;

namespace OvDiff.Onnx;

/// <summary>Where an ONNX Runtime session runs.</summary>
public enum ExecutionProviderKind
{
    /// <summary>The CPU execution provider (always available).</summary>
    Cpu,

    /// <summary>The CUDA execution provider; needs the GPU build of ONNX Runtime (<c>-p:OvDiffUseGpu=true</c>) and CUDA 13 + cuDNN 9.</summary>
    Cuda,
}

/// <summary>
/// How OvDiff creates an ONNX Runtime session. Immutable; the defaults run on the CPU with ONNX Runtime's own thread count.
/// </summary>
public sealed record OnnxRuntimeOptions
{
    /// <summary>Shared default instance (CPU, all graph optimisations).</summary>
    public static OnnxRuntimeOptions Default { get; } = new();

    /// <summary>Execution provider. Default <see cref="ExecutionProviderKind.Cpu"/>.</summary>
    public ExecutionProviderKind ExecutionProvider { get; init; } = ExecutionProviderKind.Cpu;

    /// <summary>CUDA device ordinal, used with <see cref="ExecutionProviderKind.Cuda"/>. Default 0.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>
    /// When CUDA was asked for but cannot be loaded (CPU-only ONNX Runtime, missing CUDA libraries): true runs on the CPU
    /// instead, false (the default) throws <see cref="ExecutionProviderUnavailableException"/>.
    /// </summary>
    public bool FallbackToCpu { get; init; }

    /// <summary>Threads used inside one operator; null (the default) lets ONNX Runtime choose (one per physical core).</summary>
    public int? IntraOpNumThreads { get; init; }

    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin-wait for more work after each run (its own default) instead of
    /// sleeping. Default false: in OvDiff every run is followed by parallel work of its own (matching, averaging, PAMR,
    /// labelling), and spinning threads take the cores that work needs. On 2 cores, turning it off took PAMR from
    /// 39.8 to 24.2 ms and the whole-image post-processing from 14.7 to 8.3 ms per VOC image, with the feature pass
    /// itself unchanged (docs/results.md). Set true only where runs follow each other with nothing in between.
    /// </summary>
    public bool AllowThreadSpinning { get; init; }

    /// <summary>Graph optimisation level. Default <see cref="GraphOptimizationLevel.ORT_ENABLE_ALL"/>.</summary>
    public GraphOptimizationLevel GraphOptimizationLevel { get; init; } = GraphOptimizationLevel.ORT_ENABLE_ALL;
}

/// <summary>The requested execution provider could not be loaded and fallback to the CPU was not allowed.</summary>
public sealed class ExecutionProviderUnavailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public ExecutionProviderUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>A model file that OvDiff needs is not where it was expected.</summary>
public sealed class ModelFileNotFoundException : FileNotFoundException
{
    /// <summary>Creates the exception; <paramref name="hint"/> says which files go where.</summary>
    public ModelFileNotFoundException(string path, string hint)
        : base($"Model file not found: '{path}'. {hint}", path)
    {
        Hint = hint;
    }

    /// <summary>Which files to put where.</summary>
    public string Hint { get; }

    /// <summary>The external weight file <paramref name="dataFile"/> of the model at <paramref name="modelPath"/> is not beside it.</summary>
    public static ModelFileNotFoundException ExternalData(string modelPath, string dataFile)
    {
        var folder = Path.GetDirectoryName(modelPath)!;
        return new ModelFileNotFoundException(
            Path.Combine(folder, dataFile),
            $"'{modelPath}' keeps its weights in {dataFile}, which must sit beside it: download or copy it into '{folder}' together with the model.");
    }
}

/// <summary>A model's inputs, outputs or intermediate tensors do not match what OvDiff expects.</summary>
public sealed class OnnxModelMismatchException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public OnnxModelMismatchException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the error that revealed the mismatch.</summary>
    public OnnxModelMismatchException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
