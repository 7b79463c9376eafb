using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OvDiff.Diffusion.Pipeline;

/// <summary>
/// A host tensor of a model's element type (float32, float16, int32, int64 or double) over a managed array that is
/// allocated once and reused: the <see cref="OrtValue"/> wraps (pins) the array, so writing through <see cref="Write"/> and
/// running again needs no new allocation and no copy on the CPU. Owns the OrtValue.
/// </summary>
internal sealed class OrtBuffer : IDisposable
{
    private readonly float[]? _float;
    private readonly Float16[]? _half;
    private readonly int[]? _int32;
    private readonly long[]? _int64;
    private readonly double[]? _double;

    public OrtBuffer(TensorElementType type, long[] shape)
    {
        ElementType = type;
        Shape = shape;
        var count = checked((int)shape.Aggregate(1L, (a, b) => a * b));
        Length = count;
        Value = type switch
        {
            TensorElementType.Float => OrtValue.CreateTensorValueFromMemory(_float = new float[count], shape),
            TensorElementType.Float16 => OrtValue.CreateTensorValueFromMemory(_half = new Float16[count], shape),
            TensorElementType.Int32 => OrtValue.CreateTensorValueFromMemory(_int32 = new int[count], shape),
            TensorElementType.Int64 => OrtValue.CreateTensorValueFromMemory(_int64 = new long[count], shape),
            TensorElementType.Double => OrtValue.CreateTensorValueFromMemory(_double = new double[count], shape),
            _ => throw new NotSupportedException($"Element type {type} is not one OvDiff binds."),
        };
    }

    public TensorElementType ElementType { get; }

    public long[] Shape { get; }

    public int Length { get; }

    public OrtValue Value { get; }

    /// <summary>Writes float values (converted to the element type; integers rounded half to even).</summary>
    public void Write(ReadOnlySpan<float> values, int offset = 0)
    {
        if (_float is not null)
        {
            values.CopyTo(_float.AsSpan(offset));
            return;
        }

        for (var i = 0; i < values.Length; i++)
        {
            Set(offset + i, values[i]);
        }
    }

    /// <summary>Writes one value (converted to the element type).</summary>
    public void Set(int index, double value)
    {
        switch (ElementType)
        {
            case TensorElementType.Float:
                _float![index] = (float)value;
                break;
            case TensorElementType.Float16:
                _half![index] = (Float16)(float)value;
                break;
            case TensorElementType.Int32:
                _int32![index] = (int)Math.Round(value, MidpointRounding.ToEven);
                break;
            case TensorElementType.Int64:
                _int64![index] = (long)Math.Round(value, MidpointRounding.ToEven);
                break;
            default:
                _double![index] = value;
                break;
        }
    }

    /// <summary>Reads the values as float32 into <paramref name="destination"/>.</summary>
    public void Read(Span<float> destination, int offset = 0)
    {
        if (_float is not null)
        {
            _float.AsSpan(offset, destination.Length).CopyTo(destination);
            return;
        }

        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = ElementType switch
            {
                TensorElementType.Float16 => _half![offset + i].ToFloat(),
                TensorElementType.Int32 => _int32![offset + i],
                TensorElementType.Int64 => _int64![offset + i],
                _ => (float)_double![offset + i],
            };
        }
    }

    /// <summary>The float32 values when the element type is float32 (no copy), else null.</summary>
    public float[]? FloatArray => _float;

    public void Dispose() => Value.Dispose();
}
