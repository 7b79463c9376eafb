using OvDiff.Core.Features;
using System.Collections.Concurrent;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using OvDiff.Imaging;
using OvDiff.Onnx;

namespace OvDiff.Experiments;

/// <summary>Object-centred crop descriptors: a box of the image squashed to 224 x 224, ResNet18 layer 4 mean-pooled, unit length.</summary>
internal static class Crops
{
    public static readonly int Size = int.Parse(Environment.GetEnvironmentVariable("EXP_CROP") ?? "224", System.Globalization.CultureInfo.InvariantCulture);

    private static readonly ConcurrentDictionary<string, RgbImage> Images = new();
    private static readonly ConcurrentDictionary<(string, int, int, int, int), float[]> Descriptors = new();
    private static readonly ThreadLocal<ResNet18FeatureExtractor> Extractor = new(() => new ResNet18FeatureExtractor(new ResNet18Options { Layers = ResNet18Layers.Layer4 }));

    public static string VocRoot { get; set; } = "";

    public static RgbImage Image(string id) => Images.GetOrAdd(id, i => ImageDecoder.Decode(Path.Combine(VocRoot, "JPEGImages", i + ".jpg")));

    /// <summary>Descriptor of the pixel box [x0, x1) x [y0, y1) of the original image.</summary>
    public static float[] Describe(string id, int x0, int y0, int x1, int y1)
        => Descriptors.GetOrAdd((id, x0, y0, x1, y1), key =>
        {
            RgbImage image = Image(id);
            RgbImage crop = image.Crop(x0, y0, Math.Max(x1 - x0, 1), Math.Max(y1 - y0, 1));
            RgbImage scaled = Resampling.ResizeImage(crop, Size, Size, ImageFilter.Lanczos3);
            FeatureMap map = Extractor.Value!.Extract(scaled);
            var mean = new float[map.Channels];
            for (long cell = 0; cell < map.CellCount; cell++)
            {
                System.Numerics.Tensors.TensorPrimitives.Add(mean, map.Data.AsSpan((int)(cell * map.Channels), map.Channels), mean);
            }

            Matrix.NormalizeRows(mean, 1, mean.Length, 1e-6f);
            return mean;
        });

    /// <summary>
    /// The crop descriptor of each support image's object of each of its classes (the box of the fit's cells of that class,
    /// after the fold's <see cref="CoreMultiTag.FitCleaned"/>), in support order, and each class's unit mean of them (index
    /// 1..20; zero where a class has none).
    /// </summary>
    public static (List<(int Class, float[] D)> Crops, float[][] Means) OfSupport(Fold fold)
    {
        var labels = CellProbe.SupportLabels(fold.Support);
        var perImage = new List<(int Class, float[] D)>[labels.Count];
        Parallel.For(0, labels.Count, new ParallelOptions { MaxDegreeOfParallelism = 2 }, i =>
        {
            (ImageRecord image, int[] cellLabels) = labels[i];
            perImage[i] = [];
            foreach (int c in fold.Support[i].Classes)
            {
                if (BoxOfCells(image, [.. cellLabels.Select(l => l == c)]) is { } b)
                {
                    perImage[i].Add((c, Describe(image.Id, b.X0, b.Y0, b.X1, b.Y1)));
                }
            }
        });
        List<(int Class, float[] D)> crops = [.. perImage.SelectMany(p => p)];
        int ch = fold.Test[0].Features.Channels;
        var means = Enumerable.Range(0, Engine.Labels).Select(_ => new float[ch]).ToArray();
        foreach ((int c, float[] d) in crops)
        {
            System.Numerics.Tensors.TensorPrimitives.Add(means[c], d, means[c]);
        }

        foreach (float[] m in means)
        {
            Matrix.NormalizeRows(m, 1, ch, 1e-6f);
        }

        return (crops, means);
    }

    /// <summary>The pixel box of the grid cells in <paramref name="mask"/>, grown by <paramref name="margin"/> of its size each side; null if empty.</summary>
    public static (int X0, int Y0, int X1, int Y1)? BoxOfCells(ImageRecord image, bool[] mask, double margin = 0.1)
    {
        int gw = image.Features.Width, gh = image.Features.Height;
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i])
            {
                minX = Math.Min(minX, i % gw);
                maxX = Math.Max(maxX, i % gw);
                minY = Math.Min(minY, i / gw);
                maxY = Math.Max(maxY, i / gw);
            }
        }

        if (maxX < 0)
        {
            return null;
        }

        double sx = (double)image.Width / gw, sy = (double)image.Height / gh;
        return Grow(image, minX * sx, minY * sy, (maxX + 1) * sx, (maxY + 1) * sy, margin);
    }

    /// <summary>The pixel box of ground-truth label <paramref name="cls"/>.</summary>
    public static (int X0, int Y0, int X1, int Y1)? BoxOfTruth(ImageRecord image, int cls, double margin = 0.1)
    {
        int minX = int.MaxValue, minY = int.MaxValue, maxX = -1, maxY = -1;
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                if (image.Truth[(y * image.Width) + x] == cls)
                {
                    minX = Math.Min(minX, x);
                    maxX = Math.Max(maxX, x);
                    minY = Math.Min(minY, y);
                    maxY = Math.Max(maxY, y);
                }
            }
        }

        return maxX < 0 ? null : Grow(image, minX, minY, maxX + 1, maxY + 1, margin);
    }

    private static (int, int, int, int) Grow(ImageRecord image, double x0, double y0, double x1, double y1, double margin)
    {
        double mx = (x1 - x0) * margin, my = (y1 - y0) * margin;
        int a = (int)Math.Max(0, Math.Floor(x0 - mx)), b = (int)Math.Max(0, Math.Floor(y0 - my));
        int c = (int)Math.Min(image.Width, Math.Ceiling(x1 + mx)), d = (int)Math.Min(image.Height, Math.Ceiling(y1 + my));
        return (a, b, Math.Max(c, a + 1), Math.Max(d, b + 1));
    }
}
