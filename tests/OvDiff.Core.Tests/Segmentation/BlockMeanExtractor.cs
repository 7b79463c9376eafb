using OvDiff.Core.Features;
using OvDiff.Core.Images;

namespace OvDiff.Core.Tests.Segmentation;

/// <summary>
/// A small deterministic dense extractor: each stride x stride block (the last row/column of blocks may be partial,
/// grid = ceil(size / stride)) gets feature f = A·m + b, where m is the block's mean (R, G, B) in 0..255 and A is a
/// channels x 3 matrix. With the default A = identity and b = (−100, −100, −100), a pixel (200, 100, 100) at stride 1
/// has feature (100, 0, 0). A real computation, not a mock.
/// </summary>
internal sealed class BlockMeanExtractor : IDenseFeatureExtractor
{
    private readonly double[] _weights;
    private readonly double[] _bias;

    public BlockMeanExtractor(string name = "block", int stride = 1, double[]? weights = null, double[]? bias = null)
    {
        _weights = weights ?? [1, 0, 0, 0, 1, 0, 0, 0, 1];
        _bias = bias ?? [-100, -100, -100];
        Name = name;
        Stride = stride;
        Channels = _weights.Length / 3;
        if (_bias.Length != Channels)
        {
            throw new ArgumentException("bias must have one value per channel");
        }
    }

    public string Name { get; }

    public int Stride { get; }

    public int Channels { get; }

    public long Calls { get; private set; }

    /// <summary>The sizes of the images extracted, in call order.</summary>
    public List<(int Width, int Height)> Sizes { get; } = [];

    public FeatureMap Extract(RgbImage image, CancellationToken cancellationToken = default)
    {
        Calls++;
        Sizes.Add((image.Width, image.Height));
        int gh = (image.Height + Stride - 1) / Stride, gw = (image.Width + Stride - 1) / Stride;
        var data = new float[(long)gh * gw * Channels];
        for (int gy = 0; gy < gh; gy++)
        {
            for (int gx = 0; gx < gw; gx++)
            {
                double r = 0, g = 0, b = 0;
                long n = 0;
                for (int y = gy * Stride; y < Math.Min((gy + 1) * Stride, image.Height); y++)
                {
                    for (int x = gx * Stride; x < Math.Min((gx + 1) * Stride, image.Width); x++)
                    {
                        long p = (((long)y * image.Width) + x) * 3;
                        r += image.Pixels[p];
                        g += image.Pixels[p + 1];
                        b += image.Pixels[p + 2];
                        n++;
                    }
                }

                long cell = (((long)gy * gw) + gx) * Channels;
                for (int c = 0; c < Channels; c++)
                {
                    data[cell + c] = (float)((_weights[(c * 3) + 0] * r / n) + (_weights[(c * 3) + 1] * g / n) + (_weights[(c * 3) + 2] * b / n) + _bias[c]);
                }
            }
        }

        return new FeatureMap(gh, gw, Channels, data);
    }

    public void Dispose()
    {
    }

    /// <summary>An image from a row-major list of (R, G, B) pixels.</summary>
    public static RgbImage Image(int width, int height, params (byte R, byte G, byte B)[] pixels)
    {
        var bytes = new byte[(long)width * height * 3];
        for (int i = 0; i < pixels.Length; i++)
        {
            bytes[i * 3] = pixels[i].R;
            bytes[(i * 3) + 1] = pixels[i].G;
            bytes[(i * 3) + 2] = pixels[i].B;
        }

        return new RgbImage(width, height, bytes);
    }
}
