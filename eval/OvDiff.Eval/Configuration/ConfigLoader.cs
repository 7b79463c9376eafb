using System.Collections;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace OvDiff.Eval.Configuration;

/// <summary>
/// Reads an <see cref="EvalConfig"/> from a JSON file, its bases and <c>--set key=value</c> overrides.
/// <list type="bullet">
/// <item>Layers apply in order: each base (recursively, relative to the file naming it), then the file, then the
/// overrides. Objects merge key by key; arrays and values replace.</item>
/// <item>Every layer is checked on its own: an unknown key, a key given twice, a value of the wrong type or a fit count out of range is a
/// <see cref="ConfigException"/> naming the key and the file (or "--set").</item>
/// <item>Path fields (<see cref="ConfigPathAttribute"/>) given relative in a file resolve against that file's folder;
/// given with --set they resolve against the working directory.</item>
/// <item>Override keys are dotted paths in camelCase (<c>dataset.root</c>, <c>protocol.shortSide</c>); the value is
/// taken as a string for string fields ("null" clears one) and parsed as JSON otherwise (<c>protocol.windows=[{"crop":448,"stride":224}]</c>).</item>
/// </list>
/// </summary>
public static class ConfigLoader
{
    /// <summary>The strict serializer options used for configs (camelCase, unknown members disallowed, comments allowed).</summary>
    public static JsonSerializerOptions SerializerOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>How config text is parsed: comments and trailing commas allowed; a key given twice in one object is an error (not "last wins").</summary>
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        AllowDuplicateProperties = false,
    };

    /// <summary>Loads <paramref name="configPath"/> with its bases, then applies <paramref name="overrides"/> ("key=value").</summary>
    public static EvalConfig Load(string configPath, IEnumerable<string>? overrides = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(configPath);
        return LoadLayers(configPath, overrides);
    }

    /// <summary>The defaults with <paramref name="overrides"/> ("key=value") applied: a config given only on the command line.</summary>
    public static EvalConfig FromOverrides(IEnumerable<string> overrides)
    {
        ArgumentNullException.ThrowIfNull(overrides);
        return LoadLayers(null, overrides);
    }

    private static EvalConfig LoadLayers(string? configPath, IEnumerable<string>? overrides)
    {
        string? fullPath = configPath is null ? null : Path.GetFullPath(configPath);
        var merged = new JsonObject();
        if (fullPath is not null)
        {
            MergeFile(fullPath, merged, []);
        }

        if (overrides is not null)
        {
            foreach (string assignment in overrides)
            {
                ApplyOverride(merged, assignment);
            }
        }

        merged.Remove("base");
        EvalConfig config = Deserialize(merged, "the merged config");
        if (string.IsNullOrEmpty(config.Name) && fullPath is not null)
        {
            config = config with { Name = Path.GetFileNameWithoutExtension(fullPath) };
        }

        return config;
    }

    /// <summary>Writes <paramref name="config"/> as JSON (the effective config, saved beside the reports).</summary>
    public static string ToJson(EvalConfig config) => JsonSerializer.Serialize(config, SerializerOptions);

    private static void MergeFile(string fullPath, JsonObject target, List<string> chain)
    {
        if (chain.Contains(fullPath, StringComparer.Ordinal))
        {
            throw new ConfigException($"{fullPath}: base configs form a cycle ({string.Join(" -> ", chain.Append(fullPath))}).");
        }

        JsonObject layer = ReadObject(fullPath);
        string folder = Path.GetDirectoryName(fullPath)!;
        List<string> bases = ReadBases(layer, fullPath);
        CheckLayer(layer, fullPath, folder);
        foreach (string baseName in bases)
        {
            MergeFile(Path.GetFullPath(Path.Combine(folder, baseName)), target, [.. chain, fullPath]);
        }

        Merge(target, layer);
    }

    private static JsonObject ReadObject(string fullPath)
    {
        string text;
        try
        {
            text = File.ReadAllText(fullPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{fullPath}: cannot read config ({e.Message}).", e);
        }

        if (FindRepeatedKey(text) is (string key, int first, int second))
        {
            throw new ConfigException($"{fullPath}: key '{key}' is given twice (lines {first} and {second}); give each key once.");
        }

        try
        {
            JsonNode? node = JsonNode.Parse(text, documentOptions: DocumentOptions);
            return node as JsonObject ?? throw new ConfigException($"{fullPath}: a config must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{fullPath}: invalid JSON at line {e.LineNumber + 1} ({e.Message}).", e);
        }
    }

    /// <summary>The first key given twice in one object of <paramref name="text"/> (dotted path, 1-based lines of both), or null; invalid JSON is left to the parser.</summary>
    private static (string Key, int FirstLine, int SecondLine)? FindRepeatedKey(string text)
    {
        byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(text);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        var objects = new Stack<(string Path, Dictionary<string, int> Keys)>();
        var containers = new Stack<string>();   // the dotted path of each open object or array
        string? pendingKey = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        string path = containers.Count == 0 ? "" : pendingKey is null ? containers.Peek() : Join(containers.Peek(), pendingKey);
                        containers.Push(path);
                        if (reader.TokenType == JsonTokenType.StartObject)
                        {
                            objects.Push((path, new Dictionary<string, int>(StringComparer.Ordinal)));
                        }

                        pendingKey = null;
                        break;
                    case JsonTokenType.EndObject:
                        objects.Pop();
                        containers.Pop();
                        break;
                    case JsonTokenType.EndArray:
                        containers.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        string name = reader.GetString()!;
                        int line = 1 + utf8.AsSpan(0, (int)reader.TokenStartIndex).Count((byte)'\n');
                        (string objectPath, Dictionary<string, int> keys) = objects.Peek();
                        if (keys.TryGetValue(name, out int firstLine))
                        {
                            return (Join(objectPath, name), firstLine, line);
                        }

                        keys[name] = line;
                        pendingKey = name;
                        break;
                    default:
                        pendingKey = null;
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return null;

        static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;
    }

    private static List<string> ReadBases(JsonObject layer, string source)
    {
        JsonNode? node = layer["base"];
        switch (node)
        {
            case null:
                return [];
            case JsonValue value when value.TryGetValue(out string? single):
                layer["base"] = new JsonArray(single);
                return [single];
            case JsonArray array when array.All(n => n is JsonValue v && v.TryGetValue(out string? _)):
                return [.. array.Select(n => n!.GetValue<string>())];
            default:
                throw new ConfigException($"{source}: key 'base' must be a file name or a list of file names.");
        }
    }

    /// <summary>Checks one layer for unknown keys, wrong types and fit counts out of range, and resolves its relative paths against <paramref name="folder"/>.</summary>
    private static void CheckLayer(JsonObject layer, string source, string folder)
    {
        CheckKeys(layer, typeof(EvalConfig), "", source, folder);
        CheckFitCounts(Deserialize(layer, source).Fit, source);
    }

    /// <summary>
    /// The fit section's counts in range, named by key and layer when not (for <c>eval</c> too, which does not use them:
    /// the config is shared with <c>ovdiff fit</c>). Was: "SharedBackgroundParts ('-1') must be a non-negative value" from
    /// fit once the support images had been checked, and nothing from eval.
    /// </summary>
    private static void CheckFitCounts(FitConfig fit, string source)
    {
        (string Key, int? Value, int Minimum)[] counts =
            [("parts", fit.Parts, 1), ("multiTagRounds", fit.MultiTagRounds, 0), ("cleaningRounds", fit.CleaningRounds, 0), ("sharedBackgroundParts", fit.SharedBackgroundParts, 0)];
        foreach ((string key, int? value, int minimum) in counts)
        {
            if (value < minimum)
            {
                throw new ConfigException($"{source}: key 'fit.{key}' must be {(minimum == 0 ? "0 or more" : $"at least {minimum}")}, got {value}.");
            }
        }
    }

    private static void CheckKeys(JsonObject layer, Type type, string prefix, string source, string folder)
    {
        foreach ((string key, JsonNode? value) in layer.ToList())
        {
            string keyPath = prefix + key;
            PropertyInfo property = FindProperty(type, key)
                ?? throw new ConfigException($"{source}: unknown key '{keyPath}' (known keys here: {string.Join(", ", KnownKeys(type))}).");
            if (property.GetCustomAttribute<ConfigPathAttribute>() is not null && value is JsonValue pathValue && pathValue.TryGetValue(out string? path) && path.Length > 0)
            {
                layer[key] = Path.GetFullPath(Path.Combine(folder, path));
            }

            if (value is JsonObject child && IsConfigRecord(property.PropertyType))
            {
                CheckKeys(child, property.PropertyType, keyPath + ".", source, folder);
            }
            else if (value is JsonArray items && ElementType(property.PropertyType) is { } element && IsConfigRecord(element))
            {
                for (int i = 0; i < items.Count; i++)
                {
                    if (items[i] is JsonObject item)
                    {
                        CheckKeys(item, element, $"{keyPath}[{i}].", source, folder);
                    }
                }
            }
        }
    }

    private static EvalConfig Deserialize(JsonObject node, string source)
    {
        try
        {
            return node.Deserialize<EvalConfig>(SerializerOptions) ?? throw new ConfigException($"{source}: config is null.");
        }
        catch (JsonException e)
        {
            string key = (e.Path ?? "$").TrimStart('$').TrimStart('.');
            throw new ConfigException($"{source}: key '{key}' has a value of the wrong type ({(Expected(key) is { } expected ? $"expected {expected}" : FirstSentence(e.Message))}).", e);
        }
    }

    /// <summary>
    /// What the field at <paramref name="keyPath"/> (a JSON path such as <c>protocol.windows[0].crop</c>) takes, in words, for
    /// a number, a boolean or a string; null otherwise (the serializer's own sentence is shown then). It replaces the
    /// serializer's "could not be converted to System.Nullable`1[System.Int32]".
    /// </summary>
    private static string? Expected(string keyPath)
    {
        Type? type = typeof(EvalConfig);
        foreach (string segment in keyPath.Split('.'))
        {
            int index = segment.IndexOf('[', StringComparison.Ordinal);
            type = type is null ? null : FindProperty(type, index < 0 ? segment : segment[..index])?.PropertyType;
            if (type is not null && index >= 0)
            {
                type = ElementType(type);
            }
        }

        type = type is null ? null : Nullable.GetUnderlyingType(type) ?? type;
        return type is null ? null : Type.GetTypeCode(type) switch
        {
            TypeCode.Int32 => $"a whole number from {int.MinValue} to {int.MaxValue}",
            TypeCode.Int64 => "a whole number",
            TypeCode.Single or TypeCode.Double => "a number",
            TypeCode.Boolean => "true or false",
            TypeCode.String when !type.IsEnum => "a string",
            _ => null,
        };
    }

    /// <summary>Turns "a.b.c=value" into the layer { "a": { "b": { "c": value } } }, checks it like a file layer and merges it.</summary>
    private static void ApplyOverride(JsonObject merged, string assignment)
    {
        int equals = assignment.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new ConfigException($"--set: '{assignment}' is not of the form key=value.");
        }

        string keyPath = assignment[..equals].Trim();
        string[] keys = keyPath.Split('.');
        var layer = new JsonObject();
        JsonObject cursor = layer;
        Type type = typeof(EvalConfig);
        for (int i = 0; i < keys.Length; i++)
        {
            PropertyInfo property = FindProperty(type, keys[i])
                ?? throw new ConfigException($"--set: unknown key '{keyPath}' ('{keys[i]}' is not one of: {string.Join(", ", KnownKeys(type))}).");
            string name = JsonNamingPolicy.CamelCase.ConvertName(property.Name);
            if (i == keys.Length - 1)
            {
                cursor[name] = ParseOverrideValue(property, assignment[(equals + 1)..], keyPath);
                break;
            }

            if (IsStringKeyedDictionary(property.PropertyType))
            {
                if (i != keys.Length - 2)
                {
                    throw new ConfigException($"--set: key '{keyPath}': '{keys[i]}' takes one sub-key ({string.Join('.', keys[..(i + 1)])}.NAME=value).");
                }

                // segmenter.options.pamr=false sets one entry and keeps the others (the segmenter checks the key);
                // a value that is not JSON is a string: segmenter.options.prefilter=none.
                string text = assignment[(equals + 1)..];
                cursor[name] = new JsonObject { [keys[i + 1]] = TryParseJson(text) ?? JsonValue.Create(text) };
                break;
            }

            if (!IsConfigRecord(property.PropertyType))
            {
                throw new ConfigException($"--set: key '{keyPath}': '{keys[i]}' has no sub-keys.");
            }

            var child = new JsonObject();
            cursor[name] = child;
            cursor = child;
            type = property.PropertyType;
        }

        CheckLayer(layer, $"--set {keyPath}", Environment.CurrentDirectory);
        Merge(merged, layer);
    }

    private static JsonNode? ParseOverrideValue(PropertyInfo property, string text, string keyPath)
    {
        Type type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        if (type == typeof(string) || type.IsEnum)
        {
            // "null" clears an optional field (dataset.annotations=null); anything else is the string itself.
            return text == "null" ? null : JsonValue.Create(text);
        }

        try
        {
            return JsonNode.Parse(text, documentOptions: DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new ConfigException($"--set: key '{keyPath}': '{text}' is not {Expected(keyPath) ?? $"a valid {type.Name} value"}.", e);
        }
    }

    private static JsonNode? TryParseJson(string text)
    {
        try
        {
            return JsonNode.Parse(text, documentOptions: DocumentOptions);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsStringKeyedDictionary(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) && type.GetGenericArguments()[0] == typeof(string);

    private static void Merge(JsonObject target, JsonObject layer)
    {
        foreach ((string key, JsonNode? value) in layer.ToList())
        {
            if (value is JsonObject child && target[key] is JsonObject existing)
            {
                Merge(existing, child);
            }
            else
            {
                target[key] = value?.DeepClone();
            }
        }
    }

    private static PropertyInfo? FindProperty(Type type, string key) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .FirstOrDefault(p => string.Equals(JsonNamingPolicy.CamelCase.ConvertName(p.Name), key, StringComparison.Ordinal));

    private static IEnumerable<string> KnownKeys(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name));

    private static bool IsConfigRecord(Type type) => type.IsClass && type.Namespace == typeof(EvalConfig).Namespace;

    private static Type? ElementType(Type type) =>
        type.IsGenericType && typeof(IEnumerable).IsAssignableFrom(type) && type.GetGenericArguments().Length == 1 ? type.GetGenericArguments()[0] : null;

    private static string FirstSentence(string message)
    {
        int end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message.TrimEnd('.') : message[..end];
    }
}
