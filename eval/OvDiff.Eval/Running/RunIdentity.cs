using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Datasets;

namespace OvDiff.Eval.Running;

/// <summary>
/// Implemented by a segmenter that can say what, beyond the eval config, decides its predictions: the model file's
/// content hash, its feature extractors, the segmentation options in force after the config was applied. These parts
/// join the <see cref="RunIdentity"/>, so that <c>--resume</c> and <c>eval merge</c> refuse a refitted model at the same
/// path, or other options.
/// </summary>
public interface IIdentifiedSegmenter : ISegmenter
{
    /// <summary>Named parts (key -> value, values short or hashes); keys must not start with "config." or "dataset".</summary>
    IReadOnlyDictionary<string, string> IdentityParts { get; }
}

/// <summary>
/// Everything that changes a run's predictions or scores, as named parts: the effective config after --set overrides
/// (one part per leaf key; the run's name and output settings excluded), the split's ids, the prediction folder or the
/// segmenter's own parts (<see cref="IIdentifiedSegmenter"/>). Saved in each counts file; a resume or merge whose
/// identity differs is refused with the differing parts named.
/// </summary>
public sealed class RunIdentity
{
    private const int ShownValueLength = 120;

    /// <summary>Creates an identity from its parts.</summary>
    public RunIdentity(IReadOnlyDictionary<string, string> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        Parts = new SortedDictionary<string, string>(parts.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal), StringComparer.Ordinal);
    }

    /// <summary>The parts, sorted by key.</summary>
    public IReadOnlyDictionary<string, string> Parts { get; }

    /// <summary>A short hash of all parts.</summary>
    public string Fingerprint
    {
        get
        {
            var text = new StringBuilder();
            foreach ((string key, string value) in Parts)
            {
                text.Append(key).Append('=').Append(value).Append('\n');
            }

            return Hash(text.ToString());
        }
    }

    /// <summary>
    /// The identity of a run of <paramref name="config"/> on <paramref name="dataset"/>, scoring the folder
    /// <paramref name="predictionsDir"/> or else <paramref name="segmenter"/>.
    /// </summary>
    public static RunIdentity For(EvalConfig config, IEvalDataset dataset, string? predictionsDir, ISegmenter? segmenter)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(dataset);
        var parts = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["dataset"] = dataset.Description,
            ["dataset.classes"] = string.Join(", ", dataset.ClassNames),
            ["dataset.ignoreIndex"] = dataset.IgnoreIndex.ToString(CultureInfo.InvariantCulture),
            ["dataset.ids"] = string.Create(CultureInfo.InvariantCulture, $"{dataset.Ids.Count} ids, sha256 {Hash(string.Join('\n', dataset.Ids))}"),
        };

        JsonObject effective = JsonNode.Parse(ConfigLoader.ToJson(config))!.AsObject();
        effective.Remove("name");
        effective.Remove("output");
        if (predictionsDir is not null)
        {
            // A folder of label maps: the segmenter and its protocol play no part.
            effective.Remove("segmenter");
            effective.Remove("protocol");
            parts["predictions"] = Path.GetFullPath(predictionsDir);
        }

        Flatten(effective, "config.", parts);
        if (predictionsDir is null && segmenter is IIdentifiedSegmenter identified)
        {
            foreach ((string key, string value) in identified.IdentityParts)
            {
                parts[key] = value;
            }
        }

        return new RunIdentity(parts);
    }

    /// <summary>Adds the non-null leaves of <paramref name="node"/> as parts "prefix.key" (arrays as compact JSON).</summary>
    public static void Flatten(JsonNode? node, string prefix, IDictionary<string, string> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (node is JsonObject obj)
        {
            foreach ((string key, JsonNode? child) in obj)
            {
                Flatten(child, prefix + key + ".", parts);
            }
        }
        else if (node is not null)
        {
            // A null leaf is left out: in a config it means the same as an absent key.
            parts[prefix.TrimEnd('.')] = node.ToJsonString();
        }
    }

    /// <summary>What differs between this identity (<paramref name="thisName"/>) and <paramref name="other"/> (<paramref name="otherName"/>): one entry per part; empty when they are the same run.</summary>
    public IReadOnlyList<string> Differences(RunIdentity other, string thisName, string otherName)
    {
        ArgumentNullException.ThrowIfNull(other);
        var differences = new List<string>();
        foreach (string key in Parts.Keys.Union(other.Parts.Keys).Order(StringComparer.Ordinal))
        {
            string? mine = Parts.GetValueOrDefault(key), theirs = other.Parts.GetValueOrDefault(key);
            if (!string.Equals(mine, theirs, StringComparison.Ordinal))
            {
                differences.Add($"{key}: {Show(mine)} {thisName}, {Show(theirs)} {otherName}");
            }
        }

        return differences;
    }

    private static string Show(string? value) => value is null ? "(absent)" : value.Length <= ShownValueLength ? value : value[..ShownValueLength] + "…";

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
}
