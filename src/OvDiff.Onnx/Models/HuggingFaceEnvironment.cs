namespace OvDiff.Onnx;

/// <summary>
/// The Hugging Face conventions OvDiff honours, read from the environment as <c>huggingface_hub</c> reads them:
/// <c>HF_ENDPOINT</c> (see <see cref="HuggingFaceDownloaderOptions"/>), <c>HF_TOKEN</c> / <c>HF_TOKEN_PATH</c>,
/// <c>HF_HOME</c> (default <c>~/.cache/huggingface</c>: the token file and the hub cache), <c>HF_HUB_CACHE</c>
/// (default <c>$HF_HOME/hub</c>) and <c>HF_HUB_OFFLINE</c>.
/// </summary>
public static class HuggingFaceEnvironment
{
    /// <summary><c>$HF_HOME</c>, else <c>~/.cache/huggingface</c> (or <c>$XDG_CACHE_HOME/huggingface</c>).</summary>
    public static string Home =>
        Variable("HF_HOME")
        ?? Path.Combine(Variable("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "huggingface");

    /// <summary><c>$HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>: where <c>huggingface-cli download</c> keeps repositories.</summary>
    public static string HubCache => Variable("HF_HUB_CACHE") ?? Path.Combine(Home, "hub");

    /// <summary>True when <c>$HF_HUB_OFFLINE</c> is 1, true, yes or on.</summary>
    public static bool IsOffline => Variable("HF_HUB_OFFLINE")?.ToUpperInvariant() is "1" or "TRUE" or "YES" or "ON";

    /// <summary><c>$HF_TOKEN</c>, else the first line of <c>$HF_TOKEN_PATH</c> (default <c>$HF_HOME/token</c>), else null.</summary>
    public static string? ReadToken()
    {
        if (Variable("HF_TOKEN") is { } token)
        {
            return token.Trim();
        }

        string path = Variable("HF_TOKEN_PATH") ?? Path.Combine(Home, "token");
        try
        {
            return File.Exists(path) && File.ReadLines(path).FirstOrDefault()?.Trim() is { Length: > 0 } stored ? stored : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The file <paramref name="path"/> of <paramref name="repository"/> at <paramref name="revision"/> in the hub cache
    /// (<c>models--owner--name/snapshots/COMMIT/path</c>, the commit read from <c>refs/REVISION</c> unless the revision is
    /// one), or null when it is not there.
    /// </summary>
    public static string? FindInHubCache(string repository, string path, string revision = "main", string? hubCache = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(repository);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string repoFolder = Path.Combine(hubCache ?? HubCache, "models--" + repository.Replace("/", "--", StringComparison.Ordinal));
        string? commit = revision.Length == 40 && revision.All(Uri.IsHexDigit) ? revision : null;
        if (commit is null)
        {
            string reference = Path.Combine(repoFolder, "refs", revision);
            try
            {
                commit = File.Exists(reference) ? File.ReadAllText(reference).Trim() : null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                commit = null;
            }
        }

        if (commit is null || commit.Contains('/') || commit.Contains('\\') || commit.Contains(".."))
        {
            return null;
        }

        string file = Path.Combine(repoFolder, "snapshots", commit, path.Replace('/', Path.DirectorySeparatorChar));
        return File.Exists(file) ? file : null;
    }

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
