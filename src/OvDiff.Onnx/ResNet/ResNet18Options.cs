namespace OvDiff.Onnx;

/// <summary>Which ResNet18 stage(s) give the dense features.</summary>
public enum ResNet18Layers
{
    /// <summary>End of layer 3 (<c>ReLU347_Output_0</c>): 256 channels, stride 16.</summary>
    Layer3,

    /// <summary>End of layer 4 (<c>ReLU393_Output_0</c>): 512 channels, stride 32. The default: best in the baseline measurement.</summary>
    Layer4,

    /// <summary>
    /// End of layer 4 with layer 4's stride removed and its later convolutions dilated by 2 (DeepLab's output stride 16):
    /// 512 channels, stride 16, the same receptive fields and the same values as <see cref="Layer4"/> on every second cell.
    /// </summary>
    Layer4Dilated,

    /// <summary>Layer 3 and layer 4 (bilinearly upsampled to layer 3's grid) concatenated: 768 channels, stride 16.</summary>
    Layer3And4,
}

/// <summary>How the mean image of ResNetPreprocess.onnx (224x224 per pixel, BGR) is applied to images of other sizes.</summary>
public enum ResNet18MeanImageMode
{
    /// <summary>The mean image is bilinearly resized to the image size (exactly the original at 224x224). The default.</summary>
    Resized,

    /// <summary>One mean per channel (the mean image's spatial average), for any size.</summary>
    PerChannel,
}

/// <summary>Options of <see cref="ResNet18FeatureExtractor"/>. Immutable; every default is documented on its property.</summary>
public sealed record ResNet18Options
{
    /// <summary>Shared default instance: layer 4, model files beside the application, CPU.</summary>
    public static ResNet18Options Default { get; } = new();

    /// <summary>Feature layer(s). Default <see cref="ResNet18Layers.Layer4"/>.</summary>
    public ResNet18Layers Layers { get; init; } = ResNet18Layers.Layer4;

    /// <summary>
    /// Path of ResNet18.onnx. Default null: <c>DnnImageModels/ResNet18Onnx/ResNet18.onnx</c> under
    /// <see cref="AppContext.BaseDirectory"/>, where the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 copies it.
    /// </summary>
    public string? ModelPath { get; init; }

    /// <summary>
    /// Path of ResNetPreprocess.onnx (only its MeanImage initializer is read). Default null:
    /// <c>DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx</c> under <see cref="AppContext.BaseDirectory"/>.
    /// </summary>
    public string? PreprocessModelPath { get; init; }

    /// <summary>How the 224x224 mean image is applied at other sizes. Default <see cref="ResNet18MeanImageMode.Resized"/>.</summary>
    public ResNet18MeanImageMode MeanImageMode { get; init; } = ResNet18MeanImageMode.Resized;

    /// <summary>
    /// With <see cref="ResNet18Layers.Layer3And4"/>: scale each layer's part of a cell to unit L2 norm before concatenating,
    /// so both layers weigh equally in a cosine similarity. Default true.
    /// </summary>
    public bool NormalizeLayersBeforeConcatenation { get; init; } = true;

    /// <summary>ONNX Runtime settings (execution provider, threads). Default <see cref="OnnxRuntimeOptions.Default"/> (CPU).</summary>
    public OnnxRuntimeOptions Runtime { get; init; } = OnnxRuntimeOptions.Default;
}
