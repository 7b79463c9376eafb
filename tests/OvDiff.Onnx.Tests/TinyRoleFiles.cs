using OvDiff.Testing;
using DataType = Onnx.TensorProto.Types.DataType;

namespace OvDiff.Onnx.Tests;

/// <summary>
/// Tiny stand-ins for every file of a manifest role, as a Hub would serve them: ONNX files that declare exactly the
/// manifest's signature (first alternative of each tensor; fixed sizes kept, free ones symbolic) and reference a sibling
/// weights file where the role has one; other files small deterministic bytes.
/// </summary>
internal static class TinyRoleFiles
{
    private static readonly Dictionary<Microsoft.ML.OnnxRuntime.Tensors.TensorElementType, DataType> DataTypes = new()
    {
        [Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float] = DataType.Float,
        [Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16] = DataType.Float16,
        [Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64] = DataType.Int64,
        [Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int32] = DataType.Int32,
    };

    /// <summary>Path (repository-relative) to content of every file of <paramref name="role"/>.</summary>
    public static Dictionary<string, byte[]> Create(ModelRole role)
    {
        using var temp = new TempFolder();
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (ModelFileEntry file in role.Files.Where(f => f.Onnx is not null))
        {
            string path = temp.Combine(file.Path.Split('/'));
            string? folder = Path.GetDirectoryName(file.Path.Replace('/', Path.DirectorySeparatorChar));
            string? weights = role.Files.Select(f => f.Path)
                .FirstOrDefault(p => p != file.Path && Path.GetDirectoryName(p.Replace('/', Path.DirectorySeparatorChar)) == folder && (p.EndsWith(".pb", StringComparison.Ordinal) || p.EndsWith(".onnx_data", StringComparison.Ordinal)));
            OnnxSignature signature = file.Onnx!;
            var inputs = signature.Inputs.Where(r => !r.Optional).Select(r => Tensor(r.Alternatives[0])).ToList();
            var outputs = signature.Outputs.Select(r => (Tensor(r.Alternatives[0]), inputs[0].Name)).ToList();
            TinyOnnx.Write(path, inputs, outputs, signature.Tensors, weights is null ? null : Path.GetFileName(weights),
                operators: signature.Operators.Select(o => (o.Type, o.AtLeast)));
            files[file.Path] = File.ReadAllBytes(path);
            if (weights is not null)
            {
                files[weights] = File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileName(weights)));
            }
        }

        foreach (ModelFileEntry file in role.Files.Where(f => !files.ContainsKey(f.Path)))
        {
            files[file.Path] = System.Text.Encoding.UTF8.GetBytes($"{{\"file\": \"{file.Path}\", \"role\": \"{role.Name}\"}}\n");
        }

        return files;
    }

    /// <summary>The files keyed as <see cref="LoopbackHub"/> serves them: "owner/name/revision/path".</summary>
    public static Dictionary<string, byte[]> AsHub(ModelRole role, IReadOnlyDictionary<string, byte[]> files) =>
        role.Files.ToDictionary(f => $"{f.Repository}/{f.Revision}/{f.Path}", f => files[f.Path], StringComparer.Ordinal);

    private static TinyTensor Tensor(TensorSpecification spec) =>
        new(spec.Name, DataTypes[spec.ElementTypes[0]], spec.Shapes[0].Select(d => d.Size is { } size ? (object?)(int)size : d.Name ?? "d").ToArray());
}
