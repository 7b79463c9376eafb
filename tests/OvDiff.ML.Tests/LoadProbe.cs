using System.Diagnostics;

namespace OvDiff.ML.Tests;

/// <summary>
/// Runs tests/OvDiff.ML.LoadProbe, a separate process that only calls <c>mlContext.Model.Load</c> on a zip and transforms
/// images, and asserts it gave the expected label names and label maps.
/// </summary>
internal static class LoadProbe
{
    public static void AssertSameLabelMaps(string zip, string workFolder, string[] images, string labelNames, IReadOnlyList<(int Width, int Height, byte[] Labels)> expected)
    {
        string probe = Path.Combine(AppContext.BaseDirectory.Replace("OvDiff.ML.Tests", "OvDiff.ML.LoadProbe", StringComparison.Ordinal), "OvDiff.ML.LoadProbe.dll");
        Assert.True(File.Exists(probe), $"Probe not built: {probe}");
        string output = Path.Combine(workFolder, $"probe-{Guid.NewGuid():N}.bin");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string arg in new[] { probe, zip, output }.Concat(images))
        {
            start.ArgumentList.Add(arg);
        }

        using (Process process = Process.Start(start)!)
        {
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"Probe failed ({process.ExitCode}): {stderr}");
        }

        using var reader = new BinaryReader(File.OpenRead(output));
        Assert.Equal(labelNames, reader.ReadString());
        foreach ((int width, int height, byte[] labels) in expected)
        {
            Assert.Equal(width, reader.ReadInt32());
            Assert.Equal(height, reader.ReadInt32());
            Assert.Equal(labels, reader.ReadBytes(width * height));
        }
    }
}
