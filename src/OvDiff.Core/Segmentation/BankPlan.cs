using System.Numerics.Tensors;
using OvDiff.Core.Features;

namespace OvDiff.Core.Segmentation;

/// <summary>The prototypes of one bank selected for matching, as one matrix, with the label each column scores.</summary>
internal sealed class BankPlan
{
    private readonly (int Start, int Length, int Class, bool Background)[] _runs;
    private float[] _normalized = [];
    private float[] _similarity = [];
    private bool[]? _selectedFor;
    private float[] _selectedMatrix = [];
    private int _selectedColumns;
    private (int Start, int Length, int Class, bool Background)[] _selectedRuns = [];

    private BankPlan(PrototypeBank bank, IDenseFeatureExtractor extractor, float[] matrix, int[] prototypeIndices, int[] columnClass, bool[] columnIsBackground)
    {
        Bank = bank;
        PrototypeIndices = prototypeIndices;
        Extractor = extractor;
        Matrix = matrix;
        ColumnClass = columnClass;
        ColumnIsBackground = columnIsBackground;

        // Maximal runs of adjacent columns scoring the same label for the same class (the fitter writes each class's
        // foreground, then background, prototypes together, so a class has two runs): one max-reduction per run.
        var runs = new List<(int, int, int, bool)>();
        for (int start = 0; start < columnClass.Length;)
        {
            int end = start + 1;
            while (end < columnClass.Length && columnClass[end] == columnClass[start] && columnIsBackground[end] == columnIsBackground[start])
            {
                end++;
            }

            runs.Add((start, end - start, columnClass[start], columnIsBackground[start]));
            start = end;
        }

        _runs = [.. runs];
    }

    public PrototypeBank Bank { get; }

    public IDenseFeatureExtractor Extractor { get; }

    public float[] Matrix { get; }

    public int[] ColumnClass { get; }

    public bool[] ColumnIsBackground { get; }

    public int Columns => ColumnClass.Length;

    /// <summary>The bank row of each selected prototype (column), in column order.</summary>
    public int[] PrototypeIndices { get; }

    public static BankPlan Create(PrototypeBank bank, IDenseFeatureExtractor extractor, PrototypeModel model, SegmentationOptions options)
    {
        var selected = new List<int>();
        var stuffForeground = new List<int>();
        var backgroundCount = new int[model.ClassNames.Count];
        for (int p = 0; p < bank.Count; p++)
        {
            PrototypeOrigin origin = bank.Origins[p];
            if ((origin.Level & options.Levels) == PrototypeLevels.None)
            {
                continue;
            }

            if (origin.Role == PrototypeRole.Foreground && model.IsStuff[origin.ClassIndex])
            {
                stuffForeground.Add(p);
            }

            if (origin.Role == PrototypeRole.Background)
            {
                backgroundCount[origin.ClassIndex]++;
            }
        }

        for (int p = 0; p < bank.Count; p++)
        {
            PrototypeOrigin origin = bank.Origins[p];
            if ((origin.Level & options.Levels) == PrototypeLevels.None)
            {
                continue;
            }

            if (origin.Role == PrototypeRole.Background)
            {
                if (!options.UseBackgroundPrototypes || model.IsStuff[origin.ClassIndex])
                {
                    continue;
                }

                // As the reference's filter_proto_bg2allfg, a class with a single background prototype keeps it.
                if (options.StuffBackgroundFilterThreshold > 0 && backgroundCount[origin.ClassIndex] > 1 && stuffForeground.Any(s => Dot(bank.Vector(p), bank.Vector(s)) > options.StuffBackgroundFilterThreshold))
                {
                    continue;
                }
            }

            selected.Add(p);
        }

        var matrix = new float[(long)selected.Count * bank.Channels];
        for (int i = 0; i < selected.Count; i++)
        {
            bank.Vector(selected[i]).CopyTo(matrix.AsSpan(i * bank.Channels, bank.Channels));
        }

        return new BankPlan(
            bank,
            extractor,
            matrix,
            [.. selected],
            selected.Select(p => bank.Origins[p].ClassIndex).ToArray(),
            selected.Select(p => bank.Origins[p].Role == PrototypeRole.Background).ToArray());
    }

