namespace OvDiff.Onnx;

/// <summary>Compares what an ONNX file declares (<see cref="OnnxGraphInfo"/>) with what OvDiff needs (<see cref="OnnxSignature"/>).</summary>
public static class OnnxSignatureCheck
{
    /// <summary>
    /// The differences, one sentence each naming the tensor, what was expected and what was found; empty when the file
    /// fits. Checked: every required input and output is present (one of its alternatives) with an allowed element type
    /// and shape; no model input is one OvDiff would not feed; every listed intermediate tensor is produced by some node;
    /// operator types occur at least as often as required.
    /// </summary>
    public static IReadOnlyList<string> Compare(OnnxGraphInfo graph, OnnxSignature signature)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(signature);
        var problems = new List<string>();
        CheckSide("input", graph.Inputs, signature.Inputs, problems);
        CheckSide("output", graph.Outputs, signature.Outputs, problems);
        var fed = signature.Inputs.SelectMany(r => r.Alternatives).Select(a => a.Name).ToHashSet(StringComparer.Ordinal);
        foreach (OnnxValueInfo input in graph.Inputs.Where(i => !fed.Contains(i.Name)))
        {
            problems.Add($"input '{input.Name}' ({input}) is not one OvDiff feeds; expected inputs: {string.Join(", ", signature.Inputs)}");
        }

        var inputNames = graph.Inputs.Select(i => i.Name).ToHashSet(StringComparer.Ordinal);
        foreach (string tensor in signature.Tensors.Where(t => !graph.NodeOutputs.Contains(t) && !inputNames.Contains(t)))
        {
            problems.Add($"tensor '{tensor}' is produced by no node (an export with fused attention or other node names?)");
        }

        foreach (OperatorRequirement op in signature.Operators)
        {
            int found = graph.OperatorCounts.GetValueOrDefault(op.Type);
            if (found < op.AtLeast)
            {
                problems.Add($"{found} {op.Type} operators, expected at least {op.AtLeast}{(op.Why is null ? "" : $" ({op.Why})")}");
            }
        }

        return problems;
    }

    private static void CheckSide(string side, IReadOnlyList<OnnxValueInfo> actual, IReadOnlyList<TensorRequirement> required, List<string> problems)
    {
        foreach (TensorRequirement requirement in required)
        {
            var present = requirement.Alternatives
                .Select(spec => (Spec: spec, Value: actual.FirstOrDefault(a => a.Name == spec.Name)))
                .Where(p => p.Value is not null)
                .ToList();
            if (present.Count == 0)
            {
                if (!requirement.Optional)
                {
                    problems.Add($"{side} '{string.Join("' or '", requirement.Alternatives.Select(a => a.Name))}' is missing: expected {requirement}; the model's {side}s are {Describe(actual)}");
                }

                continue;
            }

            (TensorSpecification spec, OnnxValueInfo? value) = present[0];
            if (Mismatch(spec, value!) is { } mismatch)
            {
                problems.Add($"{side} '{spec.Name}': expected {spec}, found {value} ({mismatch})");
            }
        }
    }

    /// <summary>Why <paramref name="value"/> does not fit <paramref name="spec"/>, or null when it does.</summary>
    private static string? Mismatch(TensorSpecification spec, OnnxValueInfo value)
    {
        if (value.ElementType is not { } elementType)
        {
            return "not a tensor";
        }

        if (!spec.ElementTypes.Contains(elementType))
        {
            return $"element type {TensorSpecification.NameOf(elementType)}";
        }

        if (value.Shape is not { } shape)
        {
            return null;   // an undeclared shape is checked at run time
        }

        string? best = null;
        foreach (IReadOnlyList<TensorDimension> allowed in spec.Shapes)
        {
            if (allowed.Count != shape.Count)
            {
                best ??= $"rank {shape.Count}, expected {string.Join(" or ", spec.Shapes.Select(s => s.Count).Distinct())}";
                continue;
            }

            int axis = Enumerable.Range(0, shape.Count).FirstOrDefault(a => allowed[a].Size is { } size && shape[a].Size is { } actual && size != actual, -1);
            if (axis < 0)
            {
                return null;
            }

            best = $"size {shape[axis]} on axis {axis}, expected {allowed[axis]}";
        }

        return best;
    }

    private static string Describe(IReadOnlyList<OnnxValueInfo> values) =>
        values.Count == 0 ? "(none)" : string.Join(", ", values);
}
