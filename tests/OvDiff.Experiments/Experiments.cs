namespace OvDiff.Experiments;

internal static class Experiments
{
    public static void Run(string name, List<ImageRecord> all)
    {
        switch (name)
        {
            case "baseline":
                foreach (Picking picking in new[] { Picking.AloneFirst, Picking.ById })
                {
                    Fold holdout = Folds.Holdout(all, picking, 16);
                    Program.Report($"holdout {picking} naive min0.1", [(holdout.Name, Program.Evaluate(holdout, Fitting.Naive(holdout.Support), null, 0.1f))]);
                    Program.Report($"holdout {picking} naive oracle", [(holdout.Name, Program.Evaluate(holdout, Fitting.Naive(holdout.Support), Oracle, 0f))]);
                    var cv = Folds.CrossValidation(all, 3, 1, picking, 16).ToList();
                    Program.Report($"cv3 {picking} naive min0.1", cv.Select(f => (f.Name, Program.Evaluate(f, Fitting.Naive(f.Support), null, 0.1f))).ToList());
                    Program.Report($"cv3 {picking} naive oracle", cv.Select(f => (f.Name, Program.Evaluate(f, Fitting.Naive(f.Support), Oracle, 0f))).ToList());
                }

                break;
            case "seg-oracle":
            {
                var cv = Folds.CrossValidation(all, 3, 1, Picking.AloneFirst, 16).ToList();
                foreach ((string label, Func<Fold, Protos> fit) in new (string, Func<Fold, Protos>)[]
                {
                    ("mean", f => Fitting.Naive(f.Support)),
                    ("mean+imgbg", f => Levels.WithPerImage(f.Support, false, true, 0, 0)),
                    ("mean+imgfg+imgbg", f => Levels.WithPerImage(f.Support, true, true, 0, 0)),
                    ("mean+bgk8", f => Levels.WithPerImage(f.Support, false, false, 8, 0)),
                })
                {
                    var fitted = cv.Select(f => (f, fit(f))).ToList();
                    Program.Report($"oracle {label}", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    if (label == "mean")
                    {
                        foreach (float alpha in new[] { 0.3f, 0.5f, 0.7f })
                        {
                            Program.Report($"oracle {label} self a{alpha}", fitted.Select(x =>
                            {
                                float[] flat = x.Item2.Flat(512);
                                return (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, alpha)));
                            }).ToList());
                        }
                    }
                }

                break;
            }

            default:
                throw new ArgumentException($"unknown experiment {name}");
        }
    }

    public static bool[] Oracle(ImageRecord image)
    {
        var c = new bool[Engine.Labels];
        foreach (int t in image.Tags)
        {
            c[t] = true;
        }

        return c;
    }
}
