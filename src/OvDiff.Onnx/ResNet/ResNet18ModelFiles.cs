using System.Collections.Concurrent;
using Google.Protobuf;
using Onnx;

namespace OvDiff.Onnx;

/// <summary>
/// Finds the ResNet18 ONNX files that Microsoft.ML.DnnImageFeaturizer.ResNet18 copies beside the application, and patches
/// ResNet18.onnx once per process: layer 3 and layer 4 become outputs, the input's height and width become symbolic,
/// the 7x7 average pooling (and its fixed-size output) is dropped.
/// </summary>
public static class ResNet18ModelFiles
{
    /// <summary>Name of the model's image input (N, 3, H, W; BGR minus mean).</summary>
    public const string InputName = "Input247";

    /// <summary>Tensor at the end of layer 3: [N, 256, H/16, W/16].</summary>
    public const string Layer3OutputName = "ReLU347_Output_0";

    /// <summary>Tensor at the end of layer 4: [N, 512, H/32, W/32].</summary>
    public const string Layer4OutputName = "ReLU393_Output_0";

    /// <summary>The original 7x7 average-pooled output, [1, 512, 1, 1] at 224x224.</summary>
    public const string PooledOutputName = "Pooling395_Output_0";

    /// <summary>Name of the mean-image initializer in ResNetPreprocess.onnx: [1, 3, 224, 224], BGR.</summary>
    public const string MeanImageName = "MeanImage";

    /// <summary>Side of the square image the original model and mean image were made for.</summary>
    public const int NativeSize = 224;

    private static readonly ConcurrentDictionary<string, Lazy<byte[]>> PatchedModels = new();
    private static readonly ConcurrentDictionary<string, Lazy<float[]>> MeanImages = new();

    /// <summary><c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c> under <see cref="AppContext.BaseDirectory"/>.</summary>
    public static string DefaultModelPath => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");

    /// <summary><c>DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx</c> under <see cref="AppContext.BaseDirectory"/>.</summary>
    public static string DefaultPreprocessModelPath => Path.Combine(AppContext.BaseDirectory, "DnnImageModels", "ResNetPrepOnnx", "ResNetPreprocess.onnx");

    /// <summary>What to do when a ResNet18 file is missing.</summary>
    public const string MissingFileHint =
        "The ResNet18 files come with the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (0.23.1): reference it from the " +
        "application project so that its build copies DnnImageModels/ResNet18Onnx/ResNet18.onnx and " +
        "DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx beside the executable (a published app, single-file too, has them in its publish " +
        "folder: copy its DnnImageModels/ folder along with the executable), or set ResNet18Options.ModelPath and PreprocessModelPath " +
        "(the files are under ~/.nuget/packages/microsoft.ml.dnnimagefeaturizer.resnet18/0.23.1/tools/DnnImageModels/).";

    /// <summary>
    /// The patched ResNet18 model bytes for <paramref name="modelPath"/> (outputs: layer 3 and layer 4; input H and W symbolic).
    /// The surgery runs once per file (path, size and time stamp) and process; later calls return the cached bytes.
    /// </summary>
    public static byte[] GetPatchedModel(string modelPath) => GetPatchedModel(modelPath, dilateLayer4: false);

    /// <summary>
    /// As <see cref="GetPatchedModel(string)"/>; with <paramref name="dilateLayer4"/> layer 4 also loses its stride
    /// (<see cref="OnnxGraphSurgery.DilateStage"/>): its output is [N, 512, H/16, W/16], equal to the original layer 4 on
    /// every second row and column.
    /// </summary>
    public static byte[] GetPatchedModel(string modelPath, bool dilateLayer4)
    {
        var fullPath = RequireFile(modelPath);
        return PatchedModels.GetOrAdd(CacheKey(fullPath) + (dilateLayer4 ? "|dilated" : ""), _ => new Lazy<byte[]>(() => Patch(fullPath, dilateLayer4))).Value;
    }

    /// <summary>The 224x224 BGR mean image of ResNetPreprocess.onnx as planar floats (3 x 224 x 224), read once per file and process.</summary>
    public static ReadOnlyMemory<float> GetMeanImage(string preprocessModelPath)
    {
        var fullPath = RequireFile(preprocessModelPath);
        return MeanImages.GetOrAdd(CacheKey(fullPath), _ => new Lazy<float[]>(() => ReadMeanImage(fullPath))).Value;
    }

    /// <summary>Forgets the cached patched models and mean images (about 60 MB per ResNet18 file).</summary>
    public static void ClearCache()
    {
        PatchedModels.Clear();
        MeanImages.Clear();
    }

    private static string RequireFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        return File.Exists(fullPath) ? fullPath : throw new ModelFileNotFoundException(fullPath, MissingFileHint);
    }

    private static string CacheKey(string fullPath)
    {
        var info = new FileInfo(fullPath);
        return $"{fullPath}|{info.Length}|{info.LastWriteTimeUtc.Ticks}";
    }

    private static byte[] Patch(string fullPath, bool dilateLayer4)
    {
        var model = OnnxGraphSurgery.Load(fullPath, MissingFileHint);
        var graph = model.Graph;
        if (graph.Input.All(i => i.Name != InputName))
        {
            throw new OnnxModelMismatchException(
                $"'{fullPath}' is not the ResNet18 of Microsoft.ML.DnnImageFeaturizer.ResNet18: expected input '{InputName}', " +
                $"found {string.Join(", ", graph.Input.Select(i => i.Name))}.");
        }

        OnnxGraphSurgery.MakeSpatialInputDimensionsSymbolic(model, InputName);
        OnnxGraphSurgery.SetOutputs(model, [Layer3OutputName, Layer4OutputName], fullPath);
        if (dilateLayer4)
        {
            // Layer 4 of ResNet18: the strided 3x3 convolution, the strided 1x1 shortcut and five 3x3 convolutions.
            var changed = OnnxGraphSurgery.DilateStage(model, Layer3OutputName, Layer4OutputName);
            if (changed != 7)
            {
                throw new OnnxModelMismatchException($"'{fullPath}': dilating layer 4 changed {changed} convolutions, expected 7 (ResNet18's layer 4).");
            }
        }

        return model.ToByteArray();
    }

    private static float[] ReadMeanImage(string fullPath)
    {
        var model = OnnxGraphSurgery.Load(fullPath, MissingFileHint);
        var mean = model.Graph.Initializer.FirstOrDefault(t => t.Name == MeanImageName)
            ?? throw new OnnxModelMismatchException($"'{fullPath}' has no initializer '{MeanImageName}'; it has: {string.Join(", ", model.Graph.Initializer.Select(t => t.Name))}.");
        const int expectedCount = 3 * NativeSize * NativeSize;
        var values = mean.FloatData.Count > 0 ? mean.FloatData.ToArray() : ReadRawFloats(mean);
        if (values.Length != expectedCount || mean.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new OnnxModelMismatchException(
                $"'{fullPath}': expected '{MeanImageName}' as float[1,3,{NativeSize},{NativeSize}], got type {mean.DataType} [{string.Join(",", mean.Dims)}].");
        }

        return values;
    }

    private static float[] ReadRawFloats(TensorProto tensor)
    {
        var bytes = tensor.RawData.Span;
        var values = new float[bytes.Length / sizeof(float)];
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
        return values;
    }
}
