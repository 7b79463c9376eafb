namespace OvDiff.Onnx;

/// <summary>The <c>--device</c> values of the command line: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
public static class ExecutionDevice
{
    /// <summary>
    /// <paramref name="options"/> (default <see cref="OnnxRuntimeOptions.Default"/>) set to run on <paramref name="device"/>;
    /// an unknown value is an <see cref="ArgumentException"/> naming it. Whether CUDA can actually be loaded is checked when a
    /// session is created (<see cref="ExecutionProviderUnavailableException"/> on a CPU-only build).
    /// </summary>
    public static OnnxRuntimeOptions Parse(string device, OnnxRuntimeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        options ??= OnnxRuntimeOptions.Default;
        string value = device.Trim().ToLowerInvariant();
        if (value == "cpu")
        {
            return options with { ExecutionProvider = ExecutionProviderKind.Cpu };
        }

        if (value == "cuda")
        {
            return options with { ExecutionProvider = ExecutionProviderKind.Cuda, CudaDeviceId = 0 };
        }

        if (value.StartsWith("cuda:", StringComparison.Ordinal)
            && int.TryParse(value["cuda:".Length..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
        {
            return options with { ExecutionProvider = ExecutionProviderKind.Cuda, CudaDeviceId = id };
        }

        throw new ArgumentException($"Unknown device '{device}': use cpu, cuda or cuda:N (N = the GPU's index).", nameof(device));
    }

    /// <summary>The <c>--device</c> spelling of <paramref name="options"/>.</summary>
    public static string Describe(OnnxRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.ExecutionProvider == ExecutionProviderKind.Cuda ? $"cuda:{options.CudaDeviceId}" : "cpu";
    }
}
