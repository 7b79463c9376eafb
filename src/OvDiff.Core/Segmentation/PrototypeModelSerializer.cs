using System.Buffers.Binary;
using System.Collections;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace OvDiff.Core.Segmentation;

/// <summary>
/// Reads and writes <see cref="PrototypeModel"/> in OvDiff's binary model format.
/// </summary>
/// <remarks>
/// Binary format, little-endian:
/// <code>
/// 8 bytes  magic "OVDIFFPM"
/// int32    format version (1, or 2 when the model has a shared background; readers accept versions up to their own)
/// int32    header length N, then N bytes of UTF-8 JSON (class names, stuff flags, fit options, support records
///          without masks, banks' names/channels/origins; version 2: the shared background's extractor, channels, count)
/// per bank:          count * channels float32 (unit prototype vectors)
/// version 2:         count * channels float32 (the shared background's unit parts)
/// per support image: ceil(H*W/8) bytes foreground bits, then the same for background (LSB first)
/// 8 bytes  end marker "OVDPEND\0"
/// </code>
/// A stream that ends early, has another magic or a newer version is an <see cref="InvalidDataException"/> naming the source.
/// </remarks>
public static class PrototypeModelSerializer
{
    /// <summary>The newest version this code reads and writes (it writes 1 for a model without a shared background, as before).</summary>
    public const int FormatVersion = 2;

    private static readonly byte[] Magic = "OVDIFFPM"u8.ToArray();
    private static readonly byte[] EndMarker = "OVDPEND\0"u8.ToArray();

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Writes <paramref name="model"/> to <paramref name="stream"/>.</summary>
    public static void Write(PrototypeModel model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        var header = new Header(
            model.ClassNames.ToArray(),
            model.IsStuff.ToArray(),
            model.FitOptions,
            model.SupportImages.Select(s => new SupportHeader(s.ClassIndex, s.Source, s.MaskHeight, s.MaskWidth)).ToArray(),
            model.Banks.Select(b => new BankHeader(b.ExtractorName, b.Channels, b.Origins.ToArray())).ToArray(),
            model.SharedBackground is { } shared ? new SharedBackgroundHeader(shared.ExtractorName, shared.Channels, shared.Count) : null);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, JsonOptions);

        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        writer.Write(Magic);
        writer.Write(model.SharedBackground is null ? 1 : 2);
        writer.Write(json.Length);
        writer.Write(json);
        foreach (PrototypeBank bank in model.Banks)
        {
            WriteFloats(writer, bank.Vectors);
        }

        if (model.SharedBackground is not null)
        {
            WriteFloats(writer, model.SharedBackground.Vectors);
        }

        foreach (SupportImageRecord support in model.SupportImages)
        {
            writer.Write(PackBits(support.Foreground));
            writer.Write(PackBits(support.Background));
        }

