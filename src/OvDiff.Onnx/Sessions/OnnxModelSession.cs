using System.Globalization;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OvDiff.Onnx;

/// <summary>
/// Owns one ONNX Runtime <see cref="InferenceSession"/>: created once from <see cref="OnnxRuntimeOptions"/>, checked
/// against the inputs and outputs OvDiff expects (by name, rank and element type), and released by <see cref="Dispose"/>.
/// Inputs and outputs are always bound by name. Float tensors are converted to and from float16 where the model wants it.
/// Not thread-safe for concurrent <see cref="Run"/> calls with cancellation; use one instance per thread.
/// </summary>
public sealed class OnnxModelSession : IDisposable
{
    private readonly InferenceSession _session;
    private bool _disposed;

    private OnnxModelSession(InferenceSession session, string modelDescription, ExecutionProviderKind activeProvider)
    {
        _session = session;
        ModelDescription = modelDescription;
        ActiveExecutionProvider = activeProvider;
    }

    /// <summary>The model file (or a description of the in-memory model) this session was created from; used in errors.</summary>
    public string ModelDescription { get; }

    /// <summary>The provider actually in use (CPU after a permitted CUDA fallback).</summary>
    public ExecutionProviderKind ActiveExecutionProvider { get; }

    /// <summary>Input metadata by name, as read from the model.</summary>
    public IReadOnlyDictionary<string, NodeMetadata> InputMetadata => _session.InputMetadata;

    /// <summary>Output metadata by name, as read from the model.</summary>
    public IReadOnlyDictionary<string, NodeMetadata> OutputMetadata => _session.OutputMetadata;

    /// <summary>
    /// Opens the model file at <paramref name="modelPath"/>. A missing file throws <see cref="ModelFileNotFoundException"/>
    /// carrying <paramref name="missingFileHint"/> (which files to put where); inputs or outputs other than expected throw
    /// <see cref="OnnxModelMismatchException"/> listing them, followed by <paramref name="mismatchHint"/> (what to do).
    /// </summary>
    public static OnnxModelSession Open(
        string modelPath,
        OnnxRuntimeOptions options,
        IReadOnlyList<OnnxTensorSpec> expectedInputs,
        IReadOnlyList<OnnxTensorSpec> expectedOutputs,
        string missingFileHint,
        string? mismatchHint = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var fullPath = Path.GetFullPath(modelPath);
        if (!File.Exists(fullPath))
        {
            throw new ModelFileNotFoundException(fullPath, missingFileHint);
        }

        // Weights in external files (weights.pb, model.onnx_data) must sit beside the graph; ONNX Runtime's own error is a stack trace.
        var folder = Path.GetDirectoryName(fullPath)!;
        if (OnnxGraphInfo.Read(fullPath).MissingExternalDataFiles(folder) is [var missing, ..])
        {
            throw ModelFileNotFoundException.ExternalData(fullPath, missing);
        }

        return Create(sessionOptions => new InferenceSession(fullPath, sessionOptions), fullPath, options, expectedInputs, expectedOutputs, mismatchHint);
    }

    /// <summary>
    /// Creates a session from model bytes (for example a model patched by <see cref="OnnxGraphSurgery"/>).
    /// <paramref name="externalDataDirectory"/> is the folder holding external weight files (<c>*.onnx_data</c>) when the model has them.
    /// </summary>
    public static OnnxModelSession FromBytes(
        byte[] modelBytes,
        string modelDescription,
        OnnxRuntimeOptions options,
        IReadOnlyList<OnnxTensorSpec> expectedInputs,
        IReadOnlyList<OnnxTensorSpec> expectedOutputs,
        string? externalDataDirectory = null,
        string? mismatchHint = null)
    {
        ArgumentNullException.ThrowIfNull(modelBytes);
        return Create(
            sessionOptions =>
            {
                if (externalDataDirectory is not null)
                {
                    sessionOptions.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", externalDataDirectory);
                }

                return new InferenceSession(modelBytes, sessionOptions);
            },
            modelDescription,
            options,
            expectedInputs,
            expectedOutputs,
            mismatchHint);
    }

