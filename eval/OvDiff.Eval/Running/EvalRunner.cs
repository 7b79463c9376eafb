using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OvDiff.Core.Images;
using OvDiff.Core.IO;
using OvDiff.Core.Segmentation;
using OvDiff.Eval.Configuration;
using OvDiff.Eval.Datasets;
using OvDiff.Eval.Metrics;
using OvDiff.Eval.Reports;
using OvDiff.Imaging;

namespace OvDiff.Eval.Running;

/// <summary>What a run produced.</summary>
/// <param name="Counts">The shard's final counts (also saved at <paramref name="CountsPath"/>).</param>
/// <param name="CountsPath">Where the counts are saved.</param>
/// <param name="Metrics">The metrics, for an unsharded run; null for a shard (merge the shards).</param>
/// <param name="OutputDir">The report folder.</param>
public sealed record EvalOutcome(CountsFile Counts, string CountsPath, SegmentationMetrics? Metrics, string OutputDir);

/// <summary>
/// Scores a dataset split (or one shard of it) against a prediction folder or a segmenter, streaming one image at a
/// time (memory does not grow with the split), checkpointing the counts atomically, and writing the reports
/// (<see cref="ReportWriter"/>) when the whole split was evaluated. Cancellation is checked between images: the
/// counts of every finished image are saved before <see cref="OperationCanceledException"/> propagates, and
/// <see cref="EvalRunOptions.Resume"/> continues from them.
/// </summary>
public static class EvalRunner
{
    /// <summary>Runs the evaluation that <paramref name="config"/> and <paramref name="options"/> describe.</summary>
    public static EvalOutcome Run(EvalConfig config, EvalRunOptions options, IProgress<EvalProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        if (options.Shard.Count == 1)
        {
            // The report's template and plotly.js are made ready on another thread while the images are scored.
            _ = Task.Run(HtmlReport.Warm, CancellationToken.None);
        }

        IEvalDataset dataset = DatasetFactory.Open(config.Dataset);
        string outputDir = ResolveOutputDir(config, options);
        using OutputFolderLock outputLock = OutputFolderLock.Acquire(outputDir, options.Shard);
        IReadOnlyList<string> ids = options.Shard.Select(dataset.Ids);
        string countsPath = Path.Combine(outputDir, CountsFile.FileNameFor(options.Shard));

        ISegmenter? segmenter = null;
        CountsFile state;
        bool finishedBefore;
        try
        {
            IImageScorer scorer;
            if (options.PredictionsDir is not null)
            {
                scorer = new PredictionFolderScorer(options.PredictionsDir, dataset.ClassNames);
            }
            else
            {
                SegmenterFactory factory = options.SegmenterFactory
                    ?? throw new ConfigException("No prediction folder and no segmenter: pass --predictions DIR, or run a build of ovdiff that provides a segmenter.");
                segmenter = factory(config);
                if (segmenter.ClassNames.Count != dataset.ClassNames.Count)
                {
                    throw new ConfigException($"The segmenter has {segmenter.ClassNames.Count} classes, the dataset {dataset.ClassNames.Count} ({dataset.Description}).");
                }

                scorer = new SegmenterScorer(segmenter, config.Output.SavePredictions ? Path.Combine(outputDir, "predictions") : null);
            }

            // The identity needs the segmenter (its model's content hash, its options after the config was applied).
            RunIdentity identity = RunIdentity.For(config, dataset, options.PredictionsDir, segmenter);
            state = StartOrResume(config, options, dataset, DescribeSource(config, options), identity, ids.Count, countsPath);
            finishedBefore = state.IsComplete;
            AtomicFile.WriteAllBytes(Path.Combine(outputDir, "config.json"), Encoding.UTF8.GetBytes(ConfigLoader.ToJson(config)));
            state = Score(dataset, ids, scorer, state, countsPath, outputDir, config.Output.CheckpointEvery, options, progress, cancellationToken);
        }
        finally
        {
            (segmenter as IDisposable)?.Dispose();
        }

        ThrowIfNothingScored(state, countsPath);
        SegmentationMetrics? metrics = null;
        if (options.Shard.Count == 1)
        {
            // A resumed run that had already finished rewrites its reports but is not a new row of the ledger.
            metrics = ReportWriter.WriteReports(outputDir, config.Output.Ledger ?? DefaultLedger(), state, appendLedger: !finishedBefore);
        }

        return new EvalOutcome(state, countsPath, metrics, outputDir);
    }

