using System.Runtime.InteropServices;

namespace OvDiff.ML;

/// <summary>
/// Gives memory that native code freed back to the operating system. ONNX Runtime allocates a session's weights and
/// arenas with malloc; on glibc, freed blocks stay in the process's arenas, so a released segmenter would keep its
/// hundreds of MiB in the working set (measured: about +50 MiB per load/use/dispose cycle, back to flat after a trim).
/// </summary>
internal static partial class NativeHeap
{
    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Calls glibc's <c>malloc_trim(0)</c> where it exists (Linux with glibc); elsewhere does nothing.</summary>
    public static void Trim()
    {
        if (_unavailable)
        {
            return;
        }

        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            _unavailable = true; // musl and other C libraries have no malloc_trim
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
