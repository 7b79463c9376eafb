using OvDiff.Core.Images;

namespace OvDiff.Onnx.Tests;

internal static class TestImages
{
    /// <summary>A deterministic image: smooth gradients plus seeded noise, so features vary across the grid.</summary>
    public static RgbImage Create(int width, int height, int seed = 1)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var i = ((y * width) + x) * 3;
                pixels[i] = (byte)Math.Clamp((255.0 * x / width) + random.Next(-30, 30), 0, 255);
                pixels[i + 1] = (byte)Math.Clamp((255.0 * y / height) + random.Next(-30, 30), 0, 255);
                pixels[i + 2] = (byte)Math.Clamp(128 + (100 * Math.Sin(x * 0.05) * Math.Cos(y * 0.07)) + random.Next(-30, 30), 0, 255);
            }
        }

        return new RgbImage(width, height, pixels);
    }
}
