namespace OvDiff.Testing;

/// <summary>
/// Finds the real data folder (../shared/data next to the repository): the OVDIFF_DATA environment variable, else the
/// first `shared/data` found walking up from the test assembly's folder. Tests call <see cref="RequireFolder"/>, which
/// skips the test with a clear message where the data is absent (as on a user's machine).
/// </summary>
internal static class SharedData
{
    private static readonly Lazy<string?> RootPath = new(FindRoot);

    public static string? Root => RootPath.Value;

    public static string RequireFolder(string relative)
    {
        string? root = Root;
        if (root is null)
        {
            Assert.Skip("Real data not found: set OVDIFF_DATA or place shared/data beside the repository.");
        }

        string folder = Path.Combine(root, relative);
        if (!Directory.Exists(folder))
        {
            Assert.Skip($"Real data folder '{folder}' is absent.");
        }

        return folder;
    }

    /// <summary>
    /// The <c>--set</c> override that points a shipped config (whose dataset.root is ../../shared/data/...) at this
    /// machine's copy of <paramref name="relative"/>, found as <see cref="RequireFolder"/> finds it (OVDIFF_DATA first):
    /// a test loading a shipped config must pass it, or it reads the data beside the repository instead.
    /// </summary>
    public static string DatasetRootOverride(string relative) => $"dataset.root={RequireFolder(relative)}";

    private static string? FindRoot()
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("OVDIFF_DATA");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return Directory.Exists(fromEnvironment) ? fromEnvironment : null;
        }

        string? parent = RepoPaths.FindAbove(folder => Directory.Exists(Path.Combine(folder, "shared", "data")));
        return parent is null ? null : Path.Combine(parent, "shared", "data");
    }
}
