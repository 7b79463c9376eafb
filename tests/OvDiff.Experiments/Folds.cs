namespace OvDiff.Experiments;

/// <summary>How the 16 support images per class are picked from a pool.</summary>
internal enum Picking
{
    /// <summary>As `ovdiff support from-labels`: images tagged with the class alone first, then any; each image lists only the classes it was picked for.</summary>
    AloneFirst,

    /// <summary>As from-labels, but each picked image lists all its tags.</summary>
    AloneFirstAllTags,

    /// <summary>The first 16 images by id that show the class; each lists all its tags.</summary>
    ById,
}

/// <summary>A support list (image, listed classes) and the test images.</summary>
internal sealed record Fold(string Name, List<(ImageRecord Image, int[] Classes)> Support, List<ImageRecord> Test)
{
    /// <summary>Per class 1..20 (index c - 1): the share of the support images listing it (the product's PrototypeModel.SupportImageShares).</summary>
    public double[] TagShares()
    {
        var shares = new double[Engine.Labels - 1];
        foreach ((_, int[] classes) in Support)
        {
            foreach (int c in classes)
            {
                shares[c - 1] += 1.0 / Support.Count;
            }
        }

        return shares;
    }

    /// <summary>Per label (0 unused): the product's tag-prior factors x <paramref name="minimumArea"/> (SupportEvidencePrefilter.AreaThresholds).</summary>
    public double[] TagThresholds(float minimumArea, float prior) =>
        [0, .. OvDiff.Core.Segmentation.SupportEvidencePrefilter.AreaThresholds(minimumArea, prior, TagShares(), new bool[Engine.Labels - 1]).Select(t => (double)t)];
}

internal static class Folds
{
    /// <summary>Picks support from <paramref name="pool"/> (in id order).</summary>
    public static List<(ImageRecord Image, int[] Classes)> Pick(IReadOnlyList<ImageRecord> pool, Picking picking, int perClass)
    {
        var chosen = new Dictionary<ImageRecord, SortedSet<int>>();
        for (int c = 1; c < Engine.Labels; c++)
        {
            IEnumerable<ImageRecord> order = picking == Picking.ById
                ? pool.Where(r => r.Tags.Contains(c))
                : pool.Where(r => r.Tags.Length == 1 && r.Tags[0] == c).Concat(pool.Where(r => r.Tags.Length > 1 && r.Tags.Contains(c)));
            foreach (ImageRecord r in order.Take(perClass))
            {
                if (!chosen.TryGetValue(r, out SortedSet<int>? set))
                {
                    chosen[r] = set = [];
                }

                set.Add(c);
            }
        }

        return pool.Where(chosen.ContainsKey)
            .Select(r => (r, picking == Picking.AloneFirst ? chosen[r].ToArray() : r.Tags))
            .ToList();
    }

    /// <summary>k folds of the split (by a seeded hash of the id): test = one fold, pool = the others.</summary>
    public static IEnumerable<Fold> CrossValidation(IReadOnlyList<ImageRecord> all, int folds, int seed, Picking picking, int perClass)
    {
        var assignment = all.ToDictionary(r => r, r => (int)(Hash(r.Id, seed) % (uint)folds));
        for (int k = 0; k < folds; k++)
        {
            var pool = all.Where(r => assignment[r] != k).ToList();
            var test = all.Where(r => assignment[r] == k).ToList();
            yield return new Fold($"s{seed}f{k}", Pick(pool, picking, perClass), test);
        }
    }

    /// <summary>The six folds every setting was chosen on: seeds 1 and 2, 3 folds each, 16 support images per class.</summary>
    public static List<Fold> SixFolds(IReadOnlyList<ImageRecord> all, Picking picking)
        => [.. new[] { 1, 2 }.SelectMany(seed => CrossValidation(all, 3, seed, picking, 16))];

    /// <summary>Support picked from the whole split, tested on the rest (what eval/run-voc-dev.sh does).</summary>
    public static Fold Holdout(IReadOnlyList<ImageRecord> all, Picking picking, int perClass)
    {
        var support = Pick(all, picking, perClass);
        var used = support.Select(s => s.Image).ToHashSet();
        return new Fold("holdout", support, all.Where(r => !used.Contains(r)).ToList());
    }

    private static uint Hash(string id, int seed)
    {
        uint h = 2166136261u ^ (uint)seed;
        foreach (char ch in id)
        {
            h = (h ^ ch) * 16777619u;
        }

        h ^= h >> 13;
        h *= 0x5bd1e995;
        h ^= h >> 15;
        return h;
    }
}
