using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using OvDiff.Core.Segmentation;

namespace OvDiff.ML;

/// <summary>
/// Everything a fitted OvDiff transformer needs to run in a fresh process: the feature extractor names, the inference
/// options and the prototype model. Carried inside the ML.NET model zip as a byte vector.
/// </summary>
/// <remarks>
/// Binary format: 8 bytes magic "OVDIFFST"; int32 state version; int32 N; N bytes UTF-8 JSON
/// (<c>{"OvDiffVersion", "FeatureExtractors", "Segmentation", "ImageFolder", "ImageColumnName", "SkipBadImages"}</c>; the last
/// three may be absent); the rest is a <see cref="PrototypeModelSerializer"/> model.
/// </remarks>
public sealed record OvDiffModelState(IReadOnlyList<string> FeatureExtractors, SegmentationOptions Segmentation, PrototypeModel Model)
{
    /// <summary>The state format this code writes.</summary>
    public const int StateVersion = 1;

    private static readonly byte[] Magic = "OVDIFFST"u8.ToArray();

    private static readonly JsonSerializerOptions JsonOptions = new() { Converters = { new JsonStringEnumConverter() } };

    /// <summary>Folder against which relative image paths are resolved at transform time (null: as given).</summary>
    public string? ImageFolder { get; init; }

    /// <summary>The user's image column (a path or encoded-bytes column), named in errors. Null in models saved before it was recorded.</summary>
    public string? ImageColumnName { get; init; }

    /// <summary>Whether an unreadable image (empty or missing path, corrupt bytes) gets an empty label map instead of an error.</summary>
    public bool SkipBadImages { get; init; }

    /// <summary>The OvDiff version that wrote this state (informational).</summary>
    public string OvDiffVersion { get; init; } = CurrentVersion;

    /// <summary>This assembly's informational version.</summary>
    public static string CurrentVersion { get; } =
        typeof(OvDiffModelState).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Serialises the state.</summary>
    public byte[] ToBytes()
    {
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, Encoding.UTF8, leaveOpen: true))
        {
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(new Header(OvDiffVersion, FeatureExtractors.ToArray(), Segmentation, ImageFolder, ImageColumnName, SkipBadImages), JsonOptions);
            writer.Write(Magic);
            writer.Write(StateVersion);
            writer.Write(json.Length);
            writer.Write(json);
        }

        PrototypeModelSerializer.Write(Model, memory);
        return memory.ToArray();
    }

    /// <summary>Parses a state; errors are <see cref="InvalidDataException"/>s naming <paramref name="sourceName"/>.</summary>
    public static OvDiffModelState FromBytes(byte[] bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var memory = new MemoryStream(bytes, writable: false);
        using var reader = new BinaryReader(memory, Encoding.UTF8, leaveOpen: true);
        try
        {
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
            {
                throw new InvalidDataException($"'{sourceName}' does not hold an OvDiff model state (bad magic bytes).");
            }

            int version = reader.ReadInt32();
            if (version < 1 || version > StateVersion)
            {
                throw new InvalidDataException($"'{sourceName}' holds OvDiff state version {version}; this OvDiff ({CurrentVersion}) reads 1 to {StateVersion}.");
            }

            int length = reader.ReadInt32();
            if (length <= 0 || length > bytes.Length)
            {
                throw new InvalidDataException($"'{sourceName}' has a corrupt OvDiff state header.");
            }

            Header header = JsonSerializer.Deserialize<Header>(reader.ReadBytes(length), JsonOptions)
                ?? throw new InvalidDataException($"'{sourceName}' has an empty OvDiff state header.");
            CheckHeader(header, sourceName);
            PrototypeModel model = PrototypeModelSerializer.Read(memory, sourceName);
            return new OvDiffModelState(header.FeatureExtractors, header.Segmentation, model) 
            {
                OvDiffVersion = header.OvDiffVersion ?? "unknown",
                ImageFolder = header.ImageFolder,
                ImageColumnName = header.ImageColumnName,
                SkipBadImages = header.SkipBadImages ?? false,
            };
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"'{sourceName}' is truncated: the OvDiff state ends early.", ex);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{sourceName}' has a corrupt OvDiff state header: {ex.Message}", ex);
        }
    }

    private static void CheckHeader(Header header, string sourceName)
    {
        if (header.FeatureExtractors is null || header.FeatureExtractors.Any(string.IsNullOrEmpty) || header.Segmentation?.Windows is null)
        {
            throw new InvalidDataException($"'{sourceName}' has an incomplete OvDiff state header: feature extractor names or segmentation options are missing.");
        }

        try
        {
            header.Segmentation.Validate();
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new InvalidDataException($"'{sourceName}' has invalid segmentation options in its OvDiff state header: {ex.Message}", ex);
        }
    }

    private sealed record Header(string? OvDiffVersion, string[] FeatureExtractors, SegmentationOptions Segmentation, string? ImageFolder, string? ImageColumnName, bool? SkipBadImages);
}