    private static OnnxModelSession Create(
        Func<SessionOptions, InferenceSession> open,
        string modelDescription,
        OnnxRuntimeOptions options,
        IReadOnlyList<OnnxTensorSpec> expectedInputs,
        IReadOnlyList<OnnxTensorSpec> expectedOutputs,
        string? mismatchHint)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(expectedInputs);
        ArgumentNullException.ThrowIfNull(expectedOutputs);
        using var sessionOptions = CreateSessionOptions(options, out var activeProvider);
        InferenceSession session;
        try
        {
            session = open(sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new OnnxModelMismatchException($"ONNX Runtime could not load the model '{modelDescription}': {OneLine(ex.Message)}", ex);
        }

        try
        {
            Validate(session, modelDescription, expectedInputs, expectedOutputs, mismatchHint);
            return new OnnxModelSession(session, modelDescription, activeProvider);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>What to do when the native ONNX Runtime library is not beside the application.</summary>
    public const string NativeRuntimeMissingMessage =
        "The native ONNX Runtime library (onnxruntime) could not be loaded. OvDiff.Onnx references only ONNX Runtime's managed API: " +
        "reference the NuGet package Microsoft.ML.OnnxRuntime (CPU) or Microsoft.ML.OnnxRuntime.Gpu.Linux (CUDA), not both, from the " +
        "application project (the OvDiff.ML package brings the CPU one); a published app whose folder was copied without " +
        "libonnxruntime.so (onnxruntime.dll on Windows): copy the whole publish folder, or publish with -p:PublishSingleFile=true " +
        "-p:IncludeNativeLibrariesForSelfExtract=true.";

    /// <summary>
    /// Builds ONNX Runtime session options for <paramref name="options"/>. CUDA that cannot be loaded (CPU-only native
    /// library: <see cref="EntryPointNotFoundException"/>; missing CUDA libraries: <see cref="OnnxRuntimeException"/>)
    /// falls back to the CPU when allowed, else throws <see cref="ExecutionProviderUnavailableException"/>.
    /// </summary>
    public static SessionOptions CreateSessionOptions(OnnxRuntimeOptions options, out ExecutionProviderKind activeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        SessionOptions sessionOptions;
        try
        {
            sessionOptions = new SessionOptions { GraphOptimizationLevel = options.GraphOptimizationLevel };
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException { InnerException: DllNotFoundException })
        {
            throw new ExecutionProviderUnavailableException(NativeRuntimeMissingMessage, ex);
        }

        try
        {
            if (options.IntraOpNumThreads is { } threads)
            {
                ArgumentOutOfRangeException.ThrowIfNegative(threads, nameof(options.IntraOpNumThreads));
                sessionOptions.IntraOpNumThreads = threads;
            }

            // ONNX Runtime's own default is to spin; OvDiff's parallel stages follow every run and need those cores.
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", options.AllowThreadSpinning ? "1" : "0");
            activeProvider = ExecutionProviderKind.Cpu;
            if (options.ExecutionProvider == ExecutionProviderKind.Cuda)
            {
                Exception? failure = null;
                try
                {
                    sessionOptions.AppendExecutionProvider_CUDA(options.CudaDeviceId);
                    activeProvider = ExecutionProviderKind.Cuda;
                }
                catch (OnnxRuntimeException ex)
                {
                    failure = ex;
                }
                catch (EntryPointNotFoundException ex)
                {
                    failure = ex;
                }

                if (failure is not null && !options.FallbackToCpu)
                {
                    throw new ExecutionProviderUnavailableException(
                        $"The CUDA execution provider (device {options.CudaDeviceId}) could not be loaded: {failure.Message} " +
                        "Build with -p:OvDiffUseGpu=true (references Microsoft.ML.OnnxRuntime.Gpu.Linux), make CUDA 13 and cuDNN 9 " +
                        "visible on LD_LIBRARY_PATH, or set FallbackToCpu = true.",
                        failure);
                }
            }

            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    private static void Validate(InferenceSession session, string modelDescription, IReadOnlyList<OnnxTensorSpec> expectedInputs, IReadOnlyList<OnnxTensorSpec> expectedOutputs, string? mismatchHint)
    {
        var problems = new List<string>();
        CheckSide("input", session.InputMetadata, expectedInputs, problems);
        CheckSide("output", session.OutputMetadata, expectedOutputs, problems);
        var unfed = session.InputMetadata.Keys.Where(name => expectedInputs.All(spec => spec.Name != name)).ToList();
        foreach (var name in unfed)
        {
            problems.Add($"model input '{name}' is not one OvDiff feeds");
        }

        if (problems.Count == 0)
        {
            return;
        }

        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"The model '{modelDescription}' does not have the inputs/outputs OvDiff expects: {string.Join("; ", problems)}.");
        if (mismatchHint is not null)
        {
            message.Append(' ').Append(mismatchHint);
        }

        message.AppendLine();
        message.Append("Expected inputs: ").AppendJoin(", ", expectedInputs).AppendLine();
        message.Append("Actual inputs: ").AppendJoin(", ", session.InputMetadata.Select(Describe)).AppendLine();
        message.Append("Expected outputs: ").AppendJoin(", ", expectedOutputs).AppendLine();
        message.Append("Actual outputs: ").AppendJoin(", ", session.OutputMetadata.Select(Describe));
        throw new OnnxModelMismatchException(message.ToString());
    }

    private static void CheckSide(string side, IReadOnlyDictionary<string, NodeMetadata> actual, IReadOnlyList<OnnxTensorSpec> expected, List<string> problems)
    {
        foreach (var spec in expected)
        {
            if (!actual.TryGetValue(spec.Name, out var metadata))
            {
                if (!spec.Optional)
                {
                    problems.Add($"{side} '{spec.Name}' is missing");
                }

                continue;
            }

            if (!metadata.IsTensor || !spec.ElementTypes.Contains(metadata.ElementDataType))
            {
                problems.Add($"{side} '{spec.Name}' has element type {(metadata.IsTensor ? metadata.ElementDataType.ToString() : metadata.OnnxValueType.ToString())}, expected {string.Join(" or ", spec.ElementTypes)}");
                continue;
            }

            // An output whose shape the model does not declare has no dimensions in the metadata: checked at run time instead.
            var dimensions = metadata.Dimensions;
            if (dimensions.Length == 0 && side == "output")
            {
                continue;
            }

            if (dimensions.Length != spec.Rank)
            {
                problems.Add($"{side} '{spec.Name}' has rank {dimensions.Length}, expected {spec.Rank}");
                continue;
            }

            for (var axis = 0; axis < spec.Rank; axis++)
            {
                if (spec.Dimensions[axis] >= 0 && dimensions[axis] >= 0 && spec.Dimensions[axis] != dimensions[axis])
                {
                    problems.Add($"{side} '{spec.Name}' has size {dimensions[axis]} on axis {axis}, expected {spec.Dimensions[axis]}");
                }
            }
        }
    }

    private static string Describe(KeyValuePair<string, NodeMetadata> entry)
    {
        var metadata = entry.Value;
        if (!metadata.IsTensor)
        {
            return $"{entry.Key}: {metadata.OnnxValueType}";
        }

        var dims = metadata.Dimensions.Select((d, i) => d >= 0 ? d.ToString(CultureInfo.InvariantCulture) : (metadata.SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"));
        return $"{entry.Key}: {metadata.ElementDataType}[{string.Join(",", dims)}]";
    }

    /// <summary>The model's dimensions of input <paramref name="inputName"/> (-1 where symbolic).</summary>
    public IReadOnlyList<int> InputDimensions(string inputName) => GetMetadata(_session.InputMetadata, inputName, "input").Dimensions;

    /// <summary>
    /// Wraps <paramref name="values"/> (float32, any layout the caller chose) as a tensor for input <paramref name="inputName"/>,
    /// converting to float16 when the model's input is float16. The caller disposes the returned value.
    /// </summary>
    public OrtValue CreateFloatInput(string inputName, float[] values, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(shape);
        var metadata = GetMetadata(_session.InputMetadata, inputName, "input");
        return metadata.ElementDataType switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(values, shape),
            TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(ToFloat16(values), shape),
            var other => throw new OnnxModelMismatchException($"Input '{inputName}' of '{ModelDescription}' has element type {other}; OvDiff feeds Float or Float16."),
        };
    }

    /// <summary>
    /// Runs the model on <paramref name="inputs"/> (by name) and returns the named outputs in the order asked.
    /// Cancelling <paramref name="cancellationToken"/> terminates the run and throws <see cref="OperationCanceledException"/>.
    /// A model that ONNX Runtime cannot run on these inputs (a size its graph does not allow, say) throws
    /// <see cref="OnnxModelMismatchException"/> on one line naming the model, the inputs' shapes, ONNX Runtime's reason and
    /// <paramref name="failureHint"/> (what to do), instead of ONNX Runtime's own exception.
    /// </summary>
    public IDisposableReadOnlyCollection<OrtValue> Run(IReadOnlyDictionary<string, OrtValue> inputs, IReadOnlyList<string> outputNames, CancellationToken cancellationToken = default, string? failureHint = null)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputNames);
        return Execute(
            runOptions => _session.Run(runOptions, inputs.Keys.ToArray(), inputs.Values.ToArray(), outputNames.ToArray()),
            () => string.Join(", ", inputs.Select(DescribeValue)),
            failureHint,
            cancellationToken);
    }

    /// <summary>Creates an I/O binding on this session (inputs and outputs bound once and reused across runs); the caller disposes it.</summary>
    public OrtIoBinding CreateIoBinding()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _session.CreateIoBinding();
    }

    /// <summary>
    /// Runs the model on what <paramref name="binding"/> holds and waits for the bound outputs. Cancelling
    /// <paramref name="cancellationToken"/> terminates the run and throws <see cref="OperationCanceledException"/>; a run
    /// ONNX Runtime refuses throws <see cref="OnnxModelMismatchException"/> as in <see cref="Run"/>, naming the shapes of
    /// <paramref name="boundInputs"/> (what the caller bound; used for that message only).
    /// </summary>
    public void RunWithBinding(OrtIoBinding binding, CancellationToken cancellationToken = default, IReadOnlyDictionary<string, OrtValue>? boundInputs = null, string? failureHint = null)
    {
        ArgumentNullException.ThrowIfNull(binding);
        Execute(
            runOptions =>
            {
                _session.RunWithBinding(runOptions, binding);
                binding.SynchronizeBoundOutputs();
                return true;
            },
            () => boundInputs is null ? "the bound inputs" : string.Join(", ", boundInputs.Select(DescribeValue)),
            failureHint,
            cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="run"/> with run options that cancelling <paramref name="cancellationToken"/> terminates; ONNX
    /// Runtime's failure becomes one line naming the model, <paramref name="describeInputs"/> and <paramref name="failureHint"/>.
    /// </summary>
    private T Execute<T>(Func<RunOptions, T> run, Func<string> describeInputs, string? failureHint, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.CanBeCanceled
            ? cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, runOptions)
            : default;
        try
        {
            return run(runOptions);
        }
        catch (OnnxRuntimeException ex) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException($"Run of '{ModelDescription}' was cancelled.", ex, cancellationToken);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new OnnxModelMismatchException(
                $"ONNX Runtime could not run the model '{ModelDescription}' on {describeInputs()}: {OneLine(ex.Message)}{(failureHint is null ? "" : " " + failureHint)}",
                ex);
        }
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string DescribeValue(KeyValuePair<string, OrtValue> input)
    {
        if (input.Value.OnnxType != OnnxValueType.ONNX_TYPE_TENSOR)
        {
            return $"{input.Key}: {input.Value.OnnxType}";
        }

        var info = input.Value.GetTensorTypeAndShape();
        return $"{input.Key}: {info.ElementDataType}[{string.Join(",", info.Shape)}]";
    }

    /// <summary>Copies a float32 or float16 tensor out as float32 values (row-major) and returns its shape.</summary>
    public static float[] ReadFloatTensor(OrtValue value, out long[] shape)
    {
        ArgumentNullException.ThrowIfNull(value);
        var info = value.GetTensorTypeAndShape();
        shape = info.Shape;
        switch (info.ElementDataType)
        {
            case TensorElementType.Float:
                return value.GetTensorDataAsSpan<float>().ToArray();
            case TensorElementType.Float16:
                var halves = value.GetTensorDataAsSpan<Float16>();
                var result = new float[halves.Length];
                for (var i = 0; i < halves.Length; i++)
                {
                    result[i] = halves[i].ToFloat();
                }

                return result;
            default:
                throw new OnnxModelMismatchException($"Expected a Float or Float16 tensor, got {info.ElementDataType}.");
        }
    }

    private static Float16[] ToFloat16(float[] values)
    {
        var result = new Float16[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            result[i] = (Float16)values[i];
        }

        return result;
    }

    private NodeMetadata GetMetadata(IReadOnlyDictionary<string, NodeMetadata> side, string name, string sideName) =>
        side.TryGetValue(name, out var metadata)
            ? metadata
            : throw new OnnxModelMismatchException($"The model '{ModelDescription}' has no {sideName} '{name}'; it has: {string.Join(", ", side.Keys)}.");

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _session.Dispose();
    }
}
