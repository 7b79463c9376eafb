using Microsoft.ML.OnnxRuntime.Tensors;

namespace OvDiff.Onnx;

/// <summary>
/// What OvDiff expects of one model input or output: its name, rank and the element types it can handle.
/// A dimension of -1 in <see cref="Dimensions"/> accepts any size (symbolic or fixed).
/// </summary>
public sealed record OnnxTensorSpec(string Name, IReadOnlyList<int> Dimensions, IReadOnlyList<TensorElementType> ElementTypes)
{
    /// <summary>The element types OvDiff converts to and from: float32 and float16.</summary>
    public static IReadOnlyList<TensorElementType> FloatingPoint { get; } = [TensorElementType.Float, TensorElementType.Float16];

    /// <summary>A float32/float16 tensor of the given rank with every dimension free.</summary>
    public static OnnxTensorSpec AnyFloat(string name, int rank) => new(name, Enumerable.Repeat(-1, rank).ToArray(), FloatingPoint);

    /// <summary>Whether the model may lack this tensor (e.g. an <c>attention_mask</c> only some exports have). Default false.</summary>
    public bool Optional { get; init; }

    /// <summary>Rank of the tensor.</summary>
    public int Rank => Dimensions.Count;

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {string.Join("|", ElementTypes)}[{string.Join(",", Dimensions.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]";
}
