using OvDiff.Eval.Metrics;

namespace OvDiff.Eval.Reports;

/// <summary>
/// The images the HTML report shows: the <see cref="PerSide"/> worst and best by per-image mIoU (ties: the first ids; images
/// with nothing scored are left out), and where their comparison strips (<see cref="Imaging.ComparisonStrip"/>) live:
/// <c>thumbnails/&lt;id&gt;.jpg</c> in the run folder, the id escaped as a URI data string.
/// </summary>
public static class ReportImages
{
    /// <summary>How many worst and how many best images are shown (and kept as thumbnails).</summary>
    public const int PerSide = 6;

    /// <summary>The thumbnail folder's name inside a run folder.</summary>
    public const string FolderName = "thumbnails";

    /// <summary>The worst images (lowest mIoU first) and the best (highest first).</summary>
    public static (IReadOnlyList<ImageResult> Worst, IReadOnlyList<ImageResult> Best) Select(IEnumerable<ImageResult> images, int perSide = PerSide)
    {
        ArgumentNullException.ThrowIfNull(images);
        ImageResult[] scored = [.. images.Where(i => !double.IsNaN(i.MeanIoU))];
        return ([.. scored.Order(Ranking.Worst).Take(perSide)], [.. scored.Order(Ranking.Best).Take(perSide)]);
    }

    /// <summary>The thumbnail path of image <paramref name="id"/> in run folder <paramref name="runDir"/>.</summary>
    public static string ThumbnailPath(string runDir, string id) => Path.Combine(runDir, FolderName, Uri.EscapeDataString(id) + ".jpg");

    /// <summary>
    /// Keeps the current worst and best images while a run scores them, so that a thumbnail is made only for an image
    /// that enters either set (a few dozen per thousand images in random order).
    /// </summary>
    internal sealed class Tracker
    {
        private readonly SortedSet<ImageResult> _worst = new(Ranking.Worst);
        private readonly SortedSet<ImageResult> _best = new(Ranking.Best);
        private readonly int _perSide;

        public Tracker(IEnumerable<ImageResult> scored, int perSide = PerSide)
        {
            _perSide = perSide;
            foreach (ImageResult image in scored)
            {
                Admit(image);
            }
        }

        /// <summary>The ids now in either set.</summary>
        public IEnumerable<string> KeptIds => _worst.Concat(_best).Select(i => i.Id);

        /// <summary>Adds <paramref name="image"/>; true when it entered the worst or the best set.</summary>
        public bool Admit(ImageResult image)
        {
            if (double.IsNaN(image.MeanIoU))
            {
                return false;
            }

            bool entered = Offer(_worst, image);
            return Offer(_best, image) | entered;
        }

        // Each set keeps its first entries in its own ranking; an image tying with the last kept one does not enter.
        private bool Offer(SortedSet<ImageResult> set, ImageResult image)
        {
            set.Add(image);
            if (set.Count <= _perSide)
            {
                return true;
            }

            ImageResult evicted = set.Max!;
            set.Remove(evicted);
            return !ReferenceEquals(evicted, image);
        }
    }

    /// <summary>
    /// Worst: ascending per-image mIoU; best: descending. Ties go to the lower ordinal id in both, so a run whose images
    /// tie (every image perfect, say) keeps its first images and makes no thumbnail for the later ones.
    /// </summary>
    private sealed class Ranking(bool highFirst) : IComparer<ImageResult>
    {
        public static readonly Ranking Worst = new(highFirst: false);

        public static readonly Ranking Best = new(highFirst: true);

        public int Compare(ImageResult? x, ImageResult? y)
        {
            int byScore = highFirst ? y!.MeanIoU.CompareTo(x!.MeanIoU) : x!.MeanIoU.CompareTo(y!.MeanIoU);
            return byScore != 0 ? byScore : string.CompareOrdinal(x.Id, y.Id);
        }
    }
}
