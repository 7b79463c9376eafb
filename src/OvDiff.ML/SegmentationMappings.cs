using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using OvDiff.Core.Images;
using OvDiff.Core.Segmentation;

namespace OvDiff.ML;

/// <summary>Names of the internal columns of the saved chain; fixed, because CustomMapping rebuilds its schema from attributes.</summary>
internal static class InternalColumns
{
    public const string ImagePath = "__OvDiffImagePath";
    public const string ImageBytes = "__OvDiffImageBytes";
    public const string StateKey = "__OvDiffStateKey";
    public const string State = "__OvDiffState";
    public const string Labels = "__OvDiffLabels";
    public const string Width = "__OvDiffWidth";
    public const string Height = "__OvDiffHeight";
    public const string Scores = "__OvDiffScores";
    public const string PresentLabels = "__OvDiffPresentLabels";
    public const string StateKeyValue = "model";
}

// The row types and factories below are internal: ML.NET creates factories with Activator.CreateInstance and binds rows by
// reflection, neither of which needs them public. Their shapes (column names, types) are part of the saved-model format.

/// <summary>Input of <see cref="StateKeyMapping"/>: nothing (the key is a constant).</summary>
internal sealed class NoColumnsRow
{
}

/// <summary>Output of <see cref="StateKeyMapping"/>: the constant key the state ValueMapping looks up.</summary>
internal sealed class StateKeyRow
{
    [ColumnName(InternalColumns.StateKey)]
    public string StateKey { get; set; } = "";
}

/// <summary>Input of the path mappings: the image path and the model state bytes.</summary>
internal sealed class PathInputRow : ISegmentationInput
{
    [ColumnName(InternalColumns.ImagePath)]
    public string ImagePath { get; set; } = "";

    [ColumnName(InternalColumns.State)]
    [VectorType]
    public byte[] State { get; set; } = [];

    public ImageInput GetImage() => ImageInput.FromPath(ImagePath);
}

/// <summary>Input of the bytes mappings: the encoded image (JPEG, PNG, ...) and the model state bytes.</summary>
internal sealed class BytesInputRow : ISegmentationInput
{
    [ColumnName(InternalColumns.ImageBytes)]
    [VectorType]
    public byte[] ImageBytes { get; set; } = [];

    [ColumnName(InternalColumns.State)]
    [VectorType]
    public byte[] State { get; set; } = [];

    public ImageInput GetImage() => ImageInput.FromBytes(ImageBytes);
}

/// <summary>What a segmentation mapping reads from its input row.</summary>
internal interface ISegmentationInput
{
    byte[] State { get; }

    // A method: ML.NET would take a property for a column.
    ImageInput GetImage();
}

/// <summary>What a segmentation mapping writes to its output row.</summary>
internal interface ISegmentationOutput
{
    /// <summary>Fills the row from a result; null: an image skipped as unreadable (empty label map).</summary>
    void Fill(SegmentationResult? result);
}

/// <summary>Output of the segmentation mappings without scores: the label map and the labels present in it.</summary>
internal class SegmentationOutputRow : SegmentationOutputRowV1
{
    /// <summary>The labels that occur in the label map, ascending (mapped to class-name keys by the chain).</summary>
    [ColumnName(InternalColumns.PresentLabels)]
    [VectorType]
    public byte[] PresentLabels { get; set; } = [];

    public override void Fill(SegmentationResult? result)
    {
        base.Fill(result);
        PresentLabels = Present(Labels);
    }

    private static byte[] Present(byte[] labels)
    {
        Span<bool> seen = stackalloc bool[256];
        foreach (byte label in labels)
        {
            seen[label] = true;
        }

        var present = new List<byte>();
        for (int i = 0; i < seen.Length; i++)
        {
            if (seen[i])
            {
                present.Add((byte)i);
            }
        }

        return [.. present];
    }
}

/// <summary>Output of the segmentation mappings with scores.</summary>
internal sealed class SegmentationWithScoresOutputRow : SegmentationOutputRow
{
    /// <summary>(classes + 1) planes of Height x Width scores.</summary>
    [ColumnName(InternalColumns.Scores)]
    [VectorType]
    public float[] Scores { get; set; } = [];

    public override void Fill(SegmentationResult? result)
    {
        base.Fill(result);
        Scores = result?.Scores ?? [];
    }
}

/// <summary>Supplies the constant key under which the model state is stored (the ValueMapping's only entry).</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class StateKeyMapping : CustomMappingFactory<NoColumnsRow, StateKeyRow>
{
    public const string ContractName = "OvDiff.StateKey.v2";

    public static void Map(NoColumnsRow input, StateKeyRow output) => output.StateKey = InternalColumns.StateKeyValue;

    public override Action<NoColumnsRow, StateKeyRow> GetMapping() => Map;
}