        writer.Write(EndMarker);
    }

    /// <summary>Serialises <paramref name="model"/> to a byte array.</summary>
    public static byte[] ToBytes(PrototypeModel model)
    {
        using var memory = new MemoryStream();
        Write(model, memory);
        return memory.ToArray();
    }

    /// <summary>Reads a model; <paramref name="sourceName"/> (a file name) appears in error messages.</summary>
    public static PrototypeModel Read(Stream stream, string sourceName = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(stream);
        try
        {
            using var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
            byte[] magic = ReadExactly(reader, Magic.Length);
            if (!magic.AsSpan().SequenceEqual(Magic))
            {
                throw new InvalidDataException($"'{sourceName}' is not an OvDiff prototype model (bad magic bytes).");
            }

            int version = reader.ReadInt32();
            if (version < 1 || version > FormatVersion)
            {
                throw new InvalidDataException($"'{sourceName}' has model format version {version}; this OvDiff reads versions 1 to {FormatVersion}. Upgrade OvDiff or refit the model.");
            }

            int headerLength = reader.ReadInt32();
            if (headerLength <= 0 || headerLength > 256 * 1024 * 1024)
            {
                throw new InvalidDataException($"'{sourceName}' has an invalid header length {headerLength}.");
            }

            Header header = JsonSerializer.Deserialize<Header>(ReadExactly(reader, headerLength), JsonOptions)
                ?? throw new InvalidDataException($"'{sourceName}' has an empty header.");
            CheckHeader(header, sourceName);
            if (version < 2 && header.SharedBackground is not null)
            {
                throw new InvalidDataException($"'{sourceName}' has a corrupt header: a shared background in a version {version} model.");
            }

            var banks = new List<PrototypeBank>(header.Banks.Length);
            foreach (BankHeader bank in header.Banks)
            {
                float[] vectors = ReadFloats(reader, (long)bank.Origins.Length * bank.Channels);
                banks.Add(new PrototypeBank(bank.ExtractorName, bank.Channels, vectors, bank.Origins));
            }

            SharedBackground? shared = header.SharedBackground is { } part
                ? new SharedBackground(part.ExtractorName, part.Channels, ReadFloats(reader, (long)part.Count * part.Channels))
                : null;

            var supports = new List<SupportImageRecord>(header.SupportImages.Length);
            foreach (SupportHeader support in header.SupportImages)
            {
                int cells = checked(support.MaskHeight * support.MaskWidth);
                bool[] foreground = UnpackBits(ReadExactly(reader, (cells + 7) / 8), cells);
                bool[] background = UnpackBits(ReadExactly(reader, (cells + 7) / 8), cells);
                supports.Add(new SupportImageRecord(support.ClassIndex, support.Source, support.MaskHeight, support.MaskWidth, foreground, background));
            }

            if (!ReadExactly(reader, EndMarker.Length).AsSpan().SequenceEqual(EndMarker))
            {
                throw new InvalidDataException($"'{sourceName}' is corrupt: the end marker is missing.");
            }

            return new PrototypeModel(header.ClassNames, header.IsStuff, supports, banks, header.FitOptions, shared);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"'{sourceName}' is truncated: the prototype model ends early.", ex);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"'{sourceName}' has a corrupt header: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"'{sourceName}' holds an inconsistent model: {ex.Message}", ex);
        }
    }

    /// <summary>Reads a model from bytes.</summary>
    public static PrototypeModel FromBytes(byte[] bytes, string sourceName = "<bytes>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        using var memory = new MemoryStream(bytes, writable: false);
        return Read(memory, sourceName);
    }

    /// <summary>
    /// Rejects a header that parsed as JSON but cannot describe a model (missing arrays or entries, non-positive sizes),
    /// which would otherwise surface as a NullReferenceException or OverflowException instead of naming the file.
    /// </summary>
    private static void CheckHeader(Header header, string sourceName)
    {
        string? problem = header switch
        {
            { ClassNames: null } => "no class names",
            { IsStuff: null } => "no stuff flags",
            { FitOptions: null } or { FitOptions.StuffClasses: null } or { FitOptions.NormalizedCut: null } => "no fit options",
            { SupportImages: null } => "no support image list",
            { Banks: null } => "no bank list",
            _ when header.SupportImages.Any(s => s is null || s.Source is null || s.MaskHeight <= 0 || s.MaskWidth <= 0) => "a support image with no source or a non-positive mask size",
            _ when header.Banks.Any(b => b is null || b.ExtractorName is null || b.Channels <= 0 || b.Origins is null || b.Origins.Any(o => o is null)) => "a bank with no name, no origins or non-positive channels",
            _ when header.Banks.Any(b => (long)b.Origins.Length * b.Channels > Array.MaxLength) => "a bank too large to hold",
            { SharedBackground: { } p } when p.ExtractorName is null || p.Channels <= 0 || p.Count <= 0 || (long)p.Count * p.Channels > Array.MaxLength => "a shared background with no extractor name or a bad size",
            _ => null,
        };
        if (problem is not null)
        {
            throw new InvalidDataException($"'{sourceName}' has a corrupt header: {problem}.");
        }
    }

    private static byte[] ReadExactly(BinaryReader reader, int count)
    {
        byte[] bytes = reader.ReadBytes(count);
        if (bytes.Length != count)
        {
            throw new EndOfStreamException();
        }

        return bytes;
    }

    private static void WriteFloats(BinaryWriter writer, float[] values)
    {
        if (BitConverter.IsLittleEndian)
        {
            writer.Write(MemoryMarshal.AsBytes(values.AsSpan()));
            return;
        }

        Span<byte> buffer = stackalloc byte[4];
        foreach (float value in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer, value);
            writer.Write(buffer);
        }
    }

    private static float[] ReadFloats(BinaryReader reader, long count)
    {
        Stream stream = reader.BaseStream;
        if (stream.CanSeek && count * sizeof(float) > stream.Length - stream.Position)
        {
            throw new EndOfStreamException();
        }

        var values = new float[count];
        Span<byte> bytes = MemoryMarshal.AsBytes(values.AsSpan());
        if (reader.BaseStream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false) != bytes.Length)
        {
            throw new EndOfStreamException();
        }

        if (!BitConverter.IsLittleEndian)
        {
            for (long i = 0; i < count; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice((int)(i * 4), 4));
            }
        }

        return values;
    }

    private static byte[] PackBits(bool[] bits)
    {
        var array = new BitArray(bits);
        var bytes = new byte[(bits.Length + 7) / 8];
        array.CopyTo(bytes, 0);
        return bytes;
    }

    private static bool[] UnpackBits(byte[] bytes, int count)
    {
        var bits = new bool[count];
        for (int i = 0; i < count; i++)
        {
            bits[i] = (bytes[i >> 3] & (1 << (i & 7))) != 0;
        }

        return bits;
    }

    private sealed record Header(
        string[] ClassNames,
        bool[] IsStuff,
        PrototypeFitOptions FitOptions,
        SupportHeader[] SupportImages,
        BankHeader[] Banks,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] SharedBackgroundHeader? SharedBackground = null);

    private sealed record SupportHeader(int ClassIndex, string Source, int MaskHeight, int MaskWidth);

    private sealed record BankHeader(string ExtractorName, int Channels, PrototypeOrigin[] Origins);

    private sealed record SharedBackgroundHeader(string ExtractorName, int Channels, int Count);
}