    /// <summary>
    /// A finished run in which every image was skipped as bad input has no metrics (they would be NaN): an error naming
    /// the first reasons, rather than a report and a ledger row.
    /// </summary>
    internal static void ThrowIfNothingScored(CountsFile state, string countsPath)
    {
        if (state.IsComplete && state.Scored == 0 && state.Skipped.Count > 0)
        {
            string reasons = string.Join("; ", state.Skipped.Take(3).Select(s => s.Reason));
            throw new BadInputException(state.Skipped[0].Id,
                $"Every one of the {state.Skipped.Count} images was skipped as bad input, so there is nothing to score (counts in {countsPath}). First: {reasons}");
        }
    }

    /// <summary>The report folder: --out, else output.dir, else runs/&lt;name&gt;.</summary>
    public static string ResolveOutputDir(EvalConfig config, EvalRunOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        return Path.GetFullPath(options.OutputDir ?? config.Output.Dir ?? Path.Combine("runs", config.Name ?? "eval"));
    }

    /// <summary>The default results ledger: runs/ledger.csv under the working directory.</summary>
    public static string DefaultLedger() => Path.GetFullPath(Path.Combine("runs", "ledger.csv"));

    private static CountsFile StartOrResume(EvalConfig config, EvalRunOptions options, IEvalDataset dataset, string source, RunIdentity identity, int shardImages, string countsPath)
    {
        if (options.Resume && File.Exists(countsPath))
        {
            CountsFile saved = CountsFile.Load(countsPath);
            if (saved.Identity is null || !saved.HasImageResults)
            {
                throw new ConfigException($"{countsPath}: saved by an older ovdiff (format {saved.FormatVersion}: no per-image results or run identity); remove the file or drop --resume.");
            }

            IReadOnlyList<string> differences = new RunIdentity(saved.Identity).Differences(identity, "saved", "now");
            if (differences.Count > 0)
            {
                throw new ConfigException($"{countsPath}: saved counts belong to another run; {string.Join("; ", differences)}. Remove the file or drop --resume.");
            }

            if (saved.ShardImages != shardImages || saved.ShardCount != options.Shard.Count || saved.ShardIndex != options.Shard.Index)
            {
                throw new ConfigException($"{countsPath}: saved counts are of shard {saved.ShardIndex}/{saved.ShardCount} ({saved.ShardImages} images), this run is shard {options.Shard.Index}/{options.Shard.Count} ({shardImages} images); remove the file or drop --resume.");
            }

            return saved;
        }

        int k = dataset.ClassNames.Count;
        return new CountsFile
        {
            Name = config.Name ?? "eval",
            Fingerprint = identity.Fingerprint,
            Identity = identity.Parts,
            Dataset = dataset.Description,
            Source = source,
            ClassNames = [.. dataset.ClassNames],
            ShardIndex = options.Shard.Index,
            ShardCount = options.Shard.Count,
            ShardImages = shardImages,
            Counts = new long[k * k],
        };
    }

