using System.Text;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace OvDiff.Onnx;

/// <summary>A graph input or output as declared in an ONNX file: element type (null if not a tensor) and shape (null if undeclared).</summary>
public sealed record OnnxValueInfo(string Name, TensorElementType? ElementType, IReadOnlyList<TensorDimension>? Shape)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: {(ElementType is { } t ? TensorSpecification.NameOf(t) : "non-tensor")}{(Shape is null ? "[shape not declared]" : "[" + string.Join(",", Shape) + "]")}";
}

/// <summary>
/// What an ONNX file declares, read without loading its weights: the graph's inputs (those without an initializer, as
/// ONNX Runtime reports them) and outputs, the tensors its nodes produce, the operator counts, and the external data
/// files its initializers point to. Reading streams the protobuf and skips tensor data, so a multi-gigabyte model costs
/// a few milliseconds and no memory.
/// </summary>
public sealed record OnnxGraphInfo(
    long IrVersion,
    string Producer,
    IReadOnlyList<OnnxValueInfo> Inputs,
    IReadOnlyList<OnnxValueInfo> Outputs,
    IReadOnlySet<string> NodeOutputs,
    IReadOnlyDictionary<string, int> OperatorCounts,
    IReadOnlyList<string> ExternalDataFiles)
{
    /// <summary>The <see cref="ExternalDataFiles"/> that are not in <paramref name="folder"/> (the model's own folder, where ONNX Runtime looks).</summary>
    public IReadOnlyList<string> MissingExternalDataFiles(string folder) =>
        ExternalDataFiles.Where(f => !File.Exists(Path.Combine(folder, f))).ToList();

    /// <summary>Reads <paramref name="path"/>. A file that is not an ONNX model throws <see cref="InvalidDataException"/> naming it.</summary>
    public static OnnxGraphInfo Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        try
        {
            return new Parser(stream).ReadModel();
        }
        catch (Exception ex) when (ex is EndOfStreamException or InvalidDataException or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new InvalidDataException($"'{path}' is not a readable ONNX model (truncated or not ONNX?): {ex.Message}", ex);
        }
    }

    /// <summary>A minimal protobuf wire-format reader over a seekable stream: enough to walk ModelProto and skip payloads.</summary>
    private sealed class Parser(Stream stream)
    {
        private readonly Stream _stream = stream;
        private readonly long _length = stream.Length;
        private long _position;

        public OnnxGraphInfo ReadModel()
        {
            long irVersion = 0;
            string producer = "";
            var inputs = new List<ValueInfoProto>();
            var outputs = new List<ValueInfoProto>();
            var initializers = new HashSet<string>(StringComparer.Ordinal);
            var nodeOutputs = new HashSet<string>(StringComparer.Ordinal);
            var operators = new Dictionary<string, int>(StringComparer.Ordinal);
            var external = new SortedSet<string>(StringComparer.Ordinal);
            bool sawGraph = false;
            while (_position < _length)
            {
                (int field, int wire) = ReadTag();
                switch (field, wire)
                {
                    case (1, 0):
                        irVersion = (long)ReadVarint();
                        break;
                    case (2, 2):
                        producer = ReadString();
                        break;
                    case (7, 2):
                        sawGraph = true;
                        ReadGraph(MessageEnd(), inputs, outputs, initializers, nodeOutputs, operators, external);
                        break;
                    default:
                        Skip(wire);
                        break;
                }
            }

            if (!sawGraph)
            {
                throw new InvalidDataException("no graph in the file");
            }

            return new OnnxGraphInfo(
                irVersion,
                producer,
                inputs.Where(i => !initializers.Contains(i.Name)).Select(ToInfo).ToArray(),
                outputs.Select(ToInfo).ToArray(),
                nodeOutputs,
                operators,
                external.ToArray());
        }

        private void ReadGraph(long end, List<ValueInfoProto> inputs, List<ValueInfoProto> outputs, HashSet<string> initializers, HashSet<string> nodeOutputs, Dictionary<string, int> operators, SortedSet<string> external)
        {
            while (_position < end)
            {
                (int field, int wire) = ReadTag();
                switch (field, wire)
                {
                    case (1, 2):
                        ReadNode(MessageEnd(), nodeOutputs, operators);
                        break;
                    case (5, 2):
                        ReadTensor(MessageEnd(), initializers, external);
                        break;
                    case (11, 2):
                        inputs.Add(ValueInfoProto.Parser.ParseFrom(ReadBytes()));
                        break;
                    case (12, 2):
                        outputs.Add(ValueInfoProto.Parser.ParseFrom(ReadBytes()));
                        break;
                    case (15, 2):
                        ReadSparseTensor(MessageEnd(), initializers, external);
                        break;
                    default:
                        Skip(wire);
                        break;
                }
            }

            Expect(end);
        }

        private void ReadNode(long end, HashSet<string> nodeOutputs, Dictionary<string, int> operators)
        {
            string opType = "";
            while (_position < end)
            {
                (int field, int wire) = ReadTag();
                switch (field, wire)
                {
                    case (2, 2):
                        nodeOutputs.Add(ReadString());
                        break;
                    case (4, 2):
                        opType = ReadString();
                        break;
                    default:
                        Skip(wire);
                        break;
                }
            }

            Expect(end);
            operators[opType] = operators.GetValueOrDefault(opType) + 1;
        }

        private void ReadTensor(long end, HashSet<string> initializers, SortedSet<string> external)
        {
            string name = "";
            bool isExternal = false;
            string? location = null;
            while (_position < end)
            {
                (int field, int wire) = ReadTag();
                switch (field, wire)
                {
                    case (8, 2):
                        name = ReadString();
                        break;
                    case (13, 2):
                        var entry = StringStringEntryProto.Parser.ParseFrom(ReadBytes());
                        if (entry.Key == "location")
                        {
                            location = entry.Value;
                        }

                        break;
                    case (14, 0):
                        isExternal = ReadVarint() == (ulong)TensorProto.Types.DataLocation.External;
                        break;
                    default:
                        Skip(wire);
                        break;
                }
            }

            Expect(end);
            initializers.Add(name);
            if (isExternal && location is not null)
            {
                external.Add(location);
            }
        }

        private void ReadSparseTensor(long end, HashSet<string> initializers, SortedSet<string> external)
        {
            while (_position < end)
            {
                (int field, int wire) = ReadTag();
                if (field == 1 && wire == 2)
                {
                    ReadTensor(MessageEnd(), initializers, external);
                }
                else
                {
                    Skip(wire);
                }
            }

            Expect(end);
        }

        private static OnnxValueInfo ToInfo(ValueInfoProto value)
        {
            if (value.Type?.TensorType is not { } tensor)
            {
                return new OnnxValueInfo(value.Name, null, null);
            }

            TensorElementType elementType = (TensorElementType)tensor.ElemType;
            IReadOnlyList<TensorDimension>? shape = tensor.Shape is null
                ? null
                : tensor.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0
                    ? new TensorDimension(d.DimValue, null)
                    : new TensorDimension(null, d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam ? d.DimParam : null)).ToArray();
            return new OnnxValueInfo(value.Name, elementType, shape);
        }

        private (int Field, int Wire) ReadTag()
        {
            ulong tag = ReadVarint();
            int field = (int)(tag >> 3);
            return field == 0 ? throw new InvalidDataException($"invalid field number 0 at byte {_position}") : (field, (int)(tag & 7));
        }

        private ulong ReadVarint()
        {
            ulong result = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                int b = _stream.ReadByte();
                if (b < 0)
                {
                    throw new EndOfStreamException($"the file ends inside a value at byte {_position}");
                }

                _position++;
                result |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return result;
                }
            }

            throw new InvalidDataException($"malformed varint at byte {_position}");
        }

        private long ReadLength()
        {
            ulong length = ReadVarint();
            return length > (ulong)(_length - _position)
                ? throw new EndOfStreamException($"a field of {length} bytes at byte {_position} runs past the end of the file ({_length} bytes)")
                : (long)length;
        }

        /// <summary>Reads a length prefix; returns where the message it introduces ends.</summary>
        private long MessageEnd()
        {
            long length = ReadLength();
            return _position + length;
        }

        private byte[] ReadBytes()
        {
            long length = ReadLength();
            if (length > int.MaxValue)
            {
                throw new InvalidDataException($"a {length}-byte field where a small one was expected at byte {_position}");
            }

            var bytes = new byte[length];
            _stream.ReadExactly(bytes);
            _position += length;
            return bytes;
        }

        private string ReadString() => Encoding.UTF8.GetString(ReadBytes());

        private void Skip(int wire)
        {
            switch (wire)
            {
                case 0:
                    ReadVarint();
                    break;
                case 1:
                    SkipBytes(8);
                    break;
                case 2:
                    SkipBytes(ReadLength());
                    break;
                case 5:
                    SkipBytes(4);
                    break;
                default:
                    throw new InvalidDataException($"unsupported wire type {wire} at byte {_position}");
            }
        }

        private void SkipBytes(long count)
        {
            if (count > _length - _position)
            {
                throw new EndOfStreamException($"the file ends inside a field at byte {_position}");
            }

            _stream.Seek(count, SeekOrigin.Current);
            _position += count;
        }

        private void Expect(long end)
        {
            if (_position != end)
            {
                throw new InvalidDataException($"a message overran its length (at byte {_position}, expected {end})");
            }
        }
    }
}
