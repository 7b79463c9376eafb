using System.Globalization;

namespace OvDiff.Imaging;

/// <summary>
/// Checks that a sequential (baseline or extended) Huffman JPEG's entropy-coded data decodes to exactly its frame:
/// every Huffman code valid, no block with more than 64 coefficients, restart markers in order, and each scan ending
/// where its last block ends (no data cut short by a marker, no extraneous bytes). libjpeg (through SkiaSharp) only
/// warns about such damage and returns an image with grey or garbled blocks, so a JPEG cut short and closed with an end
/// marker, or with flipped bits in its entropy data, would otherwise decode "successfully". Only the Huffman symbols and
/// the DC values are decoded (no IDCT); a DC value whose dequantised size no 8x8 block of samples can have (|DC| above
/// 1024, the DCT of a block all black or all white) also shows a stream that lost step. A flipped bit that changes only a coefficient's value bits cannot be seen by any
/// check (JPEG has no checksum). Of a progressive Huffman JPEG only the marker structure is checked: an end-of-image
/// marker, and scans that bring every coefficient of every component to full precision (a last scan with successive
/// approximation bit 0), which a file cut short and closed with an end marker lacks unless it was cut inside its last
/// scan (libjpeg decodes it without complaint, blurred or grey). Arithmetic-coded and lossless JPEGs are not checked.
/// </summary>
internal static class JpegScanCheck
{
    /// <summary>Null when <paramref name="jpeg"/> (starting with SOI) is consistent, else what is wrong.</summary>
    public static string? FindProblem(ReadOnlySpan<byte> jpeg)
    {
        try
        {
            return new Parser(jpeg).Run();
        }
        catch (IndexOutOfRangeException)
        {
            return "the file ends inside a marker segment (truncated)";
        }
        catch (ArgumentOutOfRangeException)
        {
            return "a marker segment shorter than what it declares (damaged data)";
        }
    }

