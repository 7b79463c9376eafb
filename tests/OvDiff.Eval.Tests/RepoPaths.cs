namespace OvDiff.Eval.Tests;

/// <summary>Locates the repository (the folder holding OvDiff.sln) from the test assembly's folder.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Configs => Path.Combine(Root, "configs");

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "OvDiff.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("OvDiff.sln not found above the test assembly.");
    }
}
