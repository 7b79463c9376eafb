using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OvDiff.Onnx;

/// <summary>
/// Which pretrained models OvDiff uses and where they come from (<c>configs/models.json</c>): for each role (sd15,
/// clip-vit-b16, dino-vitb8) a Hugging Face repository, its files, their sizes and SHA-256 where known, and the signature
/// each ONNX file must have. Immutable; <see cref="Default"/> is the copy built into this assembly.
/// </summary>
public sealed record ModelManifest(IReadOnlyList<ModelRole> Roles, string Source)
{
    /// <summary>The <c>format</c> value this version reads.</summary>
    public const string FormatVersion = "ovdiff-models/1";

    private const string ResourceName = "OvDiff.Onnx.models.json";

    private static readonly Lazy<ModelManifest> BuiltIn = new(() =>
    {
        using Stream stream = typeof(ModelManifest).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The built-in model manifest ({ResourceName}) is missing from {typeof(ModelManifest).Assembly.GetName().Name}.");
        return Parse(stream, "configs/models.json (built in)");
    });

    /// <summary>The manifest built into OvDiff.Onnx (a copy of the repository's <c>configs/models.json</c>).</summary>
    public static ModelManifest Default => BuiltIn.Value;

    /// <summary>The role called <paramref name="name"/>; an unknown name throws <see cref="ArgumentException"/> listing the known ones.</summary>
    public ModelRole this[string name] =>
        Roles.FirstOrDefault(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown model role '{name}' in {Source}. Known: {string.Join(", ", Roles.Select(r => r.Name))}.", nameof(name));

    /// <summary>Reads a manifest file; errors name the file and the JSON path of the bad value.</summary>
    public static ModelManifest Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Model manifest '{path}' does not exist.", path);
        }