    private ref struct Parser
    {
        private readonly ReadOnlySpan<byte> _data;
        private readonly HuffmanTable?[] _dc = new HuffmanTable?[4];
        private readonly HuffmanTable?[] _ac = new HuffmanTable?[4];
        private readonly int[] _dcQuantizer = [1, 1, 1, 1];
        private Component[] _components = [];
        private int _precision, _width, _height, _maxH, _maxV, _restartInterval, _position;
        private bool _progressive;

        /// <summary>Progressive frames: per component (in frame order), bit k set once a scan brought coefficient k to full precision.</summary>
        private ulong[] _complete = [];

        public Parser(ReadOnlySpan<byte> data)
        {
            _data = data;
        }

        public string? Run()
        {
            _position = 2;   // after SOI
            bool frame = false, scanned = false;
            while (true)
            {
                if (_position + 1 >= _data.Length)
                {
                    return scanned ? "no end-of-image marker (truncated)" : "the file ends before its image data (truncated)";
                }

                if (_data[_position] != 0xFF)
                {
                    return Invariant($"expected a marker at byte {_position}, found 0x{_data[_position]:X2}");
                }

                _position = SkipFillBytes(_data, _position);
                byte marker = _data[_position++];
                switch (marker)
                {
                    case 0xD9:   // EOI
                        return !frame || !scanned ? "end-of-image marker before any image data"
                            : _progressive ? IncompleteCoefficients()
                            : null;
                    case >= 0xD0 and <= 0xD7:
                        return Invariant($"restart marker RST{marker - 0xD0} outside the image data at byte {_position - 2}");
                    case 0x01:
                        continue;   // TEM: no length
                }

                int length = (_data[_position] << 8) | _data[_position + 1];
                if (length < 2 || _position + length > _data.Length)
                {
                    return length < 2 ? Invariant($"a marker segment of the invalid length {length} at byte {_position - 2}") : "the file ends inside a marker segment (truncated)";
                }

                ReadOnlySpan<byte> segment = _data.Slice(_position + 2, length - 2);
                _position += length;
                switch (marker)
                {
                    case 0xC0 or 0xC1 or 0xC2:
                        ReadFrame(segment);
                        frame = true;
                        _progressive = marker == 0xC2;
                        _complete = new ulong[_components.Length];
                        break;
                    case 0xC3 or (>= 0xC5 and <= 0xC7) or (>= 0xC9 and <= 0xCB) or (>= 0xCD and <= 0xCF):
                        return null;   // lossless, differential or arithmetic: not checked here
                    case 0xC4:
                        if (ReadHuffmanTables(segment) is string tableProblem)
                        {
                            return tableProblem;
                        }

                        break;
                    case 0xDB:
                        ReadQuantizers(segment);
                        break;
                    case 0xDD:
                        _restartInterval = (segment[0] << 8) | segment[1];
                        break;
                    case 0xDA:
                        if (!frame)
                        {
                            return "image data before the frame header";
                        }

                        if ((_progressive ? ProgressiveScan(segment) : Scan(segment)) is string scanProblem)
                        {
                            return scanProblem;
                        }

                        scanned = true;
                        break;
                }
            }
        }

        /// <summary>
        /// Notes which coefficients a progressive scan completes (those in its spectral band, when its successive
        /// approximation low bit is 0) and moves past its entropy-coded data to the next marker other than a restart.
        /// </summary>
        private string? ProgressiveScan(ReadOnlySpan<byte> header)
        {
            int count = header[0];
            int spectralStart = header[1 + (2 * count)], spectralEnd = header[2 + (2 * count)], approximationLow = header[3 + (2 * count)] & 15;
            if (spectralStart > spectralEnd || spectralEnd > 63)
            {
                return Invariant($"a progressive scan with the invalid spectral band {spectralStart}..{spectralEnd}");
            }

            ulong band = (spectralEnd == 63 ? ulong.MaxValue : (1UL << (spectralEnd + 1)) - 1) & ~((1UL << spectralStart) - 1);
            if (ScanComponents(header) is not int[] indexes)
            {
                return "a scan names a component the frame does not have";
            }

            foreach (int index in indexes)
            {
                if (approximationLow == 0)
                {
                    _complete[index] |= band;
                }
            }

            // Past the entropy-coded data: stuffed bytes (0xFF 0x00) and restart markers, each perhaps after fill bytes,
            // belong to it; any other marker ends it (at its first fill byte, where Run reads markers from).
            while (_position + 1 < _data.Length)
            {
                if (_data[_position] != 0xFF)
                {
                    _position++;
                    continue;
                }

                int code = SkipFillBytes(_data, _position);
                if (code < _data.Length && _data[code] is not 0x00 and not (>= 0xD0 and <= 0xD7))
                {
                    break;
                }

                _position = code + 1;
            }

            if (_position + 1 >= _data.Length)
            {
                _position = _data.Length;   // Run reports the missing end-of-image marker
            }

            return null;
        }

        /// <summary>Null when every component's 64 coefficients were completed by some scan, else what the file lacks.</summary>
        private readonly string? IncompleteCoefficients()
        {
            int missing = 0;
            foreach (ulong complete in _complete)
            {
                missing += 64 - System.Numerics.BitOperations.PopCount(complete);
            }

            return missing == 0 ? null
                : Invariant($"the progressive image data ends early (truncated): {missing} of {64 * _complete.Length} coefficients never reach full precision");
        }

        private void ReadFrame(ReadOnlySpan<byte> segment)
        {
            _precision = segment[0];
            _height = (segment[1] << 8) | segment[2];
            _width = (segment[3] << 8) | segment[4];
            _components = new Component[segment[5]];
            var ids = new int[_components.Length];
            for (int c = 0; c < _components.Length; c++)
            {
                ReadOnlySpan<byte> spec = segment.Slice(6 + (3 * c), 3);
                ids[c] = UniqueId(spec[0], ids.AsSpan(0, c));
                _components[c] = new Component(ids[c], Math.Max(1, spec[1] >> 4), Math.Max(1, spec[1] & 15), spec[2] & 3);
            }

            _maxH = _components.Max(c => c.H);
            _maxV = _components.Max(c => c.V);
        }

        /// <summary>Keeps the DC entry of each quantisation table (8- or 16-bit entries, the DC one first).</summary>
        private void ReadQuantizers(ReadOnlySpan<byte> segment)
        {
            int at = 0;
            while (at < segment.Length)
            {
                bool wide = segment[at] >> 4 != 0;
                int id = segment[at] & 3;
                _dcQuantizer[id] = Math.Max(1, wide ? (segment[at + 1] << 8) | segment[at + 2] : segment[at + 1]);
                at += 1 + (wide ? 128 : 64);
            }
        }

        private string? ReadHuffmanTables(ReadOnlySpan<byte> segment)
        {
            int at = 0;
            while (at < segment.Length)
            {
                int tableClass = segment[at] >> 4, id = segment[at] & 15;
                if (tableClass > 1 || id > 3)
                {
                    return Invariant($"invalid Huffman table header 0x{segment[at]:X2}");
                }

                ReadOnlySpan<byte> counts = segment.Slice(at + 1, 16);
                int symbols = 0;
                foreach (byte count in counts)
                {
                    symbols += count;
                }

                var table = new HuffmanTable(counts, segment.Slice(at + 17, symbols));
                (tableClass == 0 ? _dc : _ac)[id] = table;
                at += 17 + symbols;
            }

            return null;
        }

        /// <summary>
        /// The frame indexes of the components a scan header names, or null when it names one the frame lacks. A
        /// component id repeated in the frame or the scan (against the standard, but some cameras write 1, 1, 1) stands,
        /// as libjpeg-turbo reads it, for one more than the largest id before it.
        /// </summary>
        private readonly int[]? ScanComponents(ReadOnlySpan<byte> header)
        {
            int count = header[0];
            var ids = new int[count];
            var indexes = new int[count];
            for (int i = 0; i < count; i++)
            {
                ids[i] = UniqueId(header[1 + (2 * i)], ids.AsSpan(0, i));
                int id = ids[i];
                indexes[i] = Array.FindIndex(_components, c => c.Id == id);
                if (indexes[i] < 0)
                {
                    return null;
                }
            }

            return indexes;
        }

        /// <summary><paramref name="id"/>, or where an id before it (<paramref name="earlier"/>) is the same, one more than the largest of those.</summary>
        private static int UniqueId(int id, ReadOnlySpan<int> earlier)
        {
            if (!earlier.Contains(id))
            {
                return id;
            }

            int largest = 0;
            foreach (int other in earlier)
            {
                largest = Math.Max(largest, other);
            }

            return largest + 1;
        }

        private string? Scan(ReadOnlySpan<byte> header)
        {
            int count = header[0];
            var inScan = new (Component Component, HuffmanTable Dc, HuffmanTable Ac)[count];
            int[]? indexes = ScanComponents(header);
            for (int i = 0; i < count; i++)
            {
                int tables = header[2 + (2 * i)];
                HuffmanTable? dc = _dc[(tables >> 4) & 3], ac = _ac[tables & 3];
                if (indexes is null || dc is null || ac is null)
                {
                    return Invariant($"a scan names component {header[1 + (2 * i)]} or a Huffman table that was not defined");
                }

                inScan[i] = (_components[indexes[i]], dc, ac);
            }

            long mcus;
            if (count == 1)
            {
                Component c = inScan[0].Component;
                long blocksWide = (CeilDiv((long)_width * c.H, _maxH) + 7) / 8, blocksHigh = (CeilDiv((long)_height * c.V, _maxV) + 7) / 8;
                mcus = blocksWide * blocksHigh;
            }
            else
            {
                mcus = CeilDiv(_width, 8L * _maxH) * CeilDiv(_height, 8L * _maxV);
            }

            var bits = new BitReader(_data, _position);
            var predictors = new int[count];
            for (long mcu = 0; mcu < mcus; mcu++)
            {
                if (_restartInterval > 0 && mcu > 0 && mcu % _restartInterval == 0)
                {
                    int expected = (int)((mcu / _restartInterval) - 1) % 8;
                    if (bits.ExtraneousBytes() > 0 || bits.Marker != 0xD0 + expected)
                    {
                        return Invariant($"restart marker {expected} missing before block row {mcu} of {mcus} (data cut short, damaged or shifted)");
                    }

                    bits = new BitReader(_data, bits.AfterMarker);
                    Array.Clear(predictors);
                }

                for (int s = 0; s < inScan.Length; s++)
                {
                    (Component component, HuffmanTable dc, HuffmanTable ac) = inScan[s];
                    int blocks = count == 1 ? 1 : component.H * component.V;
                    int dcLimit = (_precision > 8 ? 16384 : 1024) + _dcQuantizer[component.Quantizer];
                    for (int b = 0; b < blocks; b++)
                    {
                        if (Block(ref bits, dc, ac, _precision, ref predictors[s], dcLimit, _dcQuantizer[component.Quantizer]) is string problem)
                        {
                            return Invariant($"{problem} in block group {mcu} of {mcus}");
                        }
                    }
                }
            }

            int extraneous = bits.ExtraneousBytes();
            if (extraneous > 0)
            {
                return Invariant($"{extraneous} bytes of image data after the last block (damaged data)");
            }

            // Some encoders (camera hardware) end a scan with one more restart marker; libjpeg skips it without a word.
            _position = _restartInterval > 0 && bits.Marker is >= 0xD0 and <= 0xD7 ? bits.AfterMarker : bits.MarkerPosition;
            return null;
        }

        private static string? Block(ref BitReader bits, HuffmanTable dc, HuffmanTable ac, int precision, ref int predictor, int dcLimit, int dcQuantizer)
        {
            // Magnitude categories: DC up to 11 and AC up to 10 bits for 8-bit samples, 15 and 14 for 12-bit ones.
            int maxDc = precision > 8 ? 15 : 11, maxAc = precision > 8 ? 14 : 10;
            int size = bits.Decode(dc);
            if (size < 0)
            {
                return bits.Marker >= 0 ? "the image data ends early (truncated)" : "an invalid DC code";
            }

            if (size > maxDc)
            {
                return "an invalid DC value";
            }

            int difference = bits.Receive(size);
            if (difference == int.MinValue)
            {
                return "the image data ends early (truncated)";
            }

            predictor += difference;
            if ((long)Math.Abs(predictor) * dcQuantizer > dcLimit)
            {
                return "a DC value out of range";
            }

            for (int k = 1; k < 64;)
            {
                int symbol = bits.Decode(ac);
                if (symbol < 0)
                {
                    return bits.Marker >= 0 ? "the image data ends early (truncated)" : "an invalid AC code";
                }

                int run = symbol >> 4, bitCount = symbol & 15;
                if (bitCount == 0)
                {
                    if (run != 15)
                    {
                        break;   // end of block
                    }

                    k += 16;
                }
                else
                {
                    k += run;
                    if (k > 63 || bitCount > maxAc)
                    {
                        return "a block with more than 64 coefficients";
                    }

                    if (!bits.Skip(bitCount))
                    {
                        return "the image data ends early (truncated)";
                    }

                    k++;
                }
            }

            return null;
        }

        private static long CeilDiv(long a, long b) => (a + b - 1) / b;

        private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Where the marker code is of a marker whose 0xFF is at <paramref name="at"/>: past any fill bytes (0xFF) before it, which any marker may have.</summary>
    private static int SkipFillBytes(ReadOnlySpan<byte> data, int at)
    {
        while (at < data.Length && data[at] == 0xFF)
        {
            at++;
        }

        return at;
    }

    private sealed record Component(int Id, int H, int V, int Quantizer);

    /// <summary>A canonical Huffman table as JPEG defines it (Annex C): per code length, the largest code and where its symbols start.</summary>
    private sealed class HuffmanTable
    {
        private readonly int[] _maxCode = new int[17];
        private readonly int[] _valueOffset = new int[17];
        private readonly byte[] _symbols;

        public HuffmanTable(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> symbols)
        {
            _symbols = symbols.ToArray();
            int code = 0, k = 0;
            for (int length = 1; length <= 16; length++)
            {
                _valueOffset[length] = k - code;
                code += counts[length - 1];
                k += counts[length - 1];
                _maxCode[length] = counts[length - 1] == 0 ? -1 : code - 1;
                code <<= 1;
            }
        }

        public int MaxCode(int length) => _maxCode[length];

        public int Symbol(int length, int code) => _symbols[_valueOffset[length] + code];
    }

    /// <summary>Reads entropy-coded bits, unstuffing 0xFF00, stopping at the first marker (whose position it remembers).</summary>
    private ref struct BitReader
    {
        private readonly ReadOnlySpan<byte> _data;
        private readonly int _start;
        private int _position, _current, _bitsLeft;

        public BitReader(ReadOnlySpan<byte> data, int position)
        {
            _data = data;
            _start = position;
            _position = position;
            Marker = -1;
        }

        /// <summary>The marker that ended the data (-1 until one was met; 0 for the end of the file).</summary>
        public int Marker { get; private set; }

        /// <summary>Where that marker's (first) 0xFF is.</summary>
        public int MarkerPosition { get; private set; }

        /// <summary>The first byte after that marker.</summary>
        public int AfterMarker { get; private set; }

        public int Decode(HuffmanTable table)
        {
            int code = 0;
            for (int length = 1; length <= 16; length++)
            {
                int bit = ReadBit();
                if (bit < 0)
                {
                    return -1;
                }

                code = (code << 1) | bit;
                if (code <= table.MaxCode(length))
                {
                    return table.Symbol(length, code);
                }
            }

            return -1;
        }

        /// <summary>JPEG's RECEIVE and EXTEND: a signed value of <paramref name="size"/> bits; int.MinValue when the data ends.</summary>
        public int Receive(int size)
        {
            int value = 0;
            for (int i = 0; i < size; i++)
            {
                int bit = ReadBit();
                if (bit < 0)
                {
                    return int.MinValue;
                }

                value = (value << 1) | bit;
            }

            return size == 0 || value >= 1 << (size - 1) ? value : value - (1 << size) + 1;
        }

        public bool Skip(int count)
        {
            for (int i = 0; i < count; i++)
            {
                if (ReadBit() < 0)
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Moves to the marker that ends the data and returns how many data bytes lay before it, unread.</summary>
        public int ExtraneousBytes()
        {
            int extra = 0;
            while (Marker < 0 && NextByte() >= 0)
            {
                extra++;
            }

            return extra;
        }

        private int ReadBit()
        {
            if (_bitsLeft == 0)
            {
                int next = NextByte();
                if (next < 0)
                {
                    return -1;
                }

                _current = next;
                _bitsLeft = 8;
            }

            _bitsLeft--;
            return (_current >> _bitsLeft) & 1;
        }

        /// <summary>The next data byte, or -1 at a marker or the file's end (which then become <see cref="Marker"/>).</summary>
        private int NextByte()
        {
            if (Marker >= 0)
            {
                return -1;
            }

            if (_position >= _data.Length)
            {
                Marker = 0;
                MarkerPosition = _data.Length;
                AfterMarker = _data.Length;
                return -1;
            }

            byte value = _data[_position];
            if (value != 0xFF)
            {
                _position++;
                return value;
            }

            // A marker may follow fill bytes (0xFF); 0xFF 0x00 is a stuffed data byte 0xFF (libjpeg reads 0xFF 0xFF 0x00 so too).
            int code = SkipFillBytes(_data, _position + 1);
            int following = code < _data.Length ? _data[code] : 0;
            if (following == 0x00)
            {
                _position = code + 1;
                return 0xFF;
            }

            Marker = following;
            MarkerPosition = _position;
            AfterMarker = code + 1;
            return -1;
        }
    }
}