    private static CountsFile Score(IEvalDataset dataset, IReadOnlyList<string> ids, IImageScorer scorer, CountsFile state, string countsPath, string outputDir, int checkpointEvery, EvalRunOptions options, IProgress<EvalProgress>? progress, CancellationToken cancellationToken)
    {
        var matrix = new ConfusionMatrix(dataset.ClassNames.Count, state.Counts);
        var skipped = new List<SkippedImage>(state.Skipped);
        var images = new List<ImageResult>(state.Images);
        var imageMatrix = new ConfusionMatrix(dataset.ClassNames.Count);
        var extremes = new ReportImages.Tracker(state.Images);
        var counter = new PixelPairCounter();
        int done = state.Done, scored = state.Scored, sinceCheckpoint = 0, sessionStart = state.Done;
        var session = Stopwatch.StartNew();
        TimeSpan lastCheckpoint = TimeSpan.Zero;

        CountsFile Snapshot() => state with
        {
            Done = done,
            Scored = scored,
            Skipped = [.. skipped],
            Images = [.. images],
            Counts = (long[])matrix.Counts.Clone(),
            Seconds = state.Seconds + session.Elapsed.TotalSeconds,
        };

        // A prediction folder can be read again: its thumbnails are made at the end, for the images that stay among the
        // worst and best only (a segmenter's predictions are gone after scoring: made when an image enters, as a run goes).
        bool deferThumbnails = scorer is PredictionFolderScorer;

        // The next images are read and decoded on another thread while this one segments and scores the current one.
        using var prefetch = new Prefetcher(dataset, scorer, ids, done, options.ReadAhead, cancellationToken);
        try
        {
            while (done < ids.Count)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string id = ids[done];
                PreparedImage prepared = prefetch.Next();
                byte[] labels = prepared.Labels;
                try
                {
                    ScoredImage prediction = ScoreOne(dataset, scorer, counter, imageMatrix, prepared, cancellationToken);
                    matrix.Add(imageMatrix);
                    ImageResult result = ImageResult.FromCounts(id, imageMatrix) with { Prefilter = prediction.Prefilter };
                    images.Add(result);
                    scored++;
                    if (extremes.Admit(result) && !deferThumbnails)
                    {
                        // Written before the checkpoint that records the image, so a resumed run has it.
                        WriteThumbnail(outputDir, dataset, id, prediction, labels);
                    }
                }
                catch (BadInputException e) when (options.SkipBad)
                {
                    skipped.Add(new SkippedImage(id, e.Message));
                }

                done++;
                sinceCheckpoint++;
                if (sinceCheckpoint >= checkpointEvery || session.Elapsed - lastCheckpoint >= options.CheckpointInterval)
                {
                    Snapshot().Save(countsPath);
                    sinceCheckpoint = 0;
                    lastCheckpoint = session.Elapsed;
                }

                if (progress is not null)
                {
                    double rate = (done - sessionStart) / Math.Max(session.Elapsed.TotalSeconds, 1e-9);
                    progress.Report(new EvalProgress(done, ids.Count, skipped.Count, rate, TimeSpan.FromSeconds((ids.Count - done) / Math.Max(rate, 1e-9))));
                }
            }
        }
        finally
        {
            // Every finished image is saved, whether the run ended, failed on bad input or was cancelled.
            state = Snapshot();
            state.Save(countsPath);
        }

        if (state.IsComplete)
        {
            if (deferThumbnails)
            {
                WriteMissingThumbnails(outputDir, dataset, scorer, extremes.KeptIds, cancellationToken);
            }

            PruneThumbnails(outputDir, ids, extremes.KeptIds);
        }