        using FileStream stream = File.OpenRead(path);
        return Parse(stream, path);
    }

    /// <summary>Parses a manifest from <paramref name="json"/>; <paramref name="source"/> names it in errors.</summary>
    public static ModelManifest Parse(Stream json, string source)
    {
        ArgumentNullException.ThrowIfNull(json);
        ManifestDto dto;
        try
        {
            dto = JsonSerializer.Deserialize<ManifestDto>(json, JsonOptions) ?? throw new InvalidDataException($"{source}: the manifest is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: {ex.Message}", ex);
        }

        if (dto.Format != FormatVersion)
        {
            throw new InvalidDataException($"{source}: 'format' is '{dto.Format}', expected '{FormatVersion}'.");
        }

        var roles = new List<ModelRole>();
        for (int r = 0; r < (dto.Roles?.Count ?? 0); r++)
        {
            roles.Add(dto.Roles![r].ToRole($"{source}: roles[{r}]"));
        }

        if (roles.Count == 0)
        {
            throw new InvalidDataException($"{source}: 'roles' is empty.");
        }

        string? duplicate = roles.GroupBy(r => r.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1)?.Key;
        return duplicate is null ? new ModelManifest(roles, source) : throw new InvalidDataException($"{source}: role '{duplicate}' is listed twice.");
    }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowDuplicateProperties = false,
    };

    private sealed class ManifestDto
    {
        public string? Format { get; set; }

        public string? Description { get; set; }

        public List<RoleDto>? Roles { get; set; }
    }

    private sealed class RoleDto
    {
        public string? Name { get; set; }

        public string? Description { get; set; }

        public string? Repository { get; set; }

        public string? Revision { get; set; }

        public string? License { get; set; }

        public List<FileDto>? Files { get; set; }

        public ModelRole ToRole(string where)
        {
            string name = Require(Name, where, "name");
            if (name.Contains('/') || name.Contains('\\') || name.StartsWith('.'))
            {
                throw new InvalidDataException($"{where}.name '{name}' must be a plain folder name.");
            }

            string repository = Require(Repository, where, "repository");
            var files = new List<ModelFileEntry>();
            for (int f = 0; f < (Files?.Count ?? 0); f++)
            {
                files.Add(Files![f].ToEntry($"{where}.files[{f}]", repository, Revision ?? "main"));
            }

            if (files.Count == 0)
            {
                throw new InvalidDataException($"{where}.files is empty.");
            }

            return new ModelRole(name, Description ?? "", repository, Revision ?? "main", License, files);
        }
    }

    private sealed class FileDto
    {
        public string? Path { get; set; }

        public string? Repository { get; set; }

        public bool? Required { get; set; }

        public string? Note { get; set; }

        public long? Size { get; set; }

        public string? Sha256 { get; set; }

        public long? ApproximateBytes { get; set; }

        public SignatureDto? Onnx { get; set; }

        public ModelFileEntry ToEntry(string where, string repository, string revision)
        {
            string path = Require(Path, where, "path").Replace('\\', '/');
            if (System.IO.Path.IsPathRooted(path) || path.Split('/').Any(p => p is "" or "." or ".."))
            {
                throw new InvalidDataException($"{where}.path '{path}' must be a relative path inside the repository.");
            }

            if (Sha256 is { } sha && (sha.Length != 64 || !sha.All(Uri.IsHexDigit)))
            {
                throw new InvalidDataException($"{where}.sha256 '{sha}' is not 64 hex digits.");
            }

            if (Size is < 0)
            {
                throw new InvalidDataException($"{where}.size {Size} is negative.");
            }

            return new ModelFileEntry(path, Repository ?? repository, revision, Required ?? true, Size, Sha256?.ToLowerInvariant(), ApproximateBytes, Note, Onnx?.ToSignature($"{where}.onnx"));
        }
    }

    private sealed class SignatureDto
    {
        public List<TensorDto>? Inputs { get; set; }

        public List<TensorDto>? Outputs { get; set; }

        public List<string>? Tensors { get; set; }

        public List<OperatorDto>? Operators { get; set; }

        public OnnxSignature ToSignature(string where) => new(
            (Inputs ?? []).Select((t, i) => t.ToRequirement($"{where}.inputs[{i}]")).ToArray(),
            (Outputs ?? []).Select((t, i) => t.ToRequirement($"{where}.outputs[{i}]")).ToArray(),
            Tensors ?? [])
        {
            Operators = (Operators ?? []).Select((o, i) => o.ToRequirement($"{where}.operators[{i}]")).ToArray(),
        };
    }

    private sealed class OperatorDto
    {
        public string? Type { get; set; }

        public int? AtLeast { get; set; }

        public string? Why { get; set; }

        public OperatorRequirement ToRequirement(string where) =>
            AtLeast is > 0 ? new OperatorRequirement(Require(Type, where, "type"), AtLeast.Value, Why)
            : throw new InvalidDataException($"{where}.atLeast must be a positive count.");
    }

    private sealed class TensorDto
    {
        public string? Name { get; set; }

        public List<string>? Types { get; set; }

        public List<JsonElement>? Shape { get; set; }

        public List<int>? Ranks { get; set; }

        public bool? Optional { get; set; }

        public List<TensorDto>? AnyOf { get; set; }

        public TensorRequirement ToRequirement(string where)
        {
            if (AnyOf is { Count: > 0 })
            {
                if (Name is not null || Types is not null || Shape is not null || Ranks is not null)
                {
                    throw new InvalidDataException($"{where}: 'anyOf' cannot be combined with name, types, shape or ranks.");
                }

                return new TensorRequirement(AnyOf.Select((t, i) => t.ToSpec($"{where}.anyOf[{i}]")).ToArray(), Optional ?? false);
            }

            if (AnyOf is not null)
            {
                throw new InvalidDataException($"{where}.anyOf is empty.");
            }

            return new TensorRequirement([ToSpec(where)], Optional ?? false);
        }

        private TensorSpecification ToSpec(string where)
        {
            string name = Require(Name, where, "name");
            if (Types is not { Count: > 0 })
            {
                throw new InvalidDataException($"{where}.types is missing: give one or more of {string.Join(", ", TensorSpecification.ElementTypeNames.Keys)}.");
            }

            var types = Types.Select(t => TensorSpecification.ElementTypeNames.TryGetValue(t, out TensorElementType type)
                ? type
                : throw new InvalidDataException($"{where}.types: unknown element type '{t}'; known: {string.Join(", ", TensorSpecification.ElementTypeNames.Keys)}.")).ToArray();
            if (Shape is not null && Ranks is not null)
            {
                throw new InvalidDataException($"{where}: give 'shape' or 'ranks', not both.");
            }

            if (Shape is not null)
            {
                var dims = Shape.Select((d, i) => d.ValueKind switch
                {
                    JsonValueKind.String => new TensorDimension(null, d.GetString()),
                    JsonValueKind.Number when d.TryGetInt64(out long n) && n > 0 => new TensorDimension(n, null),
                    _ => throw new InvalidDataException($"{where}.shape[{i}] is {d}: use a positive size or a name (any size)."),
                }).ToArray();
                return new TensorSpecification(name, types, [dims]);
            }

            if (Ranks is { Count: > 0 })
            {
                return new TensorSpecification(name, types, Ranks.Select(r => r >= 0
                    ? Enumerable.Range(0, r).Select(i => new TensorDimension(null, null)).ToArray()
                    : throw new InvalidDataException($"{where}.ranks: {r} is negative.")).ToArray());
            }

            throw new InvalidDataException($"{where}: give 'shape' (e.g. [\"batch\", 77]) or 'ranks' (e.g. [0, 1]).");
        }
    }

    private static string Require(string? value, string where, string key) =>
        string.IsNullOrWhiteSpace(value) ? throw new InvalidDataException($"{where}.{key} is missing.") : value;
}