/// <summary>
/// The shared body of the segmentation mapping factories: each <see cref="GetMapping"/> (one per transformer that ML.NET
/// builds or loads) gets its own <see cref="SegmentationRunner"/>, which owns a share of the segmenter for as long as that
/// transformer lives.
/// </summary>
internal abstract class SegmentationMappingFactory<TInput, TOutput> : CustomMappingFactory<TInput, TOutput>
    where TInput : class, ISegmentationInput, new()
    where TOutput : class, ISegmentationOutput, new()
{
    protected abstract bool IncludeScores { get; }

    public override Action<TInput, TOutput> GetMapping() => Create().Map;

    /// <summary>A runner for a new transformer: registered with the <see cref="SegmentationRunner.LoadScope"/> when one is open.</summary>
    public MappingRunner Create()
    {
        var runner = new MappingRunner(IncludeScores);
        SegmentationRunner.LoadScope.Register(runner);
        return runner;
    }

    internal sealed class MappingRunner(bool includeScores) : SegmentationRunner(includeScores)
    {
        public void Map(TInput input, TOutput output) => output.Fill(Segment(input.State, input.GetImage()));
    }
}

/// <summary>Segments the image at the row's path.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class SegmentPathMapping : SegmentationMappingFactory<PathInputRow, SegmentationOutputRow>
{
    public const string ContractName = "OvDiff.SegmentPath.v2";

    protected override bool IncludeScores => false;
}

/// <summary>Segments the image at the row's path, with the score planes.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class SegmentPathWithScoresMapping : SegmentationMappingFactory<PathInputRow, SegmentationWithScoresOutputRow>
{
    public const string ContractName = "OvDiff.SegmentPathWithScores.v2";

    protected override bool IncludeScores => true;
}

/// <summary>Segments the row's encoded image bytes.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class SegmentBytesMapping : SegmentationMappingFactory<BytesInputRow, SegmentationOutputRow>
{
    public const string ContractName = "OvDiff.SegmentBytes.v2";

    protected override bool IncludeScores => false;
}

/// <summary>Segments the row's encoded image bytes, with the score planes.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class SegmentBytesWithScoresMapping : SegmentationMappingFactory<BytesInputRow, SegmentationWithScoresOutputRow>
{
    public const string ContractName = "OvDiff.SegmentBytesWithScores.v2";

    protected override bool IncludeScores => true;
}

// Version 1 of the saved chain (before bytes input and class names): kept so that zips saved by earlier OvDiff versions
// still load. Its chain copies the image column to __OvDiffImagePath, whose StateKey mapping reads it; its output row
// (the label map alone) is the base of the current one.

/// <summary>Input of <see cref="StateKeyMappingV1"/>.</summary>
internal sealed class PathOnlyRowV1
{
    [ColumnName(InternalColumns.ImagePath)]
    public string ImagePath { get; set; } = "";
}

/// <summary>Output of the version 1 segmentation mapping: the label map and its size (an empty map for a skipped image).</summary>
internal class SegmentationOutputRowV1 : ISegmentationOutput
{
    [ColumnName(InternalColumns.Labels)]
    [VectorType]
    public byte[] Labels { get; set; } = [];

    [ColumnName(InternalColumns.Width)]
    public int Width { get; set; }

    [ColumnName(InternalColumns.Height)]
    public int Height { get; set; }

    public virtual void Fill(SegmentationResult? result)
    {
        Labels = result?.Labels.Labels ?? [];
        Width = result?.Labels.Width ?? 0;
        Height = result?.Labels.Height ?? 0;
    }
}

/// <summary>Output of the version 1 segmentation mapping with scores.</summary>
internal sealed class SegmentationWithScoresOutputRowV1 : SegmentationOutputRowV1
{
    [ColumnName(InternalColumns.Scores)]
    [VectorType]
    public float[] Scores { get; set; } = [];

    public override void Fill(SegmentationResult? result)
    {
        base.Fill(result);
        Scores = result?.Scores ?? [];
    }
}

/// <summary>Version 1 of <see cref="StateKeyMapping"/>.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class StateKeyMappingV1 : CustomMappingFactory<PathOnlyRowV1, StateKeyRow>
{
    public const string ContractName = "OvDiff.StateKey.v1";

    public override Action<PathOnlyRowV1, StateKeyRow> GetMapping() => (_, output) => output.StateKey = InternalColumns.StateKeyValue;
}

/// <summary>Version 1 of <see cref="SegmentPathMapping"/>.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class SegmentPathMappingV1 : SegmentationMappingFactory<PathInputRow, SegmentationOutputRowV1>
{
    public const string ContractName = "OvDiff.Segment.v1";

    protected override bool IncludeScores => false;
}

/// <summary>Version 1 of <see cref="SegmentPathWithScoresMapping"/>.</summary>
[CustomMappingFactoryAttribute(ContractName)]
internal sealed class SegmentPathWithScoresMappingV1 : SegmentationMappingFactory<PathInputRow, SegmentationWithScoresOutputRowV1>
{
    public const string ContractName = "OvDiff.SegmentWithScores.v1";

    protected override bool IncludeScores => true;
}
