using Microsoft.ML;
using Microsoft.ML.Data;
using OvDiff.Testing;

namespace OvDiff.ML.Tests;

/// <summary>
/// Model zips saved by earlier builds keep loading. A zip names the assembly of its CustomMapping with that assembly's
/// version, and Model.Load asks the runtime for at least that version; so the assembly version stays 1.0.0.0 across
/// releases (Directory.Build.props), as ML.NET's does. The fixture was saved by <c>ovdiff fit</c> at commit e8aafbd
/// (before the packages had a version, so its assemblies were the SDK default 1.0.0.0) on two synthetic classes: a red
/// and a blue 64x48 square on a noisy green 128x96 background, two images each.
/// </summary>
[Collection(nameof(SegmenterCacheCollection))]
public sealed class SavedModelCompatibilityTests
{
    [Fact]
    public void ModelSavedByAnEarlierBuild_Loads_AndSegmentsItsClass()
    {
        Assert.Equal(new Version(1, 0, 0, 0), typeof(OvDiffModel).Assembly.GetName().Version);

        var context = new MLContext(seed: 0);
        string zip = Path.Combine(AppContext.BaseDirectory, "Fixtures", "model-saved-by-e8aafbd.zip");
        using var temp = new TempFolder();
        string image = temp.Combine("red-square.png");
        WriteSquareImage(image, red: 200, green: 30, blue: 30);

        using OvDiffModel model = OvDiffModel.Load(context, zip);
        Assert.Equal(["blue", "red"], model.LabelNames.Skip(1).Order().ToArray());
        var (width, height, labels) = Assert.Single(VocFixture.LabelMaps(context, model.Transform(VocFixture.PathView(context, [image]))));
        Assert.Equal((128, 96), (width, height));
        int red = model.LabelNames.ToList().IndexOf("red");
        Assert.Equal(red, labels[(48 * width) + 64]);   // the square's centre
        Assert.Equal(0, labels[(4 * width) + 4]);        // a corner of the green background
    }

    private static void WriteSquareImage(string path, byte red, byte green, byte blue)
    {
        const int Width = 128, Height = 96;
        var bgra = new byte[Width * Height * 4];
        var noise = new Random(0);
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                bool square = y is >= 24 and < 72 && x is >= 32 and < 96;
                int i = ((y * Width) + x) * 4;
                bgra[i] = square ? blue : (byte)(90 + noise.Next(20));
                bgra[i + 1] = square ? green : (byte)(160 + noise.Next(20));
                bgra[i + 2] = square ? red : (byte)(90 + noise.Next(20));
                bgra[i + 3] = 255;
            }
        }

        using MLImage image = MLImage.CreateFromPixels(Width, Height, MLPixelFormat.Bgra32, bgra);
        image.Save(path);
    }
}