/// <summary>One model role: a Hugging Face repository and the files OvDiff needs from it.</summary>
/// <param name="Name">Role and local folder name (sd15, clip-vit-b16, dino-vitb8).</param>
/// <param name="Description">What the role is used for.</param>
/// <param name="Repository">Hub repository (owner/name).</param>
/// <param name="Revision">Branch, tag or commit.</param>
/// <param name="License">The model's licence, for display.</param>
/// <param name="Files">The files, each at the same relative path locally as in the repository.</param>
public sealed record ModelRole(string Name, string Description, string Repository, string Revision, string? License, IReadOnlyList<ModelFileEntry> Files)
{
    /// <summary>The file at <paramref name="path"/> (repository-relative); throws naming the role's files when absent.</summary>
    public ModelFileEntry File(string path) =>
        Files.FirstOrDefault(f => f.Path == path)
        ?? throw new ArgumentException($"Model role '{Name}' has no file '{path}'; it has: {string.Join(", ", Files.Select(f => f.Path))}.", nameof(path));

    /// <summary>The file as a <see cref="HubModelFile"/> whose local path is <c>{role}/{path}</c>.</summary>
    public HubModelFile HubFile(string path)
    {
        ModelFileEntry entry = File(path);
        return new HubModelFile(entry.Repository, entry.Path, $"{Name}/{entry.Path}", entry.Revision);
    }

    /// <summary>Sum of the known or approximate sizes of the files (required only, or all).</summary>
    public long ApproximateBytes(bool requiredOnly = true) =>
        Files.Where(f => f.Required || !requiredOnly).Sum(f => f.Size ?? f.ApproximateBytes ?? 0);
}

/// <summary>One file of a role.</summary>
/// <param name="Path">Path inside the repository, '/'-separated; also the path under the role's local folder.</param>
/// <param name="Repository">Hub repository (usually the role's; a file may come from another one).</param>
/// <param name="Revision">Branch, tag or commit.</param>
/// <param name="Required">False for files only some features need (missing ones are reported, not errors).</param>
/// <param name="Size">Exact size in bytes, checked when given.</param>
/// <param name="Sha256">SHA-256 (lower-case hex), checked when given.</param>
/// <param name="ApproximateBytes">For display and the free-space check only.</param>
/// <param name="Note">Why the file is optional, or other remarks.</param>
/// <param name="Onnx">The signature an ONNX file must have; null for other files.</param>
public sealed record ModelFileEntry(
    string Path,
    string Repository,
    string Revision,
    bool Required,
    long? Size,
    string? Sha256,
    long? ApproximateBytes,
    string? Note,
    OnnxSignature? Onnx);

/// <summary>The inputs and outputs an ONNX file must have, intermediate tensors OvDiff reads from it, and operators it must contain.</summary>
public sealed record OnnxSignature(IReadOnlyList<TensorRequirement> Inputs, IReadOnlyList<TensorRequirement> Outputs, IReadOnlyList<string> Tensors)
{
    /// <summary>Minimum counts of operator types (e.g. the UNet's Softmax nodes, absent from fused-attention exports).</summary>
    public IReadOnlyList<OperatorRequirement> Operators { get; init; } = [];
}

/// <summary>At least <paramref name="AtLeast"/> nodes of <paramref name="Type"/> (ONNX op type); <paramref name="Why"/> explains a shortfall.</summary>
public sealed record OperatorRequirement(string Type, int AtLeast, string? Why);

/// <summary>One required (or optional) input/output: any one of <paramref name="Alternatives"/> must be present.</summary>
public sealed record TensorRequirement(IReadOnlyList<TensorSpecification> Alternatives, bool Optional)
{
    /// <inheritdoc/>
    public override string ToString() => string.Join(" or ", Alternatives) + (Optional ? " (optional)" : "");
}

/// <summary>One tensor's name, allowed element types and allowed shapes (each a list of dimensions).</summary>
public sealed record TensorSpecification(string Name, IReadOnlyList<TensorElementType> ElementTypes, IReadOnlyList<IReadOnlyList<TensorDimension>> Shapes)
{
    /// <summary>Element type names used in the manifest (ONNX's lower-case names) and what they mean.</summary>
    public static IReadOnlyDictionary<string, TensorElementType> ElementTypeNames { get; } = new Dictionary<string, TensorElementType>(StringComparer.OrdinalIgnoreCase)
    {
        ["float32"] = TensorElementType.Float,
        ["float16"] = TensorElementType.Float16,
        ["bfloat16"] = TensorElementType.BFloat16,
        ["float64"] = TensorElementType.Double,
        ["int64"] = TensorElementType.Int64,
        ["int32"] = TensorElementType.Int32,
        ["int8"] = TensorElementType.Int8,
        ["uint8"] = TensorElementType.UInt8,
        ["bool"] = TensorElementType.Bool,
    };

    /// <summary>The manifest's name of an element type.</summary>
    public static string NameOf(TensorElementType type) =>
        ElementTypeNames.FirstOrDefault(p => p.Value == type).Key ?? type.ToString().ToLowerInvariant();

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {string.Join("|", ElementTypes.Select(NameOf))}{string.Join(" or ", Shapes.Select(s => "[" + string.Join(",", s) + "]"))}";
}

/// <summary>A dimension: a fixed size, or free (optionally named, e.g. "batch").</summary>
public readonly record struct TensorDimension(long? Size, string? Name)
{
    /// <inheritdoc/>
    public override string ToString() => Size is { } size ? size.ToString(CultureInfo.InvariantCulture) : Name ?? "?";
}