        return state;
    }

    /// <summary>The comparison strip of a scored image for the report; an image that cannot be decoded gets none (the report says so).</summary>
    private static void WriteThumbnail(string outputDir, IEvalDataset dataset, string id, ScoredImage scored, byte[] groundTruth)
    {
        RgbImage image;
        try
        {
            image = scored.Image ?? ImageDecoder.Decode(dataset.GetImagePath(id), ExifOrientation.Ignore);
        }
        catch (Exception e) when (e is ImageFormatException or IOException)
        {
            return;
        }

        if (image.Width != scored.Size.Width || image.Height != scored.Size.Height)
        {
            return;
        }

        var truth = new LabelMap(image.Width, image.Height, groundTruth.AsSpan(0, scored.Size.PixelCount).ToArray());
        var prediction = new LabelMap(image.Width, image.Height, scored.Labels.ToArray());
        string path = ReportImages.ThumbnailPath(outputDir, id);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.WriteAllBytes(path, new ComparisonStrip().Encode(image, truth, prediction));
    }

    /// <summary>
    /// The thumbnails of <paramref name="keptIds"/> that are not there yet, from the ground truth and predictions read
    /// again (one after the other: the readers keep buffers), then drawn in parallel. An image that cannot be read now gets none.
    /// </summary>
    private static void WriteMissingThumbnails(string outputDir, IEvalDataset dataset, IImageScorer scorer, IEnumerable<string> keptIds, CancellationToken cancellationToken)
    {
        IGroundTruthReader reader = dataset.CreateGroundTruthReader();
        var pending = new List<(PreparedImage Prepared, ScoredImage Prediction)>();
        foreach (string id in keptIds.Distinct(StringComparer.Ordinal).Where(id => !File.Exists(ReportImages.ThumbnailPath(outputDir, id))))
        {
            PreparedImage prepared = Prefetcher.Prepare(dataset, scorer, reader, id);
            if (prepared.Error is null)
            {
                Prediction prediction = scorer.Predict(id, prepared.ImagePath, prepared.Size, prepared.GroundTruthSource, prepared.Input, cancellationToken);
                pending.Add((prepared, new ScoredImage(prediction.Labels, prediction.Image, prepared.Size, null)));
            }
        }

        Parallel.ForEach(pending, new ParallelOptions { CancellationToken = cancellationToken }, item =>
            WriteThumbnail(outputDir, dataset, item.Prepared.Id, item.Prediction, item.Prepared.Labels));
    }

    /// <summary>Deletes the thumbnails of this shard's images that are no longer among the worst or best (other shards' are left alone).</summary>
    private static void PruneThumbnails(string outputDir, IReadOnlyList<string> shardIds, IEnumerable<string> keptIds)
    {
        string folder = Path.Combine(outputDir, ReportImages.FolderName);
        if (!Directory.Exists(folder))
        {
            return;
        }

        var kept = new HashSet<string>(keptIds, StringComparer.Ordinal);
        var own = new HashSet<string>(shardIds, StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(folder, "*.jpg"))
        {
            string id = Uri.UnescapeDataString(Path.GetFileNameWithoutExtension(file));
            if (own.Contains(id) && !kept.Contains(id))
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>Scores one prepared image into <paramref name="matrix"/>, which is cleared first and holds only this image's counts after.</summary>
    private static ScoredImage ScoreOne(IEvalDataset dataset, IImageScorer scorer, PixelPairCounter counter, ConfusionMatrix matrix, PreparedImage prepared, CancellationToken cancellationToken)
    {
        matrix.Clear();
        if (prepared.Error is { } failed)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failed).Throw();
        }

        string id = prepared.Id;
        LabelImageSize size = prepared.Size;
        Prediction prediction = scorer.Predict(id, prepared.ImagePath, size, prepared.GroundTruthSource, prepared.Input, cancellationToken);
        LabelRangeError? error = counter.Accumulate(prepared.Labels.AsSpan(0, size.PixelCount), prediction.Labels.Span, matrix, dataset.IgnoreIndex);
        if (error is { } bad)
        {
            string file = bad.Source == LabelSource.GroundTruth ? prepared.GroundTruthSource : prediction.Source;
            string which = bad.Source == LabelSource.GroundTruth ? "ground-truth" : "predicted";
            throw new BadInputException(id, $"{file}: {which} label value {bad.Value} is outside the {matrix.ClassCount} classes 0..{matrix.ClassCount - 1} (and is not the ignore label {dataset.IgnoreIndex}) at {bad.PixelCount} scored pixels.");
        }

        ImagePrefilter? prefilter = prediction.Prefilter is { } p ? new ImagePrefilter(p.Method, p.Kept, p.Dropped, p.Milliseconds) : null;
        return new ScoredImage(prediction.Labels, prediction.Image, size, prefilter);
    }

    /// <summary>One image read ahead: its ground truth and what the scorer prepared (decoded image or prediction), or the error reading them gave.</summary>
    private sealed record PreparedImage(string Id, string ImagePath, string GroundTruthSource, byte[] Labels, LabelImageSize Size, object? Input, Exception? Error);

    /// <summary>
    /// Reads the ground truth and the scorer's input of the next images on a background thread, a few ahead of the
    /// scoring loop, in split order (so decoding overlaps segmentation and counting). Errors travel with their image.
    /// </summary>
    private sealed class Prefetcher : IDisposable
    {
        private readonly System.Collections.Concurrent.BlockingCollection<PreparedImage> _queue;
        private readonly CancellationTokenSource _stop;
        private readonly Task _producer;
        private readonly Func<PreparedImage>? _inline;

        public Prefetcher(IEvalDataset dataset, IImageScorer scorer, IReadOnlyList<string> ids, int start, int ahead, CancellationToken cancellationToken)
        {
            _queue = new(Math.Max(ahead, 1));
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (ahead <= 0)
            {
                // No read-ahead: each image is read when the loop asks for it.
                IGroundTruthReader reader = dataset.CreateGroundTruthReader();
                int next = start;
                _inline = () => Prepare(dataset, scorer, reader, ids[next++]);
                _producer = Task.CompletedTask;
                return;
            }

            CancellationToken stop = _stop.Token;
            _producer = Task.Run(() =>
            {
                IGroundTruthReader groundTruth = dataset.CreateGroundTruthReader();
                try
                {
                    for (int i = start; i < ids.Count && !stop.IsCancellationRequested; i++)
                    {
                        _queue.Add(Prepare(dataset, scorer, groundTruth, ids[i]), stop);
                    }
                }
                catch (OperationCanceledException)
                {
                }
                finally
                {
                    _queue.CompleteAdding();
                }
            }, CancellationToken.None);
        }

        /// <summary>The next image in order (blocks until it is read).</summary>
        public PreparedImage Next() => _inline is not null ? _inline() : _queue.Take(_stop.Token);

        public void Dispose()
        {
            _stop.Cancel();
            try
            {
                _producer.Wait();
            }
            catch (AggregateException)
            {
            }

            _queue.Dispose();
            _stop.Dispose();
        }

        public static PreparedImage Prepare(IEvalDataset dataset, IImageScorer scorer, IGroundTruthReader groundTruth, string id)
        {
            string imagePath = dataset.GetImagePath(id);
            string source = groundTruth.DescribeSource(id);
            byte[] labels = [];
            try
            {
                LabelImageSize size;
                try
                {
                    size = groundTruth.Read(id, ref labels);
                }
                catch (Exception e) when (e is ImageFormatException or DatasetException)
                {
                    throw new BadInputException(id, $"ground truth of '{id}': {e.Message}", e);
                }

                return new PreparedImage(id, imagePath, source, labels, size, scorer.Prepare(id, imagePath, size, source), null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return new PreparedImage(id, imagePath, source, labels, default, null, e);
            }
        }
    }

    private static string DescribeSource(EvalConfig config, EvalRunOptions options) =>
        options.PredictionsDir is not null
            ? "predictions " + Path.GetFullPath(options.PredictionsDir)
            : $"segmenter {config.Segmenter.Model ?? "(default)"} protocol {JsonSerializer.Serialize(config.Protocol, ConfigLoader.SerializerOptions).ReplaceLineEndings(" ")}";

    /// <summary>A prediction: its labels, where they came from (for errors), the decoded image when the scorer had it, and what a class pre-filter decided.</summary>
    private readonly record struct Prediction(ReadOnlyMemory<byte> Labels, string Source, RgbImage? Image, PrefilterOutcome? Prefilter = null);

    /// <summary>A scored image's prediction, size and pre-filter decision, valid until the next image is scored.</summary>
    private readonly record struct ScoredImage(ReadOnlyMemory<byte> Labels, RgbImage? Image, LabelImageSize Size, ImagePrefilter? Prefilter);

    /// <summary>Predictions for images: <see cref="Prepare"/> runs on the read-ahead thread (decoding), <see cref="Predict"/> on the scoring loop.</summary>
    private interface IImageScorer
    {
        object? Prepare(string id, string imagePath, LabelImageSize groundTruthSize, string groundTruthSource);

        Prediction Predict(string id, string imagePath, LabelImageSize groundTruthSize, string groundTruthSource, object? prepared, CancellationToken cancellationToken);
    }

    /// <summary>
    /// Reads &lt;id&gt;.png from a folder. When the folder has a label table (labels.csv, written by ovdiff segment) its
    /// labels are matched to the dataset's classes by name, so a folder written in a model's class order scores right.
    /// </summary>
    private sealed class PredictionFolderScorer : IImageScorer
    {
        private readonly LabelPngReader _reader = new();
        private readonly string _folder;
        private readonly byte[]? _toDataset;

        public PredictionFolderScorer(string folder, IReadOnlyList<string> datasetClasses)
        {
            _folder = Directory.Exists(folder) ? folder : throw new ConfigException($"Prediction folder '{folder}' does not exist.");
            if (LabelTable.Read(folder) is { } names && !names.SequenceEqual(datasetClasses, ClassNaming.Comparer))
            {
                _toDataset = ClassNaming.MapByName(names, datasetClasses, name => new ConfigException(
                    $"{Path.Combine(folder, LabelTable.FileName)}: label '{name}' is not one of the dataset's classes ({string.Join(", ", datasetClasses)})."));
            }
        }

        public object? Prepare(string id, string imagePath, LabelImageSize groundTruthSize, string groundTruthSource)
        {
            if (!File.Exists(imagePath))
            {
                throw new BadInputException(id, $"{imagePath}: image of id '{id}' is missing.");
            }

            string path = Path.Combine(_folder, id + ".png");
            byte[] labels = [];
            LabelImageSize size;
            try
            {
                size = _reader.ReadInto(path, ref labels);
            }
            catch (ImageFormatException e)
            {
                throw new BadInputException(id, $"prediction of '{id}': {e.Message}", e);
            }

            if (size != groundTruthSize)
            {
                bool turned = size.Width == groundTruthSize.Height && size.Height == groundTruthSize.Width;
                throw new BadInputException(id, $"{path}: prediction is {size.Width}x{size.Height} but the ground truth {groundTruthSource} is {groundTruthSize.Width}x{groundTruthSize.Height}"
                    + (turned ? " (turned 90 degrees: was the image turned upright by its EXIF orientation? ground truth annotates the stored pixels; `ovdiff segment --stored-orientation` keeps them)." : "."));
            }

            if (_toDataset is not null)
            {
                Span<byte> mapped = labels.AsSpan(0, size.PixelCount);
                for (int i = 0; i < mapped.Length; i++)
                {
                    mapped[i] = _toDataset[mapped[i]];
                }
            }

            return new Prediction(labels.AsMemory(0, size.PixelCount), path, null);
        }

        public Prediction Predict(string id, string imagePath, LabelImageSize groundTruthSize, string groundTruthSource, object? prepared, CancellationToken cancellationToken) =>
            (Prediction)prepared!;
    }

    private sealed class SegmenterScorer(ISegmenter segmenter, string? saveFolder) : IImageScorer
    {
        public object? Prepare(string id, string imagePath, LabelImageSize groundTruthSize, string groundTruthSource)
        {
            RgbImage image;
            try
            {
                image = ImageDecoder.Decode(imagePath, ExifOrientation.Ignore);   // ground truth annotates the stored pixels
            }
            catch (ImageFormatException e)
            {
                throw new BadInputException(id, $"image of '{id}': {e.Message}", e);
            }

            if (image.Width != groundTruthSize.Width || image.Height != groundTruthSize.Height)
            {
                throw new BadInputException(id, $"{imagePath}: image is {image.Width}x{image.Height} but its ground truth {groundTruthSource} is {groundTruthSize.Width}x{groundTruthSize.Height}.");
            }

            return image;
        }

        public Prediction Predict(string id, string imagePath, LabelImageSize groundTruthSize, string groundTruthSource, object? prepared, CancellationToken cancellationToken)
        {
            var image = (RgbImage)prepared!;
            SegmentationOutcome outcome;
            try
            {
                outcome = segmenter.SegmentWithPrefilter(image, cancellationToken);
            }
            catch (ImageTooLargeException e)
            {
                throw new BadInputException(id, $"{imagePath}: {e.Message}", e);
            }

            LabelMap prediction = outcome.Labels;
            string source = $"segmenter output for {imagePath}";
            if (prediction.Width != image.Width || prediction.Height != image.Height)
            {
                throw new BadInputException(id, $"{source}: segmenter returned {prediction.Width}x{prediction.Height} for a {image.Width}x{image.Height} image.");
            }

            if (saveFolder is not null)
            {
                string path = Path.Combine(saveFolder, id + ".png");
                LabelPngWriter.Write(path, prediction);
                source = path;
            }

            return new Prediction(prediction.Labels, source, image, outcome.Prefilter);
        }
    }
}
