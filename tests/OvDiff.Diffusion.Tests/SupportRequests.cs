using OvDiff.Core.Segmentation;
using OvDiff.Imaging.Support;
using OvDiff.Onnx.Text;

namespace OvDiff.Diffusion.Tests;

/// <summary>Support requests as the store forms them: the reference's prompts, SupportStore.ItemSeed, the class name's tokens.</summary>
internal static class SupportRequests
{
    public static SupportImageRequest For(ClipTokenizer tokenizer, string className, int index, long seed)
    {
        var prompt = SupportSamplingSettings.DefaultPromptTemplate.Replace("{class}", className, StringComparison.Ordinal);
        return new SupportImageRequest(prompt, SupportSamplingSettings.DefaultNegativePrompt, SupportStore.ItemSeed(seed, className, index), tokenizer.FindPhrase(prompt, className));
    }
}
