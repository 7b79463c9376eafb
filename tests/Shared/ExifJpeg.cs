using System.Buffers.Binary;

namespace OvDiff.Testing;

/// <summary>Writes an EXIF orientation tag into a JPEG by hand (SkiaSharp writes no EXIF), as a phone camera stores it.</summary>
internal static class ExifJpeg
{
    /// <summary>
    /// <paramref name="jpeg"/> with an APP1 "Exif" segment right after SOI: a TIFF header (byte order "II" or "MM", 42,
    /// IFD0 at offset 8) and IFD0 holding one entry, Orientation (tag 0x0112, type SHORT, count 1), then no next IFD.
    /// </summary>
    public static byte[] WithOrientation(byte[] jpeg, int orientation, bool littleEndian = false)
    {
        if (jpeg.Length < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8)
        {
            throw new ArgumentException("not a JPEG (no SOI marker)", nameof(jpeg));
        }

        var tiff = new byte[8 + 2 + 12 + 4];
        void U16(int at, int value)
        {
            if (littleEndian)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(tiff.AsSpan(at), (ushort)value);
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(tiff.AsSpan(at), (ushort)value);
            }
        }

        tiff[0] = tiff[1] = littleEndian ? (byte)'I' : (byte)'M';
        U16(2, 42);
        U16(littleEndian ? 4 : 6, 8);      // IFD0 offset, a 32-bit 8
        U16(8, 1);                         // one entry
        U16(10, 0x0112);                   // Orientation
        U16(12, 3);                        // SHORT
        U16(littleEndian ? 14 : 16, 1);    // count, a 32-bit 1
        U16(18, orientation);              // the value, left-justified in the 4-byte field
        // bytes 22..25: next IFD offset 0

        byte[] header = [0xFF, 0xE1, 0, 0, (byte)'E', (byte)'x', (byte)'i', (byte)'f', 0, 0];
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), (ushort)(2 + 6 + tiff.Length));
        return [.. jpeg[..2], .. header, .. tiff, .. jpeg[2..]];
    }
}
