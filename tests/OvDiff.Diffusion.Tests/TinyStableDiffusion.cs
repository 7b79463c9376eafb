using System.Text.Json;
using OvDiff.Testing;

namespace OvDiff.Diffusion.Tests;

/// <summary>
/// The tiny Stable Diffusion folders exported by PyTorch (Fixtures/make_tiny_sd.py; committed, each file well under 1 MB):
/// <c>opset14-folded</c>, <c>opset17-split</c> (anonymous names, dynamic height and width, scalar float timestep,
/// latent_parameters VAE encoder) and <c>fp16-io</c>. Latents 16x16, images 128x128. Tests copy a folder to a temporary
/// one, since patching writes beside the UNet.
/// </summary>
internal static class TinyStableDiffusion
{
    public static readonly string[] Variants = ["opset14-folded", "opset17-split", "fp16-io"];

    public const int LatentSize = 16;

    public const int ImageSize = 128;

    public static string Source(string variant) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "tiny-sd", variant);

    /// <summary>Copies <paramref name="variant"/> into <paramref name="temp"/> and returns the copy's path.</summary>
    public static string CopyTo(TempFolder temp, string variant)
    {
        var target = temp.Combine(variant);
        CopyFolder(Source(variant), target);
        return target;
    }

    /// <summary>Copies every file under <paramref name="source"/> to the same place under <paramref name="target"/>.</summary>
    public static void CopyFolder(string source, string target)
    {
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }
    }

    /// <summary>The float32 arrays PyTorch computed for the folder's UNet (see make_tiny_sd.py write_reference).</summary>
    public static UNetReference Reference(string variant)
    {
        var bytes = File.ReadAllBytes(Path.Combine(Source(variant), "unet", "reference.bin"));
        var headerLength = BitConverter.ToInt32(bytes, 0);
        using var header = JsonDocument.Parse(bytes.AsMemory(4, headerLength));
        var data = bytes.AsSpan(4 + headerLength);
        var arrays = new Dictionary<string, (long[] Shape, float[] Values)>();
        foreach (var entry in header.RootElement.GetProperty("arrays").EnumerateArray())
        {
            var shape = entry.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var count = (int)shape.Aggregate(1L, (a, b) => a * b);
            var offset = entry.GetProperty("offset").GetInt32();
            var values = new float[count];
            for (var i = 0; i < count; i++)
            {
                values[i] = BitConverter.ToSingle(data.Slice(offset + (4 * i), 4));
            }

            arrays[entry.GetProperty("name").GetString()!] = (shape, values);
        }

        var root = header.RootElement;
        return new UNetReference(root.GetProperty("timestep").GetInt32(), root.GetProperty("token_indices").EnumerateArray().Select(t => t.GetInt64()).ToArray(), arrays);
    }
}

internal sealed record UNetReference(int Timestep, long[] TokenIndices, IReadOnlyDictionary<string, (long[] Shape, float[] Values)> Arrays);
