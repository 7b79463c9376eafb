using OvDiff.Core.Images;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Datasets;
using OvDiff.Imaging;

using OvDiff.Testing;

namespace OvDiff.Eval.Tests.Datasets;

public sealed class DatasetTests
{
    [Fact]
    public void Context59_ReducesZeroLabel_BackgroundBecomesIgnored()
    {
        // Context 60 labels 0 (background), 1, 59, 255 -> Context 59: 255, 0, 58, 255.
        var labels = new Dictionary<string, LabelMap> { ["2008_000001"] = new LabelMap(4, 1, [0, 1, 59, 255]) };
        string[] classes59 = [.. Enumerable.Range(1, 59).Select(i => $"c{i}")];
        using var dataset = new SyntheticDataset(DatasetKind.Context, labels, classes: classes59);
        var config = new DatasetConfig { Kind = DatasetKind.Context, Root = dataset.Root, Split = "val", Classes = classes59, ReduceZeroLabel = true };

        IEvalDataset opened = DatasetFactory.Open(config);
        byte[] buffer = [];
        LabelImageSize size = opened.CreateGroundTruthReader().Read("2008_000001", ref buffer);

        Assert.Equal(["2008_000001"], opened.Ids);
        Assert.Equal(new byte[] { 255, 0, 58, 255 }, buffer.AsSpan(0, size.PixelCount).ToArray());
        Assert.EndsWith(Path.Combine("JPEGImages", "2008_000001.jpg"), opened.GetImagePath("2008_000001"), StringComparison.Ordinal);
    }

