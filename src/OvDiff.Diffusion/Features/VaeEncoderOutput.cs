using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using OvDiff.Diffusion.Pipeline;
using OvDiff.Onnx;

namespace OvDiff.Diffusion.Features;

/// <summary>
/// The VAE encoder's latent distribution (mean and standard deviation), whichever way the export gives it:
/// Optimum's <c>latent_parameters</c> [B, 8, h, w] (mean and log-variance) or diffusers' <c>latent_sample</c>, which samples
/// inside the graph with an unseeded RandomNormalLike; there the mean and the standard deviation feeding
/// <c>mean + std * noise</c> are exposed by graph surgery, so that the sample is drawn from OvDiff's seed instead.
/// </summary>
internal sealed class VaeEncoderOutput
{
    private readonly string? _meanOutput;
    private readonly string? _stdOutput;
    private readonly string? _parametersOutput;

    private VaeEncoderOutput(string? parameters, string? mean, string? std)
    {
        _parametersOutput = parameters;
        _meanOutput = mean;
        _stdOutput = std;
    }

    public static (OnnxModelSession Session, VaeEncoderOutput Output) Open(string path, OnnxRuntimeOptions runtime)
    {
        var info = OnnxGraphInfo.Read(path);
        var input = OnnxTensorSpec.AnyFloat("sample", 4) with { Dimensions = [-1, 3, -1, -1] };
        if (info.Outputs.Any(o => o.Name == "latent_parameters"))
        {
            var session = OnnxModelSession.Open(path, runtime, [input], [OnnxTensorSpec.AnyFloat("latent_parameters", 4)], "vae_encoder/model.onnx of a Stable Diffusion folder.");
            return (session, new VaeEncoderOutput("latent_parameters", null, null));
        }

        if (info.Outputs.All(o => o.Name != "latent_sample"))
        {
            throw new OnnxModelMismatchException(
                $"The VAE encoder '{path}' has outputs {string.Join(", ", info.Outputs)}; expected latent_sample (diffusers) or latent_parameters (Optimum).");
        }

        var model = OnnxGraphSurgery.Load(path, "vae_encoder/model.onnx of a Stable Diffusion folder.");
        var (mean, std) = FindSampling(model, path);
        OnnxGraphSurgery.SetOutputs(model, [mean, std], path);
        var external = OnnxGraphSurgery.HasExternalData(model) ? Path.GetDirectoryName(Path.GetFullPath(path)) : null;
        var patched = OnnxModelSession.FromBytes(
            model.ToByteArray(),
            path,
            runtime,
            [input],
            [OnnxTensorSpec.AnyFloat(mean, 4), OnnxTensorSpec.AnyFloat(std, 4)],
            external);
        return (patched, new VaeEncoderOutput(null, mean, std));
    }

    /// <summary>Encodes one planar [-1, 1] image; returns the latent mean and standard deviation (4 x h x w each).</summary>
    public (float[] Mean, float[] Std) Encode(OnnxModelSession session, float[] planar, int height, int width, CancellationToken cancellationToken)
    {
        using var input = new OrtBuffer(session.InputMetadata["sample"].ElementDataType, [1, 3, height, width]);
        input.Write(planar);
        var inputs = new Dictionary<string, OrtValue> { ["sample"] = input.Value };
        if (_parametersOutput is not null)
        {
            using var outputs = session.Run(inputs, [_parametersOutput], cancellationToken);
            var parameters = OnnxModelSession.ReadFloatTensor(outputs[0], out var shape);
            var half = parameters.Length / 2;
            if (shape.Length != 4 || shape[1] != 8)
            {
                throw new OnnxModelMismatchException($"latent_parameters has shape [{string.Join(",", shape)}]; expected [1, 8, h, w] (mean and log-variance).");
            }

            var mean = parameters.AsSpan(0, half).ToArray();
            var std = new float[half];
            for (var i = 0; i < half; i++)
            {
                // diffusers' DiagonalGaussianDistribution: logvar clamped to [-30, 20], std = exp(logvar / 2).
                std[i] = MathF.Exp(0.5f * Math.Clamp(parameters[half + i], -30f, 20f));
            }

            return (mean, std);
        }

        using (var outputs = session.Run(inputs, [_meanOutput!, _stdOutput!], cancellationToken))
        {
            return (OnnxModelSession.ReadFloatTensor(outputs[0], out _), OnnxModelSession.ReadFloatTensor(outputs[1], out _));
        }
    }

    /// <summary>Finds <c>Add(mean, Mul(std, RandomNormalLike(...)))</c>, the in-graph sampling of diffusers' export.</summary>
    private static (string Mean, string Std) FindSampling(ModelProto model, string path)
    {
        var nodes = model.Graph.Node;
        var random = nodes.FirstOrDefault(n => n.OpType is "RandomNormalLike" or "RandomNormal")
            ?? throw new OnnxModelMismatchException($"The VAE encoder '{path}' outputs latent_sample but has no RandomNormalLike node to replace by a seeded sample.");
        var noise = random.Output[0];
        var multiply = nodes.FirstOrDefault(n => n.OpType == "Mul" && n.Input.Contains(noise));
        var add = multiply is null ? null : nodes.FirstOrDefault(n => n.OpType == "Add" && n.Input.Contains(multiply.Output[0]));
        if (multiply is null || add is null)
        {
            throw new OnnxModelMismatchException($"The VAE encoder '{path}': the sampling mean + std * noise was not found around its {random.OpType} node.");
        }

        return (add.Input.First(i => i != multiply.Output[0]), multiply.Input.First(i => i != noise));
    }
}
