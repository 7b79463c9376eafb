using OvDiff.Core.Segmentation;
using OvDiff.Onnx.Text;

namespace OvDiff.Diffusion.Tests;

/// <summary>Support requests as the store forms them: the reference's prompts, SupportImageRequest.DeriveSeed, the class name's tokens.</summary>
internal static class SupportRequests
{
    public static SupportImageRequest For(ClipTokenizer tokenizer, string className, int index, long seed)
    {
        var prompt = SupportImageRequest.ReferencePromptTemplate.Replace("{class}", className, StringComparison.Ordinal);
        return new SupportImageRequest(prompt, SupportImageRequest.ReferenceNegativePrompt, SupportImageRequest.DeriveSeed((ulong)seed, className, index), tokenizer.FindPhrase(prompt, className));
    }
}