    [Fact]
    public void Open_EmptyClassesFile_DatasetExceptionNamingFile()
    {
        var labels = new Dictionary<string, LabelMap> { ["a"] = new LabelMap(1, 1, [0]) };
        using var dataset = new SyntheticDataset(DatasetKind.Voc, labels);
        string classesFile = Path.Combine(dataset.Root, "classes.txt");
        File.WriteAllText(classesFile, "\n  \n");

        var error = Assert.Throws<DatasetException>(() => DatasetFactory.Open(new DatasetConfig { Kind = DatasetKind.Voc, Root = dataset.Root, ClassesFile = classesFile }));
        Assert.Contains($"'{classesFile}' lists no class names", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Context60_ReadsStoredIndices()
    {
        var labels = new Dictionary<string, LabelMap> { ["a"] = new LabelMap(3, 1, [0, 1, 59]) };
        string[] classes60 = [.. Enumerable.Range(0, 60).Select(i => $"c{i}")];
        using var dataset = new SyntheticDataset(DatasetKind.Context, labels, classes: classes60);

        IEvalDataset opened = DatasetFactory.Open(new DatasetConfig { Kind = DatasetKind.Context, Root = dataset.Root, Classes = classes60 });
        byte[] buffer = [];
        opened.CreateGroundTruthReader().Read("a", ref buffer);

        Assert.Equal(new byte[] { 0, 1, 59 }, buffer[..3]);
    }

    [Fact]
    public void LabelFolder_ExplicitFoldersAndSuffixes_AreUsed()
    {
        using var folder = new TempFolder();
        LabelPngWriter.Write(folder.Combine("root", "masks", "q_gt.png"), new LabelMap(2, 1, [1, 0]), LabelPngFormat.Grayscale);
        File.WriteAllText(folder.Combine("root", "test-list.txt"), "q\n");
        var config = new DatasetConfig
        {
            Kind = DatasetKind.LabelFolder, Root = folder.Combine("root"), Split = "test", Classes = ["bg", "fg"],
            ImageDir = "photos", LabelDir = "masks", SplitFile = "{split}-list.txt", ImageSuffix = ".webp", LabelSuffix = "_gt.png",
        };

        IEvalDataset dataset = DatasetFactory.Open(config);
        byte[] labels = [];
        dataset.CreateGroundTruthReader().Read("q", ref labels);

        Assert.Equal(["q"], dataset.Ids);
        Assert.Equal(new byte[] { 1, 0 }, labels[..2]);
        Assert.Equal(folder.Combine("root", "photos", "q.webp"), dataset.GetImagePath("q"));
    }

    [Fact]
    public void EmptySplit_IsAnErrorNamingTheFile()
    {
        using var dataset = new SyntheticDataset(DatasetKind.Voc, new Dictionary<string, LabelMap> { ["a"] = new LabelMap(1, 1, [0]) });
        string splitFile = Path.Combine(dataset.Root, "ImageSets", "Segmentation", "empty.txt");
        File.WriteAllText(splitFile, "\n\n");

        var error = Assert.Throws<DatasetException>(() => DatasetFactory.Open(new DatasetConfig { Root = dataset.Root, Split = "empty", Classes = ["a"] }));

        Assert.Contains(splitFile, error.Message, StringComparison.Ordinal);
        Assert.Contains("empty split", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CocoInstances_PolygonRleAndCompressedRle_RasteriseLargestFirst()
    {
        // A 6x4 image (width 6, height 4). Instances, painted largest area first:
        //  - category 5 (label 2): polygon covering the rectangle x 0..4, y 0..3 (Pillow fills x 0..4, y 0..3), area 20
        //  - category 1 (label 1): uncompressed RLE, column-major, counts [5, 3]: pixels 5..7 = column 1, rows 1..3, area 3
        //  - category 9 (label 3): compressed RLE of counts [22, 2] ("f02" : 22 = 'f'-48, 2 = '2'-48, ...), area 2
        // Expected (rows top to bottom):
        //   2 2 2 2 2 0
        //   2 1 2 2 2 0
        //   2 1 2 2 2 3      <- column 5 rows 2..3 from the compressed RLE:
        //   2 1 2 2 2 3         positions 22, 23 are x = 22 / 4 = 5, y = 22 % 4 = 2 and 3
        using var folder = new TempFolder();
        string compressed = EncodeCompressed([22, 2]);
        File.WriteAllText(folder.Combine("instances.json"), $$"""
        {
          "images": [ { "id": 7, "file_name": "000000000007.jpg", "width": 6, "height": 4 } ],
          "categories": [ { "id": 1, "name": "person" }, { "id": 5, "name": "airplane" }, { "id": 9, "name": "boat" } ],
          "annotations": [
            { "id": 1, "image_id": 7, "category_id": 1, "area": 3, "iscrowd": 1, "segmentation": { "size": [4, 6], "counts": [5, 3] } },
            { "id": 2, "image_id": 7, "category_id": 9, "area": 2, "iscrowd": 1, "segmentation": { "size": [4, 6], "counts": "{{compressed}}" } },
            { "id": 3, "image_id": 7, "category_id": 5, "area": 20, "iscrowd": 0, "segmentation": [[0, 0, 4, 0, 4, 3, 0, 3]] }
          ]
        }
        """);
        var config = new DatasetConfig { Kind = DatasetKind.CocoObject, Root = folder.Path, Annotations = "instances.json" };

        IEvalDataset dataset = DatasetFactory.Open(config);
        byte[] labels = [];
        LabelImageSize size = dataset.CreateGroundTruthReader().Read("000000000007", ref labels);

        Assert.Equal(["background", "person", "airplane", "boat"], dataset.ClassNames);
        Assert.Equal(new LabelImageSize(6, 4), size);
        byte[] expected =
        [
            2, 2, 2, 2, 2, 0,
            2, 1, 2, 2, 2, 0,
            2, 1, 2, 2, 2, 3,
            2, 1, 2, 2, 2, 3,
        ];
        Assert.Equal(expected, labels[..24]);
    }

    [Fact]
    public void CocoMasks_CompressedCountsDecodeWithDifferences()
    {
        // pycocotools stores counts after the second as differences from the count two places back:
        // [3, 100, 4, 90] is stored as 3, 100, 4-3=1, 90-100=-10.
        Assert.Equal(new uint[] { 3, 100, 4, 90 }, CocoMasks.DecodeCompressedCounts(EncodeCompressed([3, 100, 4, 90])));
    }

    [Fact]
    public void CocoMasks_PycocotoolsSquare_CoversHalfOpenBox()
    {
        // pycocotools fills the polygon (1,1)-(3,1)-(3,3)-(1,3) as columns 1..2 and rows 1..2 (area 4, as a COCO box
        // [x, y, w, h] = [1, 1, 2, 2]). On a 5x5 grid, column-major: 6 zeros (column 0 and pixel (1,0)), 2 ones,
        // 3 zeros, 2 ones, 12 zeros.
        uint[] counts = CocoMasks.PolygonToCounts([1, 1, 3, 1, 3, 3, 1, 3], 5, 5);

        Assert.Equal(new uint[] { 6, 2, 3, 2, 12 }, counts);
    }

    [Theory]
    [InlineData(PolygonRasteriser.Pillow, 50_901_018L)]
    [InlineData(PolygonRasteriser.Pycocotools, 50_700_000L)]
    public void CocoMiniRasterisation_AgreesWithProvidedMasks(PolygonRasteriser rasteriser, long atLeast)
    {
        string root = SharedData.RequireFolder("coco-object-mini");
        var config = new DatasetConfig { Kind = DatasetKind.CocoObject, Root = root, ImageDir = "images", Annotations = "instances_val2017_subset.json", SplitFile = "val.txt", PolygonRasteriser = rasteriser };
        IEvalDataset dataset = DatasetFactory.Open(config);
        IGroundTruthReader reader = dataset.CreateGroundTruthReader();
        var png = new LabelPngReader();
        byte[] ours = [], provided = [];
        long total = 0, agree = 0;
        foreach (string id in dataset.Ids)
        {
            LabelImageSize size = reader.Read(id, ref ours);
            Assert.Equal(size, png.ReadInto(Path.Combine(root, "SegmentationClass", id + ".png"), ref provided));
            for (int i = 0; i < size.PixelCount; i++)
            {
                agree += ours[i] == provided[i] ? 1 : 0;
            }

            total += size.PixelCount;
            Assert.True(File.Exists(dataset.GetImagePath(id)), dataset.GetImagePath(id));
        }

        // Measured: with Pillow's fill all 50,901,018 pixels agree (the masks were made with Pillow, largest instance
        // first); with pycocotools' rasteriser 50,711,696 (99.63%) agree (boundaries differ by about a pixel).
        Assert.Equal(188, dataset.Ids.Count);
        Assert.Equal(50_901_018, total);
        Assert.InRange(agree, atLeast, total);
    }

    /// <summary>pycocotools' rleToString, written from maskApi.c, to make compressed-RLE fixtures.</summary>
    private static string EncodeCompressed(uint[] counts)
    {
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < counts.Length; i++)
        {
            long x = counts[i];
            if (i > 2)
            {
                x -= counts[i - 2];
            }

            bool more = true;
            while (more)
            {
                long c = x & 0x1f;
                x >>= 5;
                more = (c & 0x10) != 0 ? x != -1 : x != 0;
                if (more)
                {
                    c |= 0x20;
                }

                text.Append((char)(c + 48));
            }
        }

        return text.ToString();
    }
}
