using System.Buffers;
using System.Numerics;
using OvDiff.Core.Images;
using OvDiff.Core.Numerics;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// The label map of score planes given row by row (<see cref="IScoreRows"/>), at the image's size or resampled to it
/// bilinearly on the way (<see cref="BilinearTaps"/>: the bits of Resampling.BilinearPlanar). Per output row, plane by
/// plane with a running best: scores at or below the threshold count as 0, background (plane 0) wins when no plane is
/// above it, ties keep the lower plane and NaN never wins. Then the minimum-class-area rule: planes under that fraction of
/// the pixels are dropped and the rows that held them are labelled again over the rest, until none is left under it (the
/// other rows keep their labels: the best of a subset that holds the winner is the winner). Nothing of image size is
/// materialised but the label map; chunks of rows run in parallel, each keeping per plane the two resampled source rows
/// its next output row needs.
/// </summary>
internal static class RowLabelling
{
    /// <summary>
    /// Labels <paramref name="planes"/> planes of <paramref name="source"/> at <paramref name="width"/> x
    /// <paramref name="height"/>. Plane p holds label <paramref name="labelOfPlane"/>[p] (ascending; null: label p);
    /// <paramref name="active"/> says per plane which stayed active under the area rule (<paramref name="minimumArea"/>, 0: off).
    /// </summary>
    public static LabelMap Label(IScoreRows source, int planes, int width, int height, float threshold, float minimumArea, byte[]? labelOfPlane, out bool[] active)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(planes);
        active = new bool[planes];
        Array.Fill(active, true);
        long pixels = (long)width * height;
        var labels = new byte[checked((int)pixels)];
        BilinearTaps? taps = source.Width == width && source.Height == height ? null : new BilinearTaps(source.Width, width, source.Height, height);
        var job = new Job(source, taps, planes, width, threshold, active, labels);
        job.Rows(Enumerable.Range(0, height).ToArray());

        // Repeated until no class is left under the bound: the pixels of a dropped class go to their next best label,
        // which can bring a class that had none (or too few) in under the bound; it is dropped in turn.
        while (minimumArea > 0)
        {
            var area = new long[planes];
            foreach (byte label in labels)
            {
                area[label]++;
            }

            var dropped = new bool[planes];
            bool any = false;
            for (int l = 1; l < planes; l++)
            {
                if (active[l] && area[l] > 0 && area[l] < minimumArea * pixels)
                {
                    active[l] = false;
                    dropped[l] = any = true;
                }
            }

            if (!any)
            {
                break;
            }

            SearchValues<byte> droppedPlanes = SearchValues.Create([.. Enumerable.Range(0, planes).Where(l => dropped[l]).Select(l => (byte)l)]);
            job.Rows([.. Enumerable.Range(0, height).Where(y => labels.AsSpan(y * width, width).ContainsAny(droppedPlanes))]);
        }

        if (labelOfPlane is not null)
        {
            for (int i = 0; i < labels.Length; i++)
            {
                labels[i] = labelOfPlane[labels[i]];
            }
        }

