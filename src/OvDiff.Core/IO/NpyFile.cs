using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace OvDiff.Core.IO;

/// <summary>NumPy <c>.npy</c> (format 1.0) float32 arrays, little-endian, C order: what <c>numpy.load</c> reads.</summary>
public static class NpyFile
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes <paramref name="values"/> with <paramref name="shape"/> (its product must be the value count).</summary>
    public static void WriteFloat32(Stream stream, ReadOnlySpan<float> values, IReadOnlyList<int> shape)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(shape);
        long count = shape.Aggregate(1L, (a, d) => a * d);
        if (count != values.Length)
        {
            throw new ArgumentException($"Shape ({string.Join(", ", shape)}) needs {count} values, got {values.Length}.", nameof(shape));
        }

        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
        string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + header.Length + 1;
        header = header.PadRight(header.Length + ((64 - (total % 64)) % 64)) + "\n";
        stream.Write(Magic);
        stream.Write([1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)header.Length));
        stream.Write(Encoding.ASCII.GetBytes(header));
        if (BitConverter.IsLittleEndian)
        {
            stream.Write(MemoryMarshal.AsBytes(values));
        }
        else
        {
            var word = new byte[4];
            foreach (float v in values)
            {
                BinaryPrimitives.WriteSingleLittleEndian(word, v);
                stream.Write(word);
            }
        }
    }

    /// <summary>
    /// Reads a little-endian float32, C-order array written by <see cref="WriteFloat32"/> or NumPy; anything else is an
    /// <see cref="InvalidDataException"/> naming <paramref name="source"/>.
    /// </summary>
    public static float[] ReadFloat32(byte[] bytes, string source, out int[] shape)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic) || bytes[6] is not (1 or 2 or 3))
        {
            throw new InvalidDataException($"'{source}' is not a .npy file.");
        }

        int headerStart = bytes[6] == 1 ? 10 : 12;
        long headerLength = bytes[6] == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        if (headerStart + headerLength > bytes.Length)
        {
            throw new InvalidDataException($"'{source}': the .npy header runs past the end of the file.");
        }

        string header = Encoding.Latin1.GetString(bytes, headerStart, (int)headerLength);
        if (!header.Contains("'descr': '<f4'", StringComparison.Ordinal) || !header.Contains("'fortran_order': False", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{source}': expected a little-endian float32 C-order array, the header says {header.Trim()}.");
        }

        int open = header.IndexOf("'shape': (", StringComparison.Ordinal);
        int close = open < 0 ? -1 : header.IndexOf(')', open);
        if (close < 0)
        {
            throw new InvalidDataException($"'{source}': no shape in the .npy header {header.Trim()}.");
        }

        shape = header[(open + "'shape': (".Length)..close]
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : throw new InvalidDataException($"'{source}': bad dimension '{d}' in the .npy header."))
            .ToArray();
        long count = shape.Aggregate(1L, (a, d) => a * d);
        int dataStart = headerStart + (int)headerLength;
        if (bytes.Length - dataStart != count * 4)
        {
            throw new InvalidDataException($"'{source}': shape ({string.Join(", ", shape)}) needs {count * 4} bytes of data, the file has {bytes.Length - dataStart} (truncated?).");
        }

        var values = new float[count];
        for (long i = 0; i < count; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(dataStart + (int)(i * 4)));
        }

        return values;
    }
}
