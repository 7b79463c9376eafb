namespace OvDiff.Core.Sharding;

/// <summary>
/// A deterministic slice of a list of work items (the ids of a split, the images of a support set): shard <see cref="Index"/> (0-based) of <see cref="Count"/> takes the ids at
/// positions p with p mod Count == Index, so shards are disjoint, cover the split and balance across it. Written
/// "i/n" on the command line (Kubernetes' JOB_COMPLETION_INDEX and Slurm's SLURM_ARRAY_TASK_ID with --array=0-(n-1)
/// fit as i directly).
/// </summary>
public readonly record struct ShardSpec
{
    /// <summary>The whole split as one shard.</summary>
    public static readonly ShardSpec Whole = new(0, 1);

    /// <summary>Creates shard <paramref name="index"/> of <paramref name="count"/>.</summary>
    public ShardSpec(int index, int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, count);
        Index = index;
        Count = count;
    }

    /// <summary>0-based shard index.</summary>
    public int Index { get; }

    /// <summary>Number of shards (1 = the whole split).</summary>
    public int Count { get; }

    /// <summary>Parses "i/n" (0 ≤ i &lt; n).</summary>
    public static ShardSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string[] parts = text.Split('/');
        if (parts.Length == 2
            && int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int index)
            && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int count)
            && count >= 1 && index < count)
        {
            return new ShardSpec(index, count);
        }

        throw new FormatException($"Shard '{text}' is not of the form i/n with 0 <= i < n (e.g. 0/4).");
    }

    /// <summary>The items of this shard (ids of a split, units of work), in their order.</summary>
    public IReadOnlyList<T> Select<T>(IReadOnlyList<T> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var selected = new List<T>((ids.Count / Count) + 1);
        for (int position = Index; position < ids.Count; position += Count)
        {
            selected.Add(ids[position]);
        }

        return selected;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Index}/{Count}";
}
