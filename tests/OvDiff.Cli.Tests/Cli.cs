using OvDiff.Cli.Commands;
using SkiaSharp;

namespace OvDiff.Cli.Tests;

/// <summary>Runs <c>ovdiff</c> in process as <c>Program</c> does (through the one error policy), and makes inputs for it.</summary>
internal static class Cli
{
    /// <summary>Runs the command line; returns the exit code and what it wrote to stdout and stderr.</summary>
    public static (int Exit, string Stdout, string Stderr) Invoke(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = CommandLineApp.RunAsync(args, stdout, stderr).GetAwaiter().GetResult();
        return (exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs the command line and asserts it succeeded; returns stdout.</summary>
    public static string Run(params string[] args)
    {
        (int exit, string stdout, string stderr) = Invoke(args);
        Assert.True(exit == 0, $"ovdiff {string.Join(' ', args)} exited {exit}: {stderr}");
        return stdout;
    }

    /// <summary>
    /// Runs the command line and asserts it failed on bad input as users must see it: exit code 1 and exactly one
    /// line, "error: ...", with no stack trace. Returns that line.
    /// </summary>
    public static string Fails(params string[] args)
    {
        (int exit, _, string stderr) = Invoke(args);
        string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(exit == 1, $"ovdiff {string.Join(' ', args)} exited {exit}, not 1: {stderr}");
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: ", StringComparison.Ordinal), $"expected one 'error:' line, got:\n{stderr}");
        return lines[0];
    }

    /// <summary>Writes a deterministic photo-like image (gradients, a disc, noise) as JPEG or PNG by extension.</summary>
    public static void WriteImage(string path, int width, int height, int seed = 1)
    {
        var random = new Random(seed);
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                bool disc = Math.Pow(x - (width / 2.0), 2) + Math.Pow(y - (height / 2.0), 2) < Math.Pow(Math.Min(width, height) / 3.0, 2);
                byte r = (byte)Math.Clamp((disc ? 220 : 255.0 * x / width) + random.Next(-20, 20), 0, 255);
                byte g = (byte)Math.Clamp((disc ? 40 : 255.0 * y / height) + random.Next(-20, 20), 0, 255);
                byte b = (byte)Math.Clamp((disc ? 40 + (seed * 30 % 200) : 128) + random.Next(-20, 20), 0, 255);
                bitmap.SetPixel(x, y, new SKColor(r, g, b));
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        SKEncodedImageFormat format = path.EndsWith(".png", StringComparison.OrdinalIgnoreCase) ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg;
        using SKData data = bitmap.Encode(format, 90);
        File.WriteAllBytes(path, data.ToArray());
    }

    /// <summary>Fits a two-class model (cat, dog; one synthetic support image each, class means) into <paramref name="folder"/>; returns its path.</summary>
    public static string FitTinyModel(string folder)
    {
        WriteImage(Path.Combine(folder, "support", "cat", "c.jpg"), 160, 120, seed: 1);
        WriteImage(Path.Combine(folder, "support", "dog", "d.jpg"), 160, 120, seed: 2);
        string model = Path.Combine(folder, "tiny.zip");
        Run("fit", "--support", Path.Combine(folder, "support"), "--out", model, "--levels", "mean");
        return model;
    }
}
