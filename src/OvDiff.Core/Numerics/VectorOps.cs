using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace OvDiff.Core.Numerics;

/// <summary>
/// The vector operations the register-blocked kernels use (matrix products, PAMR), so that one generic body serves
/// Vector512, Vector256, Vector128 and plain floats; the JIT specialises it per struct. Each operation is the IEEE one of
/// its lanes (Exp: the same approximation as <c>TensorPrimitives.Exp</c>), so every width gives the same bits.
/// </summary>
internal interface IVectorOps<TVector>
    where TVector : struct
{
    static abstract int Width { get; }

    static abstract TVector Zero { get; }

    static abstract TVector Load(ref float source, nuint offset);

    static abstract TVector Broadcast(float value);

    static abstract TVector MultiplyAdd(TVector x, TVector y, TVector addend);

    static abstract void Store(TVector value, ref float destination, nuint offset);

    /// <summary>A store that bypasses the caches where the hardware has one (the destination must be pinned and aligned to the vector's size).</summary>
    static abstract void StoreNonTemporal(TVector value, ref float destination, nuint offset);

    static abstract TVector Add(TVector x, TVector y);

    static abstract TVector Subtract(TVector x, TVector y);

    static abstract TVector Multiply(TVector x, TVector y);

    static abstract TVector Divide(TVector x, TVector y);

    static abstract TVector Abs(TVector x);

    static abstract TVector Sqrt(TVector x);

    static abstract TVector Max(TVector x, TVector y);

    static abstract TVector Exp(TVector x);
}

internal readonly struct Vector512Ops : IVectorOps<Vector512<float>>
{
    public static int Width => Vector512<float>.Count;

    public static Vector512<float> Zero => Vector512<float>.Zero;

    public static Vector512<float> Load(ref float source, nuint offset) => Vector512.LoadUnsafe(ref source, offset);

    public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

    public static Vector512<float> MultiplyAdd(Vector512<float> x, Vector512<float> y, Vector512<float> addend) => Vector512.FusedMultiplyAdd(x, y, addend);

    public static void Store(Vector512<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    public static unsafe void StoreNonTemporal(Vector512<float> value, ref float destination, nuint offset)
    {
        if (Avx512F.IsSupported)
        {
            Avx512F.StoreAlignedNonTemporal((float*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, offset)), value);
        }
        else
        {
            value.StoreUnsafe(ref destination, offset);
        }
    }

    public static Vector512<float> Add(Vector512<float> x, Vector512<float> y) => x + y;

    public static Vector512<float> Subtract(Vector512<float> x, Vector512<float> y) => x - y;

    public static Vector512<float> Multiply(Vector512<float> x, Vector512<float> y) => x * y;

    public static Vector512<float> Divide(Vector512<float> x, Vector512<float> y) => x / y;

    public static Vector512<float> Abs(Vector512<float> x) => Vector512.Abs(x);

    public static Vector512<float> Sqrt(Vector512<float> x) => Vector512.Sqrt(x);

    public static Vector512<float> Max(Vector512<float> x, Vector512<float> y) => Vector512.Max(x, y);

    public static Vector512<float> Exp(Vector512<float> x) => Vector512.Exp(x);
}

