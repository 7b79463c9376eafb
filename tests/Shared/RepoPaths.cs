namespace OvDiff.Testing;

/// <summary>Locates the repository (the folder holding OvDiff.sln) from the test assembly's folder.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindAbove(folder => File.Exists(Path.Combine(folder, "OvDiff.sln")))
        ?? throw new InvalidOperationException("OvDiff.sln not found above the test assembly.");

    public static string Configs => Path.Combine(Root, "configs");

    /// <summary>The nearest folder, walking up from the test assembly's folder, for which <paramref name="matches"/> holds; null if none.</summary>
    public static string? FindAbove(Func<string, bool> matches)
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (matches(folder.FullName))
            {
                return folder.FullName;
            }
        }

        return null;
    }
}
