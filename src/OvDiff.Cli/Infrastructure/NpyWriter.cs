using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace OvDiff.Cli.Infrastructure;

/// <summary>Writes NumPy <c>.npy</c> (format 1.0) float32 arrays, little-endian, C order.</summary>
internal static class NpyWriter
{
    public static void WriteFloat32(Stream stream, float[] values, IReadOnlyList<int> shape)
    {
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != values.LongLength)
        {
            throw new ArgumentException($"Shape ({string.Join(", ", shape)}) needs {count} values, got {values.LongLength}.", nameof(shape));
        }

        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (total % 64)) % 64)) + "\n";
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }
}
