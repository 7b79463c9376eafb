using OvDiff.Imaging;

namespace OvDiff.Eval.Datasets;

/// <summary>
/// A benchmark split: ordered ids, class names, where each image is and how to read its ground truth. Implementations
/// hold only the id list and small indexes, never images or labels: those are read one at a time through an
/// <see cref="IGroundTruthReader"/>, so memory stays flat whatever the dataset's size.
/// </summary>
public interface IEvalDataset
{
    /// <summary>A short description (kind, root, split) for reports and errors.</summary>
    string Description { get; }

    /// <summary>Class names in label order.</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>The label no metric counts (255 by default).</summary>
    int IgnoreIndex { get; }

    /// <summary>The split's ids, in split-file order.</summary>
    IReadOnlyList<string> Ids { get; }

    /// <summary>The image file of <paramref name="id"/>.</summary>
    string GetImagePath(string id);

    /// <summary>A reader for ground truth; not thread-safe, make one per worker.</summary>
    IGroundTruthReader CreateGroundTruthReader();
}

/// <summary>Reads ground-truth label maps one at a time into a reused buffer.</summary>
public interface IGroundTruthReader
{
    /// <summary>Where the ground truth of <paramref name="id"/> comes from (a file), for error messages.</summary>
    string DescribeSource(string id);

    /// <summary>Reads the labels of <paramref name="id"/> into <paramref name="labels"/> (grown when too small).</summary>
    LabelImageSize Read(string id, ref byte[] labels);
}

/// <summary>A dataset that cannot be used as configured (missing folder, empty split, class list mismatch); the message names the file.</summary>
public sealed class DatasetException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DatasetException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