internal readonly struct Vector256Ops : IVectorOps<Vector256<float>>
{
    public static int Width => Vector256<float>.Count;

    public static Vector256<float> Zero => Vector256<float>.Zero;

    public static Vector256<float> Load(ref float source, nuint offset) => Vector256.LoadUnsafe(ref source, offset);

    public static Vector256<float> Broadcast(float value) => Vector256.Create(value);

    public static Vector256<float> MultiplyAdd(Vector256<float> x, Vector256<float> y, Vector256<float> addend) => Vector256.FusedMultiplyAdd(x, y, addend);

    public static void Store(Vector256<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    public static unsafe void StoreNonTemporal(Vector256<float> value, ref float destination, nuint offset)
    {
        if (Avx.IsSupported)
        {
            Avx.StoreAlignedNonTemporal((float*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, offset)), value);
        }
        else
        {
            value.StoreUnsafe(ref destination, offset);
        }
    }

    public static Vector256<float> Add(Vector256<float> x, Vector256<float> y) => x + y;

    public static Vector256<float> Subtract(Vector256<float> x, Vector256<float> y) => x - y;

    public static Vector256<float> Multiply(Vector256<float> x, Vector256<float> y) => x * y;

    public static Vector256<float> Divide(Vector256<float> x, Vector256<float> y) => x / y;

    public static Vector256<float> Abs(Vector256<float> x) => Vector256.Abs(x);

    public static Vector256<float> Sqrt(Vector256<float> x) => Vector256.Sqrt(x);

    public static Vector256<float> Max(Vector256<float> x, Vector256<float> y) => Vector256.Max(x, y);

    public static Vector256<float> Exp(Vector256<float> x) => Vector256.Exp(x);
}

internal readonly struct Vector128Ops : IVectorOps<Vector128<float>>
{
    public static int Width => Vector128<float>.Count;

    public static Vector128<float> Zero => Vector128<float>.Zero;

    public static Vector128<float> Load(ref float source, nuint offset) => Vector128.LoadUnsafe(ref source, offset);

    public static Vector128<float> Broadcast(float value) => Vector128.Create(value);

    public static Vector128<float> MultiplyAdd(Vector128<float> x, Vector128<float> y, Vector128<float> addend) => Vector128.FusedMultiplyAdd(x, y, addend);

    public static void Store(Vector128<float> value, ref float destination, nuint offset) => value.StoreUnsafe(ref destination, offset);

    public static unsafe void StoreNonTemporal(Vector128<float> value, ref float destination, nuint offset)
    {
        if (Sse.IsSupported)
        {
            Sse.StoreAlignedNonTemporal((float*)Unsafe.AsPointer(ref Unsafe.Add(ref destination, offset)), value);
        }
        else
        {
            value.StoreUnsafe(ref destination, offset);
        }
    }

    public static Vector128<float> Add(Vector128<float> x, Vector128<float> y) => x + y;

    public static Vector128<float> Subtract(Vector128<float> x, Vector128<float> y) => x - y;

    public static Vector128<float> Multiply(Vector128<float> x, Vector128<float> y) => x * y;

    public static Vector128<float> Divide(Vector128<float> x, Vector128<float> y) => x / y;

    public static Vector128<float> Abs(Vector128<float> x) => Vector128.Abs(x);

    public static Vector128<float> Sqrt(Vector128<float> x) => Vector128.Sqrt(x);

    public static Vector128<float> Max(Vector128<float> x, Vector128<float> y) => Vector128.Max(x, y);

    public static Vector128<float> Exp(Vector128<float> x) => Vector128.Exp(x);
}

/// <summary>One lane: for rows narrower than the narrowest vector.</summary>
internal readonly struct ScalarOps : IVectorOps<float>
{
    public static int Width => 1;

    public static float Zero => 0f;

    public static float Load(ref float source, nuint offset) => Unsafe.Add(ref source, offset);

    public static float Broadcast(float value) => value;

    public static float MultiplyAdd(float x, float y, float addend) => MathF.FusedMultiplyAdd(x, y, addend);

    public static void Store(float value, ref float destination, nuint offset) => Unsafe.Add(ref destination, offset) = value;

    public static void StoreNonTemporal(float value, ref float destination, nuint offset) => Unsafe.Add(ref destination, offset) = value;

    public static float Add(float x, float y) => x + y;

    public static float Subtract(float x, float y) => x - y;

    public static float Multiply(float x, float y) => x * y;

    public static float Divide(float x, float y) => x / y;

    public static float Abs(float x) => MathF.Abs(x);

    public static float Sqrt(float x) => MathF.Sqrt(x);

    public static float Max(float x, float y) => MathF.Max(x, y);

    public static float Exp(float x) => Vector128.Exp(Vector128.CreateScalar(x)).ToScalar();
}
