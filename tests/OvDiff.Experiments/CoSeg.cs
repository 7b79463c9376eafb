using OvDiff.Core.Numerics;
using OvDiff.Core.Segmentation;

namespace OvDiff.Experiments;

/// <summary>
/// Co-segmentation of the support set: after the class-agnostic split, each single-tag image's cells are checked against
/// its class's foreground and background means over all its class's images, for a few rounds; then the multi-tag fit.
/// </summary>
internal static class CoSeg
{
    public enum Mode
    {
        /// <summary>Foreground cells closer to the class's background mean leave the foreground (to no pool).</summary>
        Clean,

        /// <summary>Foreground cells closer to the class's background mean move to the background.</summary>
        CleanToBackground,

        /// <summary>As <see cref="CleanToBackground"/>, and background cells closer to the foreground mean leave the background.</summary>
        CleanBoth,

        /// <summary>Every cell is foreground when closer to the foreground mean; background stays the split's, minus those.</summary>
        Reassign,

        /// <summary>Background cells closer to the foreground mean (by the margin) join the foreground.</summary>
        Expand,
    }

    public static Protos Fit(IReadOnlyList<(ImageRecord Image, int[] Classes)> support, Mode mode, int rounds, float margin, int iterations = 2, int backgroundParts = 0, bool cleanWithParts = false)
    {
        int ch = support[0].Image.Features.Channels;
        var masks = support.Select(s => { var split = Engine.Split(s.Image); return ((bool[])split.Foreground.Clone(), (bool[])split.Background.Clone()); }).ToList();
        var originalFg = masks.Select(m => (bool[])m.Item1.Clone()).ToList();
        float[]? parts = null;
        if (cleanWithParts)
        {
            var blocks = Enumerable.Range(0, support.Count).Where(i => support[i].Classes.Length == 1).Select(i =>
            {
                float[] cells = [.. Enumerable.Range(0, masks[i].Item2.Length).Where(j => masks[i].Item2[j]).SelectMany(j => support[i].Image.Features.Data.AsSpan(j * ch, ch).ToArray())];
                return (cells, cells.Length / ch);
            }).ToList();
            parts = SharedBackground.Fit("resnet18-layer4", blocks, ch, backgroundParts, 0)?.Vectors;
        }

        for (int round = 0; round < rounds; round++)
        {
            var fgSum = new double[Engine.Labels][];
            var bgSum = new double[Engine.Labels][];
            var fgN = new long[Engine.Labels];
            var bgN = new long[Engine.Labels];
            for (int i = 0; i < support.Count; i++)
            {
                if (support[i].Classes.Length != 1)
                {
                    continue;
                }

                int c = support[i].Classes[0];
                fgSum[c] ??= new double[ch];
                bgSum[c] ??= new double[ch];
                Engine.MaskedSum(support[i].Image.Features, masks[i].Item1, fgSum[c], ref fgN[c]);
                Engine.MaskedSum(support[i].Image.Features, masks[i].Item2, bgSum[c], ref bgN[c]);
            }

            float[]?[] fgMean = new float[]?[Engine.Labels], bgMean = new float[]?[Engine.Labels];
            for (int c = 1; c < Engine.Labels; c++)
            {
                if (fgN[c] > 0 && bgN[c] > 0)
                {
                    fgMean[c] = Unit(Engine.ToVector(fgSum[c], fgN[c]));
                    bgMean[c] = Unit(Engine.ToVector(bgSum[c], bgN[c]));
                }
            }

            for (int i = 0; i < support.Count; i++)
            {
                if (support[i].Classes.Length != 1 || fgMean[support[i].Classes[0]] is not { } f)
                {
                    continue;
                }

                float[] b = bgMean[support[i].Classes[0]]!;
                ImageRecord image = support[i].Image;
                (bool[] fg, bool[] bg) = masks[i];
                var newFg = (bool[])fg.Clone();
                var newBg = (bool[])bg.Clone();
                for (int cell = 0; cell < fg.Length; cell++)
                {
                    ReadOnlySpan<float> u = image.Unit.AsSpan(cell * ch, ch);
                    float sf = System.Numerics.Tensors.TensorPrimitives.Dot(u, f), sb = System.Numerics.Tensors.TensorPrimitives.Dot(u, b);
                    for (int q = 0; parts is not null && q < parts.Length; q += ch)
                    {
                        sb = Math.Max(sb, System.Numerics.Tensors.TensorPrimitives.Dot(u, parts.AsSpan(q, ch)));
                    }

                    switch (mode)
                    {
                        case Mode.Clean when fg[cell] && sf < sb + margin:
                            newFg[cell] = false;
                            break;
                        case Mode.CleanToBackground when fg[cell] && sf < sb + margin:
                            newFg[cell] = false;
                            newBg[cell] = true;
                            break;
                        case Mode.CleanBoth when fg[cell] && sf < sb + margin:
                            newFg[cell] = false;
                            newBg[cell] = true;
                            break;
                        case Mode.CleanBoth when bg[cell] && sf > sb + margin:
                            newBg[cell] = false;
                            break;
                        case Mode.Reassign:
                            newFg[cell] = sf > sb + margin;
                            newBg[cell] = bg[cell] && !newFg[cell];
                            break;
                        case Mode.Expand when !fg[cell] && sf > sb + margin:
                            newFg[cell] = true;
                            newBg[cell] = false;
                            break;
                    }
                }

                // Never empty a support image's foreground: keep the split's then.
                masks[i] = newFg.Contains(true) ? (newFg, newBg) : (originalFg[i], bg);
            }
        }

        return CoreMultiTag.Fit(support, iterations, masks, backgroundParts);
    }

    private static float[] Unit(float[] v)
    {
        Matrix.NormalizeRows(v, 1, v.Length, 1e-6f);
        return v;
    }
}
