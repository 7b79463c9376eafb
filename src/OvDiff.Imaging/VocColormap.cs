namespace OvDiff.Imaging;

/// <summary>
/// The PASCAL VOC colour map: the 256-entry palette that VOC's <c>SegmentationClass</c> PNGs carry, where class index
/// <c>i</c> is coloured by spreading the bits of <c>i</c> over the high bits of R, G and B (index 0 is black, 1 is
/// (128,0,0), 255 is (224,224,192)). The map is a bijection, so <see cref="TryGetIndex"/> inverts it exactly: an RGB
/// rendering of a label map can be turned back into class indices without loss.
/// </summary>
public static class VocColormap
{
    /// <summary>Number of palette entries.</summary>
    public const int EntryCount = 256;

    private static readonly byte[] PaletteBytes = BuildPalette();
    private static readonly Dictionary<int, byte> IndexByColor = BuildInverse(PaletteBytes);

    /// <summary>The palette as 768 bytes: R, G, B for index 0, then index 1, and so on (the PNG PLTE layout).</summary>
    public static ReadOnlySpan<byte> Palette => PaletteBytes;

    /// <summary>The colour of class index <paramref name="index"/>.</summary>
    public static (byte R, byte G, byte B) GetColor(byte index) =>
        (PaletteBytes[index * 3], PaletteBytes[(index * 3) + 1], PaletteBytes[(index * 3) + 2]);

    /// <summary>Finds the class index whose colour is exactly (r, g, b); false when no entry has that colour.</summary>
    public static bool TryGetIndex(byte r, byte g, byte b, out byte index) =>
        IndexByColor.TryGetValue((r << 16) | (g << 8) | b, out index);

    private static byte[] BuildPalette()
    {
        var palette = new byte[EntryCount * 3];
        for (int index = 0; index < EntryCount; index++)
        {
            int r = 0, g = 0, b = 0, code = index;
            for (int bit = 7; bit >= 0; bit--)
            {
                r |= (code & 1) << bit;
                g |= ((code >> 1) & 1) << bit;
                b |= ((code >> 2) & 1) << bit;
                code >>= 3;
            }

            palette[index * 3] = (byte)r;
            palette[(index * 3) + 1] = (byte)g;
            palette[(index * 3) + 2] = (byte)b;
        }

        return palette;
    }

    private static Dictionary<int, byte> BuildInverse(byte[] palette)
    {
        var inverse = new Dictionary<int, byte>(EntryCount);
        for (int index = 0; index < EntryCount; index++)
        {
            inverse.Add((palette[index * 3] << 16) | (palette[(index * 3) + 1] << 8) | palette[(index * 3) + 2], (byte)index);
        }

        return inverse;
    }
}