        return new LabelMap(width, height, labels);
    }

    /// <summary>One labelling: the source, the taps and the active planes, writing into the label map.</summary>
    private sealed record Job(IScoreRows Source, BilinearTaps? Taps, int Planes, int Width, float Threshold, bool[] Active, byte[] Labels)
    {
        /// <summary>Labels the given output rows (ascending), in parallel chunks of consecutive entries.</summary>
        public void Rows(int[] rows)
        {
            Job job = this;
            SpanParallel.For(default, rows.Length, (long)Width * Planes, (_, first, end) =>
            {
                using var worker = new Worker(job);
                foreach (int y in rows.AsSpan(first, end - first))
                {
                    worker.Row(y);
                }
            }, SpanParallel.OutputValuesThreshold);
        }

        /// <summary>One thread's buffers: per plane two resampled source rows, a scratch source row, a value row, the running best.</summary>
        private sealed class Worker : IDisposable
        {
            private readonly Job _job;
            private readonly SourceRowPair[]? _cache;
            private readonly float[] _scratch, _value, _best;
            private readonly int[] _bestPlane;

            public Worker(Job job)
            {
                _job = job;
                _cache = job.Taps is null ? null : Enumerable.Range(0, job.Planes).Select(_ => new SourceRowPair(job.Width)).ToArray();
                _scratch = ArrayPool<float>.Shared.Rent(job.Source.Width);
                _value = ArrayPool<float>.Shared.Rent(job.Width);
                _best = ArrayPool<float>.Shared.Rent(job.Width);
                _bestPlane = ArrayPool<int>.Shared.Rent(job.Width);
            }

            public void Row(int y)
            {
                int width = _job.Width;
                Span<float> best = _best.AsSpan(0, width);
                Span<int> bestPlane = _bestPlane.AsSpan(0, width);
                Background(PlaneRow(0, y), _job.Threshold, best, bestPlane);
                for (int p = 1; p < _job.Planes; p++)
                {
                    if (_job.Active[p])
                    {
                        ArgMaxPlane(PlaneRow(p, y), p, _job.Threshold, best, bestPlane);
                    }
                }

                Span<byte> target = _job.Labels.AsSpan(y * width, width);
                for (int i = 0; i < width; i++)
                {
                    target[i] = (byte)bestPlane[i];
                }
            }

            /// <summary>Output row y of plane p: the source row itself, or the blend of its two resampled source rows.</summary>
            private ReadOnlySpan<float> PlaneRow(int p, int y)
            {
                if (_job.Taps is not { } taps)
                {
                    return _job.Source.Row(p, y, _scratch);
                }

                (int top, int bottom, float h0, float h1) = taps.Vertical(y);
                float[] upper = Resampled(taps, p, top, bottom), lower = Resampled(taps, p, bottom, top);
                Span<float> value = _value.AsSpan(0, _job.Width);
                BilinearTaps.Blend(upper, lower, h0, h1, value);
                return value;
            }

            private float[] Resampled(BilinearTaps taps, int p, int row, int keep)
            {
                if (!_cache![p].TryGet(row, keep, out float[] buffer))
                {
                    taps.Horizontal(_job.Source.Row(p, row, _scratch), buffer);
                }

                return buffer;
            }

            public void Dispose()
            {
                foreach (SourceRowPair pair in _cache ?? [])
                {
                    pair.Dispose();
                }

                ArrayPool<float>.Shared.Return(_scratch);
                ArrayPool<float>.Shared.Return(_value);
                ArrayPool<float>.Shared.Return(_best);
                ArrayPool<int>.Shared.Return(_bestPlane);
            }
        }
    }

    /// <summary>best = background > threshold ? background : 0; every pixel's best plane 0.</summary>
    private static void Background(ReadOnlySpan<float> background, float threshold, Span<float> best, Span<int> bestPlane)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && best.Length >= Vector<float>.Count)
        {
            var limit = new Vector<float>(threshold);
            for (; i <= best.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var s = new Vector<float>(background[i..]);
                Vector.ConditionalSelect(Vector.GreaterThan(s, limit), s, Vector<float>.Zero).CopyTo(best[i..]);
            }
        }

        for (; i < best.Length; i++)
        {
            best[i] = background[i] > threshold ? background[i] : 0f;
        }

        bestPlane.Clear();
    }

    /// <summary>Where plane <paramref name="plane"/>'s thresholded score beats the running best (strict &gt;, so ties keep the lower plane), it becomes the best.</summary>
    private static void ArgMaxPlane(ReadOnlySpan<float> scorePlane, int plane, float threshold, Span<float> bestScore, Span<int> bestPlane)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<float>.Count == Vector<int>.Count)
        {
            var limit = new Vector<float>(threshold);
            var planeVector = new Vector<int>(plane);
            for (; i <= bestScore.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var s = new Vector<float>(scorePlane[i..]);
                s = Vector.ConditionalSelect(Vector.GreaterThan(s, limit), s, Vector<float>.Zero);
                var best = new Vector<float>(bestScore[i..]);
                Vector<int> better = Vector.GreaterThan(s, best);
                Vector.ConditionalSelect(better, s, best).CopyTo(bestScore[i..]);
                Vector.ConditionalSelect(better, planeVector, new Vector<int>(bestPlane[i..])).CopyTo(bestPlane[i..]);
            }
        }

        for (; i < bestScore.Length; i++)
        {
            float s = scorePlane[i];
            s = s > threshold ? s : 0f;
            if (s > bestScore[i])
            {
                bestScore[i] = s;
                bestPlane[i] = plane;
            }
        }
    }
}
