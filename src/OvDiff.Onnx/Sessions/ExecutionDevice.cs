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

    /// <summary>
    /// Throws <see cref="ExecutionProviderUnavailableException"/> now when <paramref name="options"/> asks for an execution
    /// provider that cannot be loaded (CUDA on the CPU build, or without CUDA's libraries) and may not fall back to the CPU,
    /// so that a command can refuse before it writes anything; the check creates session options only, no session.
    /// </summary>
    public static void EnsureAvailable(OnnxRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        OnnxModelSession.CreateSessionOptions(options, out _).Dispose();
    }

    /// <summary>The <c>--device</c> spelling of <paramref name="options"/>.</summary>
    public static string Describe(OnnxRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.ExecutionProvider == ExecutionProviderKind.Cuda ? $"cuda:{options.CudaDeviceId}" : "cpu";
    }
}
