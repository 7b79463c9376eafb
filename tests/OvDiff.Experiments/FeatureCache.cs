using OvDiff.Core.Features;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;
using OvDiff.Imaging;
using OvDiff.Onnx;

namespace OvDiff.Experiments;

/// <summary>One VOC image: its features at the inference scale, its ground truth at full size and its tags.</summary>
internal sealed class ImageRecord
{
    public required string Id { get; init; }

    public required int Width { get; init; }

    public required int Height { get; init; }

    public required int ScaledWidth { get; init; }

    public required int ScaledHeight { get; init; }

    public required FeatureMap Features { get; init; }

    /// <summary>Row-normalised features (cells x channels).</summary>
    public required float[] Unit { get; init; }

    public required byte[] Truth { get; init; }

    /// <summary>Present classes (1..20).</summary>
    public required int[] Tags { get; init; }

    /// <summary>Every second pixel of the ground truth in each direction (fast evaluation).</summary>
    public byte[] HalfTruth => _half ??= Subsample();

    public int HalfWidth => (Width + 1) / 2;

    public int HalfHeight => (Height + 1) / 2;

    private byte[]? _half;

    private byte[] Subsample()
    {
        var half = new byte[HalfWidth * HalfHeight];
        for (int y = 0; y < HalfHeight; y++)
        {
            for (int x = 0; x < HalfWidth; x++)
            {
                half[(y * HalfWidth) + x] = Truth[(2 * y * Width) + (2 * x)];
            }
        }

        return half;
    }

    /// <summary>The untransformed record this one was derived from (the split is computed on it).</summary>
    public ImageRecord? Original { get; init; }

    /// <summary>Features of the horizontally flipped image, when cached.</summary>
    public FeatureMap? Flipped { get; init; }

    /// <summary>The same image at another input scale (EXP_CACHE2), when loaded.</summary>
    public ImageRecord? OtherScale { get; set; }
}

/// <summary>Extracts and caches the features of every image of a split once (binary file), and loads them back.</summary>
internal static class FeatureCache
{
    public static List<ImageRecord> Load(string vocRoot, string split, string cachePath, ResNet18Layers layers, bool flipped, int shortSide = 448)
    {
        string[] ids = File.ReadAllLines(Path.Combine(vocRoot, "ImageSets/Segmentation", split + ".txt")).Where(l => l.Length > 0).ToArray();
        if (!File.Exists(cachePath))
        {
            Build(vocRoot, ids, cachePath, layers, flipped, shortSide);
        }

        var records = new List<ImageRecord>(ids.Length);
        using var reader = new BinaryReader(File.OpenRead(cachePath));
        int count = reader.ReadInt32();
        bool hasFlipped = reader.ReadBoolean();
        var png = new LabelPngReader();
        for (int i = 0; i < count; i++)
        {
            string id = reader.ReadString();
            int w = reader.ReadInt32(), h = reader.ReadInt32(), sw = reader.ReadInt32(), sh = reader.ReadInt32();
            FeatureMap map = ReadMap(reader);
            FeatureMap? flip = hasFlipped ? ReadMap(reader) : null;
            LabelMap truth = png.Read(Path.Combine(vocRoot, "SegmentationClass", id + ".png"));
            var tags = new SortedSet<int>();
            foreach (byte b in truth.Labels)
            {
                if (b is > 0 and < 255)
                {
                    tags.Add(b);
                }
            }

            float[] unit = (float[])map.Data.Clone();
            Matrix.NormalizeRows(unit, (int)map.CellCount, map.Channels, 1e-6f);
            records.Add(new ImageRecord { Id = id, Width = w, Height = h, ScaledWidth = sw, ScaledHeight = sh, Features = map, Unit = unit, Truth = truth.Labels, Tags = [.. tags], Flipped = flip });
        }

        return records;
    }

    private static FeatureMap ReadMap(BinaryReader reader)
    {
        int gh = reader.ReadInt32(), gw = reader.ReadInt32(), c = reader.ReadInt32();
        var data = new float[(long)gh * gw * c];
        reader.BaseStream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
        return new FeatureMap(gh, gw, c, data);
    }

    private static void WriteMap(BinaryWriter writer, FeatureMap map)
    {
        writer.Write(map.Height);
        writer.Write(map.Width);
        writer.Write(map.Channels);
        writer.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(map.Data.AsSpan()));
    }

    private static void Build(string vocRoot, string[] ids, string cachePath, ResNet18Layers layers, bool flipped, int shortSide)
    {
        using var extractor = new ResNet18FeatureExtractor(new ResNet18Options { Layers = layers });
        string temp = cachePath + ".tmp";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(cachePath))!);
        using (var writer = new BinaryWriter(File.Create(temp)))
        {
            writer.Write(ids.Length);
            writer.Write(flipped);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            for (int i = 0; i < ids.Length; i++)
            {
                RgbImage image = ImageDecoder.Decode(Path.Combine(vocRoot, "JPEGImages", ids[i] + ".jpg"));
                (int sw, int sh) = Resampling.ShortSideSizeTruncated(image.Width, image.Height, shortSide);
                RgbImage scaled = Resampling.ResizeImage(image, sw, sh, ImageFilter.Lanczos3);
                writer.Write(ids[i]);
                writer.Write(image.Width);
                writer.Write(image.Height);
                writer.Write(sw);
                writer.Write(sh);
                WriteMap(writer, extractor.Extract(scaled));
                if (flipped)
                {
                    WriteMap(writer, extractor.Extract(Flip(scaled)));
                }

                if (i % 50 == 0)
                {
                    Console.Error.WriteLine($"cache {i}/{ids.Length} {clock.Elapsed.TotalSeconds:F0} s");
                }
            }
        }

        File.Move(temp, cachePath, overwrite: true);
    }

    public static RgbImage Flip(RgbImage image)
    {
        var pixels = new byte[image.Pixels.Length];
        for (int y = 0; y < image.Height; y++)
        {
            for (int x = 0; x < image.Width; x++)
            {
                int s = ((y * image.Width) + x) * 3, d = ((y * image.Width) + (image.Width - 1 - x)) * 3;
                pixels[d] = image.Pixels[s];
                pixels[d + 1] = image.Pixels[s + 1];
                pixels[d + 2] = image.Pixels[s + 2];
            }
        }

        return new RgbImage(image.Width, image.Height, pixels);
    }
}