    /// <summary>
    /// Label scores on the feature grid: planar, <paramref name="labels"/> planes of grid cells. With
    /// <paramref name="sharedBackground"/> (on this bank's extractor) its parts score as background too.
    /// </summary>
    public float[] Score(FeatureMap features, bool[] candidates, int labels, bool useBackground, SharedBackground? sharedBackground = null)
    {
        Select(candidates);
        int cells = (int)features.CellCount, channels = features.Channels, columns = _selectedColumns;
        Span<float> normalized = Rent(ref _normalized, (long)cells * channels);
        features.Data.CopyTo(normalized);
        Numerics.Matrix.NormalizeRows(normalized, cells, channels, 1e-6f);
        Span<float> similarity = Rent(ref _similarity, (long)cells * columns);
        if (columns > 0)
        {
            Numerics.Matrix.MultiplyByTransposed(normalized, cells, _selectedMatrix, columns, channels, similarity);
        }

        var scores = new float[(long)labels * cells];
        Array.Fill(scores, -1f);
        if (!useBackground)
        {
            scores.AsSpan(0, cells).Clear();
        }

        // Max over each run (exact, order-free up to the sign of a zero, which the +0-initialised sum erases), then
        // max into the label's score with the same strict ">" as a column-by-column scan. Blocks of cells in parallel.
        float[] matches = _similarity;
        (int Start, int Length, int Class, bool Background)[] runs = _selectedRuns;
        const int block = 256;
        ParallelOptions serialWhenSmall = new() { MaxDegreeOfParallelism = (long)cells * columns < (1 << 16) ? 1 : -1 };
        Parallel.For(0, (cells + block - 1) / block, serialWhenSmall, b =>
        {
            int first = b * block, last = Math.Min(first + block, cells);
            foreach ((int start, int length, int cls, bool background) in runs)
            {
                int offset = (background ? 0 : cls + 1) * cells;
                for (int cell = first; cell < last; cell++)
                {
                    float best = TensorPrimitives.Max(matches.AsSpan((cell * columns) + start, length));
                    if (best > scores[offset + cell])
                    {
                        scores[offset + cell] = best;
                    }
                }
            }
        });

        if (useBackground && sharedBackground is not null)
        {
            // Cells × parts cosines (the rows of normalized are unit cells), max into the background plane.
            int parts = sharedBackground.Count;
            var shared = new float[(long)cells * parts];
            Numerics.Matrix.MultiplyByTransposed(normalized, cells, sharedBackground.Vectors, parts, channels, shared);
            for (int cell = 0; cell < cells; cell++)
            {
                scores[cell] = Math.Max(scores[cell], TensorPrimitives.Max(shared.AsSpan(cell * parts, parts)));
            }
        }

        return scores;
    }

    /// <summary>
    /// Keeps only the candidate classes' columns (their runs, in order) for matching: a left-out class would score
    /// −1 anyway, and each cosine is computed on its own, so the kept ones come out the same. The selection is kept while
    /// the next image has the same candidate set.
    /// </summary>
    private void Select(bool[] candidates)
    {
        if (_selectedFor is not null && _selectedFor.AsSpan().SequenceEqual(candidates))
        {
            return;
        }

        int channels = Bank.Channels;
        var runs = new List<(int, int, int, bool)>();
        int columns = 0;
        foreach ((int start, int length, int cls, bool background) in _runs)
        {
            if (candidates[cls])
            {
                runs.Add((columns, length, cls, background));
                columns += length;
            }
        }

        float[] matrix = Matrix;
        if (columns != Columns)
        {
            matrix = new float[(long)columns * channels];
            int target = 0;
            foreach ((int start, int length, int cls, bool _) in _runs)
            {
                if (candidates[cls])
                {
                    Matrix.AsSpan(start * channels, length * channels).CopyTo(matrix.AsSpan(target * channels));
                    target += length;
                }
            }
        }

        _selectedMatrix = matrix;
        _selectedColumns = columns;
        _selectedRuns = [.. runs];
        _selectedFor = (bool[])candidates.Clone();
    }

    private static Span<float> Rent(ref float[] buffer, long length)
    {
        if (buffer.LongLength < length)
        {
            buffer = new float[length];
        }

        return buffer.AsSpan(0, checked((int)length));
    }

    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.Dot(a, b);
}
