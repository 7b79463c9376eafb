namespace OvDiff.Core.Segmentation;

/// <summary>The first stage of <see cref="ClipClassSelection"/>: probabilities and the classes passed on to the subset search.</summary>
/// <param name="Probabilities">Softmax over the raw cosine similarities (no temperature), one per class.</param>
/// <param name="Candidates">Indices kept for the subset search, in the reference's order (see <see cref="ClipClassSelection.FirstStage"/>).</param>
public sealed record ClipFirstStage(float[] Probabilities, int[] Candidates);

/// <summary>
/// The reference's CLIP class pre-filter (<c>CLIPClassifierThresh</c> in the official code) on unit embeddings, without the
/// models: a first stage keeps the classes whose softmax probability over the image–prompt cosine similarities is at least
/// 1/C (at most <c>maxClasses</c>; the top ones by similarity when none passes), then every non-empty subset of those is
/// written as one prompt ("a cat and a dog") and the subset whose prompt is most similar to the image wins.
/// </summary>
public static class ClipClassSelection
{
    /// <summary>The reference's cap on first-stage classes (<c>topk=10</c>): at most 2^10 − 1 = 1023 subset prompts.</summary>
    public const int DefaultMaxClasses = 10;

    /// <summary>
    /// The first stage on the cosine similarities of the image with each class prompt. Order of the candidates, as the
    /// reference builds them: ascending class index when 1..<paramref name="maxClasses"/> classes pass; the
    /// <paramref name="maxClasses"/> most probable, most probable first, when more pass; the
    /// <paramref name="maxClasses"/> most similar, most similar first, when none passes. Ties keep the lower index first.
    /// </summary>
    public static ClipFirstStage FirstStage(ReadOnlySpan<float> cosines, int maxClasses = DefaultMaxClasses)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxClasses);
        int count = cosines.Length;
        if (count == 0)
        {
            return new ClipFirstStage([], []);
        }

        float[] probabilities = Softmax(cosines);
        float threshold = 1f / count;
        var passing = Enumerable.Range(0, count).Where(i => probabilities[i] >= threshold).ToList();
        int[] candidates;
        if (passing.Count == 0)
        {
            float[] values = cosines.ToArray();
            candidates = Enumerable.Range(0, count).OrderByDescending(i => values[i]).ThenBy(i => i).Take(maxClasses).ToArray();
        }
        else if (passing.Count > maxClasses)
        {
            candidates = passing.OrderByDescending(i => probabilities[i]).ThenBy(i => i).Take(maxClasses).ToArray();
        }
        else
        {
            candidates = [.. passing];
        }

        return new ClipFirstStage(probabilities, candidates);
    }

    /// <summary>
    /// Every non-empty subset of <paramref name="candidates"/>, as Python's <c>itertools.combinations</c> over sizes 1..n
    /// lists them (by size, then lexicographically by position), each keeping the candidates' order.
    /// </summary>
    public static IEnumerable<int[]> Subsets(IReadOnlyList<int> candidates)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        int n = candidates.Count;
        for (int size = 1; size <= n; size++)
        {
            var positions = Enumerable.Range(0, size).ToArray();
            while (true)
            {
                yield return positions.Select(p => candidates[p]).ToArray();
                int i = size - 1;
                while (i >= 0 && positions[i] == n - size + i)
                {
                    i--;
                }

                if (i < 0)
                {
                    break;
                }

                positions[i]++;
                for (int j = i + 1; j < size; j++)
                {
                    positions[j] = positions[j - 1] + 1;
                }
            }
        }
    }

    /// <summary>The prompt of one subset: each class through <paramref name="template"/> ("{class}" replaced), joined with <paramref name="connector"/>.</summary>
    public static string SubsetPrompt(IEnumerable<string> classNames, string template, string connector)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(template);
        return string.Join(connector, classNames.Select(name => ClassPrompt(template, name)));
    }

    /// <summary>The prompt of one class: <paramref name="template"/> with "{class}" replaced by <paramref name="className"/>.</summary>
    public static string ClassPrompt(string template, string className)
    {
        ArgumentNullException.ThrowIfNull(template);
        return template.Replace("{class}", className, StringComparison.Ordinal);
    }

    /// <summary>The index of the largest value (the first one on ties, as <c>torch.argmax</c>); -1 when empty.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = -1;
        for (int i = 0; i < values.Length; i++)
        {
            if (best < 0 || values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Softmax computed in float64 (max subtracted), returned as float.</summary>
    public static float[] Softmax(ReadOnlySpan<float> values)
    {
        var result = new float[values.Length];
        if (values.Length == 0)
        {
            return result;
        }

        double max = double.NegativeInfinity;
        foreach (float v in values)
        {
            max = Math.Max(max, v);
        }

        double sum = 0;
        var exp = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            exp[i] = Math.Exp(values[i] - max);
            sum += exp[i];
        }

        for (int i = 0; i < values.Length; i++)
        {
            result[i] = (float)(exp[i] / sum);
        }

        return result;
    }
}
