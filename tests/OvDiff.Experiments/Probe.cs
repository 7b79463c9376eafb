using System.Numerics.Tensors;
using OvDiff.Core.Numerics;

namespace OvDiff.Experiments;

/// <summary>A linear softmax classifier of grid cells (21 labels) trained on the support set's fitted masks.</summary>
internal sealed class CellProbe
{
    private readonly float[] _weights; // labels x channels
    private readonly float[] _bias;
    private readonly int _channels;
    private readonly float _scale;

    private CellProbe(float[] weights, float[] bias, int channels)
    {
        _weights = weights;
        _bias = bias;
        _channels = channels;
        _scale = MathF.Sqrt(channels);
    }

    public static readonly int Epochs = int.Parse(Environment.GetEnvironmentVariable("EXP_PROBE_EPOCHS") ?? "10", System.Globalization.CultureInfo.InvariantCulture);
    public static readonly float L2 = float.Parse(Environment.GetEnvironmentVariable("EXP_PROBE_L2") ?? "1e-4", System.Globalization.CultureInfo.InvariantCulture);
    public static readonly float Balance = float.Parse(Environment.GetEnvironmentVariable("EXP_PROBE_BAL") ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Cell labels of every support image after the last FitCleaned: 0 background, c class c, -1 unused.</summary>
    public static List<(ImageRecord Image, int[] Labels)> SupportLabels(IReadOnlyList<(ImageRecord Image, int[] Classes)> support)
    {
        var masks = CoreMultiTag.LastMasks!;
        var multi = CoreMultiTag.LastMulti!.ToDictionary(m => m.Image, m => m.Labels);
        var result = new List<(ImageRecord, int[])>();
        for (int i = 0; i < support.Count; i++)
        {
            (ImageRecord image, int[] classes) = support[i];
            int cells = (int)image.Features.CellCount;
            var labels = new int[cells];
            if (classes.Length > 1 && multi.TryGetValue(image, out int[]? assigned))
            {
                for (int c = 0; c < cells; c++)
                {
                    labels[c] = assigned[c] > 0 ? assigned[c] - 1 : assigned[c] == 0 ? 0 : -1;
                }
            }
            else
            {
                (bool[] fg, bool[] bg) = masks[i];
                for (int c = 0; c < cells; c++)
                {
                    labels[c] = fg[c] ? classes[0] : bg[c] ? 0 : -1;
                }
            }

            result.Add((image, labels));
        }

        return result;
    }

    public static CellProbe Train(List<(ImageRecord Image, int[] Labels)> data, int seed = 0)
    {
        int ch = data[0].Image.Features.Channels, k = Engine.Labels;
        var rows = new List<(float[] Unit, int Offset, int Label)>();
        var counts = new long[k];
        foreach ((ImageRecord image, int[] labels) in data)
        {
            for (int c = 0; c < labels.Length; c++)
            {
                if (labels[c] >= 0)
                {
                    rows.Add((image.Unit, c * ch, labels[c]));
                    counts[labels[c]]++;
                }
            }
        }

        var classWeight = new float[k];
        for (int l = 0; l < k; l++)
        {
            classWeight[l] = counts[l] == 0 ? 0 : (float)Math.Pow((double)rows.Count / (k * counts[l]), Balance);
        }

        var w = new float[k * ch];
        var b = new float[k];
        var mw = new float[w.Length];
        var vw = new float[w.Length];
        var mb = new float[k];
        var vb = new float[k];
        var gw = new float[w.Length];
        var gb = new float[k];
        var rng = new Random(seed);
        int[] order = [.. Enumerable.Range(0, rows.Count)];
        const int Batch = 1024;
        const float Lr = 1e-3f, B1 = 0.9f, B2 = 0.999f;
        float scale = MathF.Sqrt(ch);
        int step = 0;
        var x = new float[ch];
        var logits = new float[k];
        for (int epoch = 0; epoch < Epochs; epoch++)
        {
            rng.Shuffle(order);
            for (int start = 0; start < order.Length; start += Batch)
            {
                int end = Math.Min(order.Length, start + Batch);
                Array.Clear(gw);
                Array.Clear(gb);
                for (int i = start; i < end; i++)
                {
                    var row = rows[order[i]];
                    TensorPrimitives.Multiply(row.Unit.AsSpan(row.Offset, ch), scale, x);
                    for (int l = 0; l < k; l++)
                    {
                        logits[l] = TensorPrimitives.Dot(w.AsSpan(l * ch, ch), x) + b[l];
                    }

                    TensorPrimitives.SoftMax(logits, logits);
                    float cw = classWeight[row.Label];
                    for (int l = 0; l < k; l++)
                    {
                        float g = cw * (logits[l] - (l == row.Label ? 1f : 0f));
                        if (g != 0)
                        {
                            TensorPrimitives.MultiplyAdd(x, g, gw.AsSpan(l * ch, ch), gw.AsSpan(l * ch, ch));
                            gb[l] += g;
                        }
                    }
                }

                float inv = 1f / (end - start);
                step++;
                float c1 = 1 - MathF.Pow(B1, step), c2 = 1 - MathF.Pow(B2, step);
                for (int j = 0; j < w.Length; j++)
                {
                    float g = (gw[j] * inv) + (L2 * w[j]);
                    mw[j] = (B1 * mw[j]) + ((1 - B1) * g);
                    vw[j] = (B2 * vw[j]) + ((1 - B2) * g * g);
                    w[j] -= Lr * (mw[j] / c1) / (MathF.Sqrt(vw[j] / c2) + 1e-8f);
                }

                for (int l = 0; l < k; l++)
                {
                    float g = gb[l] * inv;
                    mb[l] = (B1 * mb[l]) + ((1 - B1) * g);
                    vb[l] = (B2 * vb[l]) + ((1 - B2) * g * g);
                    b[l] -= Lr * (mb[l] / c1) / (MathF.Sqrt(vb[l] / c2) + 1e-8f);
                }
            }
        }

        return new CellProbe(w, b, ch);
    }

    /// <summary>Softmax probabilities per label on the grid (-1 for labels not in <paramref name="candidates"/>; background always).</summary>
    public GridScores Score(ImageRecord image, bool[]? candidates = null)
    {
        int cells = (int)image.Features.CellCount, k = Engine.Labels, ch = _channels;
        var planes = new float[k * cells];
        var x = new float[ch];
        var logits = new float[k];
        for (int cell = 0; cell < cells; cell++)
        {
            TensorPrimitives.Multiply(image.Unit.AsSpan(cell * ch, ch), _scale, x);
            for (int l = 0; l < k; l++)
            {
                logits[l] = (candidates is null || l == 0 || candidates[l]) ? TensorPrimitives.Dot(_weights.AsSpan(l * ch, ch), x) + _bias[l] : float.NegativeInfinity;
            }

            TensorPrimitives.SoftMax(logits, logits);
            for (int l = 0; l < k; l++)
            {
                planes[(l * cells) + cell] = (candidates is null || l == 0 || candidates[l]) ? logits[l] : -1f;
            }
        }

        return new GridScores(image.Features.Height, image.Features.Width, planes);
    }
}
