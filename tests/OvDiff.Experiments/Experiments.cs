using OvDiff.Core.Numerics;

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

            case "multitag":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.CrossValidation(all, 3, 1, picking, 16).ToList();
                    foreach ((string label, Func<Fold, Protos> fit) in new (string, Func<Fold, Protos>)[]
                    {
                        ("naive", f => Fitting.Naive(f.Support)),
                        ("mt", f => MultiTag.Fit(f.Support, new MultiTagOptions())),
                        ("mt-nointersect", f => MultiTag.Fit(f.Support, new MultiTagOptions(IntersectSplitBackground: false))),
                        ("mt-single", f => MultiTag.Fit(f.Support, new MultiTagOptions(RefineSingle: true))),
                        ("mt+imgbg", f => MultiTag.Fit(f.Support, new MultiTagOptions(PerImageBackground: true))),
                        ("mt-single+imgbg", f => MultiTag.Fit(f.Support, new MultiTagOptions(RefineSingle: true, PerImageBackground: true))),
                    })
                    {
                        var fitted = cv.Select(f => (f, fit(f))).ToList();
                        Program.Report($"{picking} {label} min0.1", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f))).ToList());
                        Program.Report($"{picking} {label} oracle", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    }
                }

                break;
            }

            case "multitag2":
            {
                foreach (Picking picking in new[] { Picking.ById, Picking.AloneFirstAllTags })
                {
                    var cv = Folds.CrossValidation(all, 3, 1, picking, 16).ToList();
                    foreach ((string label, Func<Fold, Protos> fit) in new (string, Func<Fold, Protos>)[]
                    {
                        ("naive", f => Fitting.Naive(f.Support)),
                        ("mt-nointersect", f => MultiTag.Fit(f.Support, new MultiTagOptions(IntersectSplitBackground: false))),
                        ("mt-initall", f => MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false))),
                        ("mt-initall-it5", f => MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, Iterations: 5, IntersectSplitBackground: false))),
                        ("mt-it0", f => MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, Iterations: 0, IntersectSplitBackground: false))),
                    })
                    {
                        var fitted = cv.Select(f => (f, fit(f))).ToList();
                        Program.Report($"{picking} {label} min0.1", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f))).ToList());
                        Program.Report($"{picking} {label} oracle", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    }
                }

                break;
            }

            case "multitag3":
            {
                foreach (Picking picking in new[] { Picking.ById, Picking.AloneFirstAllTags })
                {
                    var cv = Folds.CrossValidation(all, 3, 1, picking, 16).ToList();
                    foreach ((string label, Func<Fold, Protos> fit) in new (string, Func<Fold, Protos>)[]
                    {
                        ("fgnobg", f => MultiTag.Fit(f.Support, new MultiTagOptions(FgNeverBackground: true, InitAll: true, IntersectSplitBackground: false))),
                        ("fgnobg-bgsingle", f => MultiTag.Fit(f.Support, new MultiTagOptions(FgNeverBackground: true, BgInitSingle: true, InitAll: true, IntersectSplitBackground: false))),
                        ("fgnobg-m02", f => MultiTag.Fit(f.Support, new MultiTagOptions(FgNeverBackground: true, InitAll: true, IntersectSplitBackground: false, Margin: 0.02f))),
                        ("fgnobg-intersect", f => MultiTag.Fit(f.Support, new MultiTagOptions(FgNeverBackground: true, InitAll: true, IntersectSplitBackground: true))),
                    })
                    {
                        var fitted = cv.Select(f => (f, fit(f))).ToList();
                        Program.Report($"{picking} {label} min0.1", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f))).ToList());
                        Program.Report($"{picking} {label} oracle", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    }
                }

                break;
            }

            case "twopass":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags })
                {
                    var cv = Folds.CrossValidation(all, 3, 1, picking, 16).ToList();
                    var fitted = cv.Select(f => (f, MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false)))).ToList();
                    Program.Report($"{picking} mt min0.1", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f))).ToList());
                    Program.Report($"{picking} mt oracle", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    foreach (double t in new[] { 0.05, 0.1, 0.15, 0.2 })
                    {
                        foreach (double rel in new[] { 0.0 })
                        {
                            foreach (float after in new[] { 0f, 0.1f })
                            {
                                Program.Report($"{picking} naive twopass t{t} rel{rel} min{after}", fitted.Select(x =>
                                {
                                    float[] flat = x.Item2.Flat(512);
                                    return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), t, rel), after));
                                }).ToList());
                            }
                        }
                    }
                }

                break;
            }

            case "region":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.CrossValidation(all, 3, 1, picking, 16).ToList();
                    var fitted = cv.Select(f => (f, MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false)), MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false, PerImageForeground: true)))).ToList();
                    Program.Report($"{picking} mt oracle", fitted.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    Program.Report($"{picking} mt twopass0.15", fitted.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(512);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), 0.15), 0f));
                    }).ToList());
                    foreach (double t in new[] { 0.02, 0.05, 0.1 })
                    {
                        foreach (int knn in new[] { 1, 3, 5 })
                        {
                            foreach (bool perImage in new[] { false, true })
                            {
                                if (!perImage && knn > 1)
                                {
                                    continue;
                                }

                                Program.Report($"{picking} mt region t{t} knn{knn} perimg{perImage}", fitted.Select(x =>
                                {
                                    float[] flat = x.Item2.Flat(512);
                                    Protos reference = perImage ? x.Item3 : x.Item2;
                                    float[] refFlat = reference.Flat(512);
                                    return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => RegionCheck.Select(img, Engine.Score(img, x.Item2, flat, Engine.AllClasses), reference, refFlat, t, knn), 0.1f));
                                }).ToList());
                            }
                        }
                    }
                }

                break;
            }

            case "dump":
            {
                using var writer = new StreamWriter("runs/exp/evidence.csv");
                writer.WriteLine("picking,fold,id,cls,present,area,max,mean,gtarea,bgarea,gap,gapmean,top2");
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    foreach (Fold f in Folds.CrossValidation(all, 3, 1, picking, 16))
                    {
                        Protos protos = MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false));
                        float[] flat = protos.Flat(512);
                        foreach (ImageRecord img in f.Test)
                        {
                            GridScores g = Engine.Score(img, protos, flat, Engine.AllClasses);
                            ClassEvidence e = Evidence.FirstPass(g);
                            int cells = g.Height * g.Width;
                            var gt = new double[Engine.Labels];
                            foreach (byte b in img.Truth)
                            {
                                if (b < Engine.Labels)
                                {
                                    gt[b]++;
                                }
                            }

                            // mean over cells of (score_c - best other class score), and max of it
                            for (int c = 1; c < Engine.Labels; c++)
                            {
                                double gap = double.NegativeInfinity, gapSum = 0;
                                int top2 = 0;
                                for (int cell = 0; cell < cells; cell++)
                                {
                                    float sc = g.Planes[(c * cells) + cell];
                                    float other = g.Planes[cell];
                                    int better = 0;
                                    for (int l = 1; l < Engine.Labels; l++)
                                    {
                                        if (l != c)
                                        {
                                            other = Math.Max(other, g.Planes[(l * cells) + cell]);
                                            better += g.Planes[(l * cells) + cell] > sc ? 1 : 0;
                                        }
                                    }

                                    gap = Math.Max(gap, sc - other);
                                    gapSum += sc - other;
                                    top2 += better <= 1 ? 1 : 0;
                                }

                                writer.WriteLine($"{picking},{f.Name},{img.Id},{c},{(img.Tags.Contains(c) ? 1 : 0)},{e.Area[c]:F4},{e.MaxScore[c]:F4},{e.MeanScore[c]:F4},{gt[c] / img.Truth.Length:F4},{e.Area[0]:F4},{gap:F4},{gapSum / cells:F4},{(double)top2 / cells:F4}");
                            }
                        }
                    }
                }

                break;
            }

            case "center":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags })
                {
                    foreach ((string label, bool center, bool sqrt, float threshold) in new[] { ("plain", false, false, 0f), ("center", true, false, 0f), ("center-t-1", true, false, -1f), ("sqrt-center-t-1", true, true, -1f) })
                    {
                        Engine.Threshold = threshold;
                        var results = new List<(string, RunResult)>();
                        var oracle = new List<(string, RunResult)>();
                        var two = new List<(string, RunResult)>();
                        foreach (Fold raw in Folds.CrossValidation(all, 3, 1, picking, 16))
                        {
                            Fold f = raw;
                            if (center)
                            {
                                float[] mean = Transform.SupportMean(raw.Support.Select(s => s.Image), sqrt);
                                var map = Transform.Apply(all, mean, sqrt).ToDictionary(r => r.Original!);
                                f = new Fold(raw.Name, raw.Support.Select(s => (map[s.Image], s.Classes)).ToList(), raw.Test.Select(t => map[t]).ToList());
                            }

                            Protos protos = MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false));
                            float[] flat = protos.Flat(512);
                            results.Add((f.Name, Program.Evaluate(f, protos, null, 0.1f)));
                            oracle.Add((f.Name, Program.Evaluate(f, protos, Oracle, 0f)));
                            two.Add((f.Name, Program.Evaluate(f, protos, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, protos, flat, Engine.AllClasses)), 0.15), 0f)));
                        }

                        Program.Report($"{picking} {label} min0.1", results);
                        Program.Report($"{picking} {label} oracle", oracle);
                        Program.Report($"{picking} {label} twopass0.15", two);
                    }
                }

                break;
            }

            case "elim":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.CrossValidation(all, 3, 1, picking, 16).ToList();
                    var fitted = cv.Select(f => (f, MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false)))).ToList();
                    foreach (double t in new[] { 0.05, 0.1, 0.15, 0.2, 0.25 })
                    {
                        Program.Report($"{picking} mt elim t{t}", fitted.Select(x =>
                        {
                            float[] flat = x.Item2.Flat(512);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Elimination.Select(Engine.Score(img, x.Item2, flat, Engine.AllClasses), t), 0f));
                        }).ToList());
                    }

                    // Which matters: recall or precision of the two-pass at 0.15?
                    Program.Report($"{picking} mt twopass0.15 + all present", fitted.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(512);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => { var k = Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), 0.15); foreach (int tag in img.Tags) { k[tag] = true; } return k; }, 0f));
                    }).ToList());
                    Program.Report($"{picking} mt twopass0.15 - absent", fitted.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(512);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => { var k = Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), 0.15); for (int c = 1; c < Engine.Labels; c++) { k[c] &= img.Tags.Contains(c); } if (!k.Contains(true)) { k[img.Tags[0]] = true; } return k; }, 0f));
                    }).ToList());
                }

                break;
            }

            case "lda":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.CrossValidation(all, 3, 1, picking, 16).ToList();
                    var fitted = cv.Select(f =>
                    {
                        Protos p = MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false));
                        return (f, p, MultiTag.LastAssignments!);
                    }).ToList();
                    foreach (bool bg in new[] { false, true })
                    {
                        foreach (double shrink in new[] { 0.1, 0.3, 0.6 })
                        {
                            var ldas = fitted.Select(x => Lda.Fit(Lda.Samples(x.f.Support, x.Item3, bg), shrink)).ToList();
                            foreach (double t in new[] { 0.05, 0.1 })
                            {
                                Program.Report($"{picking} mt lda bg{bg} shrink{shrink} t{t}", fitted.Select((x, i) =>
                                {
                                    float[] flat = x.p.Flat(512);
                                    return (x.f.Name, Program.Evaluate(x.f, x.p, img => ldas[i].Select(img, Engine.Score(img, x.p, flat, Engine.AllClasses), t, 0), 0f));
                                }).ToList());
                            }
                        }
                    }
                }

                break;
            }

            case "combo":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var naive = cv.Select(f => (f, Fitting.Naive(f.Support))).ToList();
                    var mt = cv.Select(f => (f, MultiTag.Fit(f.Support, new MultiTagOptions(InitAll: true, IntersectSplitBackground: false)))).ToList();
                    Program.Report($"{picking} naive min0.1", naive.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f))).ToList());
                    Program.Report($"{picking} mt min0.1", mt.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f))).ToList());
                    Program.Report($"{picking} naive oracle", naive.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    Program.Report($"{picking} mt oracle", mt.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    Program.Report($"{picking} mt oracle self0.5", mt.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(512);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                    }).ToList());
                    foreach ((string fitName, var fitted) in new[] { ("naive", naive), ("mt", mt) })
                    {
                        foreach (double t in new[] { 0.1, 0.15, 0.2 })
                        {
                            Program.Report($"{picking} {fitName} twopass{t}", fitted.Select(x =>
                            {
                                float[] flat = x.Item2.Flat(512);
                                return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), t), 0f));
                            }).ToList());
                        }
                    }

                    Program.Report($"{picking} mt twopass0.15 self0.5", mt.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(512);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), 0.15), 0f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                    }).ToList());
                }

                break;
            }

            case "coremt":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var core = cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList();
                    Program.Report($"{picking} coremt min0.1", core.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f))).ToList());
                    Program.Report($"{picking} coremt oracle", core.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                    Program.Report($"{picking} coremt twopass0.15 self0.5", core.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(512);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), 0.15), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                    }).ToList());
                }

                break;
            }

            case "final-grid":
            {
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var core = cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList();
                    foreach (float alpha in new[] { 0f, 0.3f, 0.5f, 0.7f })
                    {
                        Program.Report($"{picking} coremt min0.1 self{alpha}", core.Select(x =>
                        {
                            float[] flat = x.Item2.Flat(512);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, alpha)));
                        }).ToList());
                        foreach (double t in new[] { 0.1, 0.15, 0.2 })
                        {
                            Program.Report($"{picking} coremt twopass{t} self{alpha}", core.Select(x =>
                            {
                                float[] flat = x.Item2.Flat(512);
                                return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), t), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, alpha)));
                            }).ToList());
                        }
                    }
                }

                break;
            }

            case "report":
            {
                // The figures of docs/results.md's cross-validation table, at full resolution: 2 seeds x 3 folds.
                foreach ((Picking picking, Picking old) in new[] { (Picking.AloneFirstAllTags, Picking.AloneFirst), (Picking.ById, Picking.ById) })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var oldCv = Folds.SixFolds(all, old);
                    Program.Report($"{picking} before (tags as picked, each fitted alone, min area 0.1)", oldCv.Select(f => (f.Name, Program.Evaluate(f, Fitting.Naive(f.Support), null, 0.1f))).ToList());
                    var core = cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList();
                    Program.Report($"{picking} multi-tag, min area 0.1", core.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, null, 0.1f))).ToList());
                    Program.Report($"{picking} final (multi-tag, support pre-filter, self 0.5)", core.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(512);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), 0.15), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                    }).ToList());
                    Program.Report($"{picking} oracle tags (multi-tag, self 0.5)", core.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(512);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                    }).ToList());
                    Program.Report($"{picking} oracle tags (multi-tag)", core.Select(x => (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f))).ToList());
                }

                break;
            }

            case "coseg":
            {
                // Co-segmentation of the support set (CoSeg), final inference defaults, and the oracle of the best.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var variants = new List<(string Name, Func<Fold, Protos> Fit)>
                    {
                        ("core", f => CoreMultiTag.Fit(f.Support)),
                        ("core cleaning r2 m0.02 (ovdiff fit)", f => CoreMultiTag.FitCleaned(f.Support, 2, 0.02f)),
                    };
                    // EXP_COSEG: "Mode:rounds:margin,..." (default: every mode, 1-2 rounds, margin 0).
                    string spec = Environment.GetEnvironmentVariable("EXP_COSEG")
                        ?? string.Join(',', Enum.GetValues<CoSeg.Mode>().SelectMany(m => new[] { $"{m}:1:0", $"{m}:2:0" }));
                    foreach (string item in spec.Split(','))
                    {
                        string[] parts = item.Split(':');
                        var mode = Enum.Parse<CoSeg.Mode>(parts[0]);
                        int rounds = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                        float margin = float.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture);
                        variants.Add(($"{mode} r{rounds} m{margin}", f => CoSeg.Fit(f.Support, mode, rounds, margin)));
                    }

                    ReportFinalInference(picking, cv, variants, Environment.GetEnvironmentVariable("EXP_ORACLE") == "1");
                }

                break;
            }

            case "os":
            {
                // The final defaults on whatever features are loaded (EXP_LAYERS, EXP_SIZE), their neighbours, flip averaging
                // (when the cache holds flipped features) and the oracle-tag ceiling: 2 seeds x 3 folds, both pickings.
                bool flip = all[0].Flipped is not null;
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var core = cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList();
                    foreach (bool tta in flip ? new[] { false, true } : new[] { false })
                    {
                        foreach ((double t, float alpha) in new[] { (0.15, 0.5f), (0.1, 0.5f), (0.2, 0.5f), (0.15, 0f), (0.25, 0.5f) })
                        {
                            Program.Report($"{picking} t{t} self{alpha} flip{tta}", core.Select(x =>
                            {
                                float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                                GridScores Scores(ImageRecord img, bool[] cand) => tta ? Tta.FlipAveraged(img, x.Item2, flat, cand) : Engine.Score(img, x.Item2, flat, cand);
                                return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Scores(img, Engine.AllClasses), FirstPassBias), t), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Scores(img, cand), cand, alpha)));
                            }).ToList());
                        }

                        Program.Report($"{picking} oracle self0.5 flip{tta}", core.Select(x =>
                        {
                            float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                            GridScores Scores(ImageRecord img, bool[] cand) => tta ? Tta.FlipAveraged(img, x.Item2, flat, cand) : Engine.Score(img, x.Item2, flat, cand);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f, (img, cand) => Refine.SelfPrototypes(img, Scores(img, cand), cand, 0.5f)));
                        }).ToList());
                    }
                }

                break;
            }

            case "ms":
            {
                // Multi-scale (base + EXP_CACHE2 resampled to the base grid) and flip averaging of the score maps; the first
                // pass (pre-filter) sees the same averaged scores. Fit at the base scale.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var core = cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList();
                    foreach ((bool flip, float w, double t) in new[] { (false, 0f, 0.15), (false, 0.5f, 0.15), (true, 0.5f, 0.15), (true, 0.5f, 0.2), (false, 0.3f, 0.15), (true, 0.3f, 0.15), (false, 1f, 0.15) })
                    {
                        Program.Report($"{picking} ms w{w} flip{flip} t{t}", core.Select(x =>
                        {
                            float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                            GridScores Scores(ImageRecord img, bool[] cand) => Tta.MultiScale(img, x.Item2, flat, cand, flip, w);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Scores(img, Engine.AllClasses)), t), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Scores(img, cand), cand, 0.5f)));
                        }).ToList());
                    }

                    Program.Report($"{picking} ms oracle w0.5 flipTrue", core.Select(x =>
                    {
                        float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                        return (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f, (img, cand) => Refine.SelfPrototypes(img, Tta.MultiScale(img, x.Item2, flat, cand, true, 0.5f), cand, 0.5f)));
                    }).ToList());
                }

                break;
            }

            case "gridceiling":
            {
                // What the feature grid alone allows: each cell scores every label by the share of its pixels the ground truth
                // gives that label (a perfect cell classifier), upsampled and arg-maxed as the segmenter does.
                var confusion = new long[Engine.Labels * Engine.Labels];
                object gate = new();
                Parallel.ForEach(all, new ParallelOptions { MaxDegreeOfParallelism = 2 }, image =>
                {
                    int gh = image.Features.Height, gw = image.Features.Width, cells = gh * gw;
                    int[] pixels = CellLabelCounts(image);
                    var counts = new float[Engine.Labels * cells];
                    for (int c = 0; c < cells; c++)
                    {
                        // Shares among the scored labels (void and other values left out).
                        float total = pixels.AsSpan(c * 256, Engine.Labels).ToArray().Sum();
                        for (int l = 0; l < Engine.Labels; l++)
                        {
                            counts[(l * cells) + c] = total > 0 ? pixels[(c * 256) + l] / total : 0f;
                        }
                    }

                    byte[] labels = Engine.Predict(image, new GridScores(gh, gw, counts), 0f, out _);
                    var local = new long[confusion.Length];
                    Engine.Accumulate(local, Engine.Fast ? image.HalfTruth : image.Truth, labels);
                    lock (gate)
                    {
                        for (int i = 0; i < local.Length; i++)
                        {
                            confusion[i] += local[i];
                        }
                    }
                });
                double[] iou = Engine.IoU(confusion);
                Program.Report("grid ceiling (perfect cell classifier)", [("all", new RunResult(Engine.Mean(iou), iou, 1, 1))]);
                break;
            }

            case "splitoracle":
            {
                // How much the support split limits: single-tag (or all) support images' masks from the ground truth
                // (a cell is foreground when over half its pixels are the tag, background when over half are background).
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var variants = new List<(string Name, Func<Fold, Protos> Fit)>
                    {
                        ("cleaning r2 (ovdiff fit)", f => CoreMultiTag.FitCleaned(f.Support, 2, 0.02f)),
                        ("gt single-tag masks", f => CoreMultiTag.Fit(f.Support, masks: f.Support.Select(s => s.Classes.Length == 1 ? TruthMasks(s.Image, s.Classes[0]) : (new bool[s.Image.Features.CellCount], new bool[s.Image.Features.CellCount])).ToList())),
                        ("gt all masks", f =>
                        {
                            var fg = new Dictionary<int, (double[] Sum, long Count)>();
                            var bg = new Dictionary<int, (double[] Sum, long Count)>();
                            foreach ((ImageRecord image, int[] classes) in f.Support)
                            {
                                foreach (int c in classes)
                                {
                                    (bool[] fore, bool[] back) = TruthMasks(image, c);
                                    Fitting.Add(fg, c, image, fore);
                                    Fitting.Add(bg, c, image, back);
                                }
                            }

                            return Fitting.Build(fg, bg);
                        }),
                    };
                    ReportFinalInference(picking, cv, variants, oracle: true);
                }

                break;
            }

            case "bgparts":
            {
                // The multi-tag assignment against k-means parts of the single-tag background (EXP_BGPARTS, comma list).
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var variants = new List<(string Name, Func<Fold, Protos> Fit)> { ("cleaning r2 (ovdiff fit)", f => CoreMultiTag.FitCleaned(f.Support, 2, 0.02f)) };
                    foreach (string item in (Environment.GetEnvironmentVariable("EXP_BGPARTS") ?? "1,8,32").Split(','))
                    {
                        string[] kb = item.Split(':');
                        int k = int.Parse(kb[0], System.Globalization.CultureInfo.InvariantCulture);
                        float bias = kb.Length > 1 ? float.Parse(kb[1], System.Globalization.CultureInfo.InvariantCulture) : 0f;
                        bool intersect = kb.Length > 2 && kb[2].Contains('i'), withMulti = kb.Length > 2 && kb[2].Contains('m'), pure = kb.Length > 2 && kb[2].Contains('p');
                        variants.Add(kb.Length > 2 && kb[2] == "cleanparts"
                            ? ($"cleaning against parts too, bg parts {k}", f => CoSeg.Fit(f.Support, CoSeg.Mode.CleanToBackground, 2, 0.02f, 2, k, cleanWithParts: true))
                            : kb.Length > 2 && kb[2] == "coseg"
                            ? ($"harness cleaning, bg parts {k}", f => CoSeg.Fit(f.Support, CoSeg.Mode.CleanToBackground, 2, 0.02f, 2, k))
                            : kb.Length > 2 && kb[2] == "core"
                            ? ($"core bg parts {k} (ovdiff fit --shared-background-parts)", f => CoreMultiTag.FitCleaned(f.Support, 2, 0.02f, k))
                            : ($"bg parts {k} bias {bias}{(intersect ? " intersect" : "")}{(withMulti ? " +multi" : "")}{(pure ? " pure" : "")}", f => BgParts.Fit(f.Support, k, 2, bias, intersect, withMulti, pure)));
                    }

                    ReportFinalInference(picking, cv, variants, Environment.GetEnvironmentVariable("EXP_ORACLE") == "1");
                }

                break;
            }

            case "cooc":
            {
                // Pre-filter with the support set's co-occurrence: of the classes the area rule keeps (largest first), a class
                // stays only if the support set shows it beside every class already kept, or (with a similarity threshold)
                // if the two classes' foreground means are less similar than that (not confusable).
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var fitted = cv.Select(f => (f, CoreMultiTag.FitCleaned(f.Support, 2, 0.02f, 32))).ToList();
                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_COOC") ?? "none,2,0.8,0.6").Split(','))
                    {
                        Program.Report($"{picking} cooc {spec}", fitted.Select(x =>
                        {
                            var together = new bool[Engine.Labels, Engine.Labels];
                            foreach ((_, int[] classes) in x.f.Support)
                            {
                                foreach (int a in classes)
                                {
                                    foreach (int b in classes)
                                    {
                                        together[a, b] = true;
                                    }
                                }
                            }

                            var mean = new float[Engine.Labels][];
                            for (int j = 0; j < x.Item2.Vectors.Count; j++)
                            {
                                if (!x.Item2.Background[j])
                                {
                                    mean[x.Item2.Class[j]] = x.Item2.Vectors[j];
                                }
                            }

                            float threshold = spec == "none" ? float.NaN : float.Parse(spec, System.Globalization.CultureInfo.InvariantCulture);
                            float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2, img =>
                            {
                                ClassEvidence e = Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses));
                                bool[] keep = Evidence.ByArea(e, 0.15);
                                if (float.IsNaN(threshold))
                                {
                                    return keep;
                                }

                                var kept = new List<int>();
                                foreach (int c in Enumerable.Range(1, Engine.Labels - 1).Where(c => keep[c]).OrderByDescending(c => e.Area[c]))
                                {
                                    bool exclusive = kept.Any(k => !together[k, c] && System.Numerics.Tensors.TensorPrimitives.Dot(mean[k], mean[c]) >= threshold);
                                    keep[c] = !exclusive;
                                    if (!exclusive)
                                    {
                                        kept.Add(c);
                                    }
                                }

                                return keep;
                            }, 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                        }).ToList());
                    }
                }

                break;
            }

            case "mtdiag":
            {
                // Quality of the multi-tag assignment against the ground truth's cell majority: per class, precision and
                // recall of the cells given to it, and what the background pool takes from tagged classes.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var given = new long[Engine.Labels];
                    var right = new long[Engine.Labels];
                    var truth = new long[Engine.Labels];
                    long bgCells = 0, bgTagged = 0, images = 0;
                    int parts = int.Parse(Environment.GetEnvironmentVariable("EXP_BGPARTS") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
                    foreach (Fold f in cv)
                    {
                        _ = parts > 0 ? BgParts.Fit(f.Support, parts) : CoreMultiTag.FitCleaned(f.Support, 2, 0.02f);
                        foreach ((ImageRecord image, int[] labels) in CoreMultiTag.LastMulti!)
                        {
                            images++;
                            int[] majority = TruthCells(image);
                            for (int i = 0; i < labels.Length; i++)
                            {
                                int m = majority[i];
                                if (labels[i] > 0)
                                {
                                    given[labels[i] - 1]++;
                                    right[labels[i] - 1] += m == labels[i] - 1 ? 1 : 0;
                                }
                                else if (labels[i] == 0)
                                {
                                    bgCells++;
                                    bgTagged += m > 0 ? 1 : 0;
                                }

                                if (m > 0 && image.Tags.Contains(m))
                                {
                                    truth[m]++;
                                }
                            }
                        }
                    }

                    Console.WriteLine($"{picking}: {images / cv.Count} multi-tag images per fold; background pool {bgCells} cells, {100.0 * bgTagged / Math.Max(bgCells, 1):F1} % of them a class");
                    for (int c = 1; c < Engine.Labels; c++)
                    {
                        if (given[c] + truth[c] > 0)
                        {
                            Console.WriteLine($"   class {c,2}: given {given[c],6} precision {100.0 * right[c] / Math.Max(given[c], 1),5:F1} recall {100.0 * right[c] / Math.Max(truth[c], 1),5:F1}");
                        }
                    }
                }

                break;
            }

            case "probe":
            {
                // A linear softmax classifier of cells trained on the support set's fitted masks: as the pre-filter's first
                // pass (EXP_PROBE_T areas), and as the segmentation's scores.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var watch = System.Diagnostics.Stopwatch.StartNew();
                    var fitted = cv.Select(f =>
                    {
                        (Protos protos, Protos withParts) = FitWithParts(f);
                        CellProbe probe = CellProbe.Train(CellProbe.SupportLabels(f.Support));
                        return (f, protos, withParts, probe);
                    }).ToList();
                    Console.Error.WriteLine($"fits + probes: {watch.Elapsed.TotalSeconds:F1} s");
                    Program.Report($"{picking} base p0.15", fitted.Select(x =>
                    {
                        float[] flat = x.protos.Flat(x.f.Test[0].Features.Channels);
                        float[] flatParts = x.withParts.Flat(x.f.Test[0].Features.Channels);
                        return (x.f.Name, Program.Evaluate(x.f, x.protos, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.withParts, flatParts, Engine.AllClasses)), 0.15), MinArea, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.protos, flat, cand), cand, SelfWeight)));
                    }).ToList());
                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_PROBE_T") ?? "0.1,0.15,0.2").Split(','))
                    {
                        double t = double.Parse(spec, System.Globalization.CultureInfo.InvariantCulture);
                        Program.Report($"{picking} probe first pass t{t}", fitted.Select(x =>
                        {
                            float[] flat = x.protos.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.protos, img => Evidence.ByArea(Evidence.FirstPass(x.probe.Score(img)), t), MinArea, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.protos, flat, cand), cand, SelfWeight)));
                        }).ToList());
                        Program.Report($"{picking} probe both passes t{t}", fitted.Select(x =>
                            (x.f.Name, Program.Evaluate(x.f, x.protos, img => Evidence.ByArea(Evidence.FirstPass(x.probe.Score(img)), t), MinArea, (img, cand) => x.probe.Score(img, cand)))).ToList());
                    }

                    Program.Report($"{picking} probe oracle", fitted.Select(x =>
                        (x.f.Name, Program.Evaluate(x.f, x.protos, Oracle, 0f, (img, cand) => x.probe.Score(img, cand)))).ToList());
                }

                break;
            }

            case "cropcls":
            {
                // How well object crops are classified: support crops from the fitted masks' boxes, test crops from the
                // ground truth's boxes; nearest class mean and 5-NN, against the first pass's majority label in the box.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    long total = 0, meanRight = 0, knnRight = 0, passRight = 0, wholeRight = 0, bothRight = 0, eitherRight = 0;
                    foreach (Fold f in cv)
                    {
                        (Protos protos, Protos withParts) = FitWithParts(f);
                        int ch = f.Test[0].Features.Channels;
                        float[] flatParts = withParts.Flat(ch);
                        (List<(int Class, float[] D)> support, float[][] means) = Crops.OfSupport(f);
                        var gate = new object();

                        Parallel.ForEach(f.Test, new ParallelOptions { MaxDegreeOfParallelism = 2 }, image =>
                        {
                            var first = Engine.Score(image, withParts, flatParts, Engine.AllClasses);
                            int cells = first.Height * first.Width;
                            foreach (int c in image.Tags)
                            {
                                var box = Crops.BoxOfTruth(image, c);
                                if (box is not { } b)
                                {
                                    continue;
                                }

                                float[] d = Crops.Describe(image.Id, b.X0, b.Y0, b.X1, b.Y1);
                                int byMean = Enumerable.Range(1, Engine.Labels - 1).MaxBy(k => System.Numerics.Tensors.TensorPrimitives.Dot(means[k], d));
                                var near = support.OrderByDescending(s => System.Numerics.Tensors.TensorPrimitives.Dot(s.D, d)).Take(5).ToList();
                                int byKnn = near.GroupBy(s => s.Class).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Max(s => System.Numerics.Tensors.TensorPrimitives.Dot(s.D, d))).First().Key;
                                double[] votes = BoxVotes(image, first, b);

                                int byPass = Enumerable.Range(1, Engine.Labels - 1).MaxBy(k => votes[k]);
                                double voteSum = Math.Max(votes.Sum(), 1);
                                var sims = Enumerable.Range(0, Engine.Labels).Select(k => k == 0 ? double.NegativeInfinity : 20.0 * System.Numerics.Tensors.TensorPrimitives.Dot(means[k], d)).ToArray();
                                double maxSim = sims.Max();
                                double z = sims.Sum(v => Math.Exp(v - maxSim));
                                int byBoth = Enumerable.Range(1, Engine.Labels - 1).MaxBy(k => (votes[k] / voteSum) + (Math.Exp(sims[k] - maxSim) / z));
                                float[] whole = Crops.Describe(image.Id, 0, 0, image.Width, image.Height);
                                int byWhole = Enumerable.Range(1, Engine.Labels - 1).MaxBy(k => System.Numerics.Tensors.TensorPrimitives.Dot(means[k], whole));
                                lock (gate)
                                {
                                    total++;
                                    meanRight += byMean == c ? 1 : 0;
                                    knnRight += byKnn == c ? 1 : 0;
                                    passRight += byPass == c ? 1 : 0;
                                    wholeRight += byWhole == c ? 1 : 0;
                                    bothRight += byBoth == c ? 1 : 0;
                                    eitherRight += byPass == c || byMean == c ? 1 : 0;
                                }
                            }
                        });
                        Console.WriteLine($"{picking} {f.Name}: {total} boxes, crop mean {100.0 * meanRight / total:F1} %, crop 5-NN {100.0 * knnRight / total:F1} %, first pass in box {100.0 * passRight / total:F1} %, whole image 224 {100.0 * wholeRight / total:F1} %, pass + crop {100.0 * bothRight / total:F1} %, either right {100.0 * eitherRight / total:F1} %");
                    }
                }

                break;
            }

            case "croppf":
            {
                // The pre-filter with a crop check: each class the area rule keeps is re-decided on the box of its
                // first-pass cells, by its vote share there plus the crop descriptor's softmax over support crop means.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var fitted = cv.Select(f =>
                    {
                        (Protos protos, Protos withParts) = FitWithParts(f);
                        return (f, protos, withParts, means: Crops.OfSupport(f).Means);
                    }).ToList();
                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_CROPW") ?? "0,0.5,1,2").Split(','))
                    {
                        double weight = double.Parse(spec, System.Globalization.CultureInfo.InvariantCulture);
                        Program.Report($"{picking} croppf w{weight}", fitted.Select(x =>
                        {
                            float[] flat = x.protos.Flat(x.f.Test[0].Features.Channels);
                            float[] flatParts = x.withParts.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.protos, img => CropCheck(img, Engine.Score(img, x.withParts, flatParts, Engine.AllClasses), x.means, weight), MinArea, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.protos, flat, cand), cand, SelfWeight)));
                        }).ToList());
                    }
                }

                break;
            }

            case "cachecheck":
            {
                // Re-extracts the first images with today's extractor and compares them with the cache (largest difference).
                using var extractor = new OvDiff.Onnx.ResNet18FeatureExtractor(new OvDiff.Onnx.ResNet18Options { Layers = OvDiff.Onnx.ResNet18Layers.Layer4 });
                foreach (ImageRecord record in all.Take(5))
                {
                    var image = Crops.Image(record.Id);
                    var scaled = Resampling.ResizeImage(image, record.ScaledWidth, record.ScaledHeight, ImageFilter.Lanczos3);
                    float[] now = extractor.Extract(scaled).Data;
                    double max = 0, scale = 0;
                    for (int i = 0; i < now.Length; i++)
                    {
                        max = Math.Max(max, Math.Abs(now[i] - record.Features.Data[i]));
                        scale = Math.Max(scale, Math.Abs(record.Features.Data[i]));
                    }

                    Console.WriteLine($"{record.Id}: {now.Length} values, largest difference {max:E2} (largest value {scale:F2})");
                }

                break;
            }

            case "power":
            {
                // Power transform of the features (x^p, EXP_POWER, before any matching; the split stays on the original
                // features): the final pipeline (fit with parts, pre-filter 0.15 with parts, self 0.5) and oracle tags.
                foreach (string spec in (Environment.GetEnvironmentVariable("EXP_POWER") ?? "1,0.5").Split(','))
                {
                    float power = float.Parse(spec, System.Globalization.CultureInfo.InvariantCulture);
                    var records = power == 1f ? all : Transform.Apply(all, new float[all[0].Features.Channels], power);
                    foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                    {
                        var cv = Folds.SixFolds(records, picking);
                        var fitted = cv.Select(f => (f, FitWithParts(f))).ToList();
                        Program.Report($"{picking} power {power}", fitted.Select(x =>
                        {
                            float[] flat = x.Item2.Protos.Flat(x.f.Test[0].Features.Channels);
                            float[] flatParts = x.Item2.WithParts.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2.Protos, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2.WithParts, flatParts, Engine.AllClasses)), 0.15), MinArea, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2.Protos, flat, cand), cand, SelfWeight)));
                        }).ToList());
                        Program.Report($"{picking} power {power} oracle", fitted.Select(x =>
                        {
                            float[] flat = x.Item2.Protos.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2.Protos, Oracle, 0f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2.Protos, flat, cand), cand, SelfWeight)));
                        }).ToList());
                    }
                }

                break;
            }

            case "csls":
            {
                // Hubness correction (CSLS) of each class's score by its prototype's mean top-K cosine to the support cells of
                // images not tagged with it, centred over classes: EXP_CSLS "K:weight[:both]" (both = the segmenting pass too).
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var fitted = cv.Select(f => (f, FitWithParts(f))).ToList();
                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_CSLS") ?? "100:0,100:0.5,100:1,1000:1,100:1:both").Split(','))
                    {
                        string[] part = spec.Split(':');
                        int k = int.Parse(part[0], System.Globalization.CultureInfo.InvariantCulture);
                        double weight = double.Parse(part[1], System.Globalization.CultureInfo.InvariantCulture);
                        bool both = part.Length > 2;
                        Program.Report($"{picking} csls K{k} w{weight}{(both ? " both passes" : "")}", fitted.Select(x =>
                        {
                            double[] r = Hubness.OfClasses(x.f, x.Item2.Protos, k);
                            Console.Error.WriteLine($"  {x.f.Name} r: " + string.Join(" ", r.Skip(1).Select(v => v.ToString("F3", System.Globalization.CultureInfo.InvariantCulture))));
                            float[] flat = x.Item2.Protos.Flat(x.f.Test[0].Features.Channels);
                            float[] flatParts = x.Item2.WithParts.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2.Protos,
                                img => Evidence.ByArea(Evidence.FirstPass(Hubness.Apply(Engine.Score(img, x.Item2.WithParts, flatParts, Engine.AllClasses), r, weight)), 0.15),
                                MinArea,
                                (img, cand) =>
                                {
                                    GridScores g = Refine.SelfPrototypes(img, Engine.Score(img, x.Item2.Protos, flat, cand), cand, SelfWeight);
                                    return both ? Hubness.Apply(g, r, weight) : g;
                                }));
                        }).ToList());
                    }
                }

                break;
            }

            case "prior":
            {
                // Per-class area thresholds from the support set's tag frequencies: t_c = 0.15 x (mean f / f_c)^alpha, where
                // f_c is the share of support images tagged c (a class the support shows often, e.g. beside others, needs
                // less area to stay): EXP_PRIOR alphas.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var fitted = cv.Select(f => (f, FitWithParts(f))).ToList();
                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_PRIOR") ?? "0,0.25,0.5,1").Split(','))
                    {
                        bool lowerOnly = spec.StartsWith('l');
                        double alpha = double.Parse(lowerOnly ? spec[1..] : spec, System.Globalization.CultureInfo.InvariantCulture);
                        Program.Report($"{picking} prior alpha {spec}", fitted.Select(x =>
                        {
                            double[] freq = [0, .. x.f.TagShares()];
                            double meanFreq = freq.Skip(1).Average();
                            double[] thresholds = lowerOnly
                                ? freq.Select(v => 0.15 * Math.Pow(Math.Min(1, meanFreq / Math.Max(v, 1e-6)), alpha)).ToArray()
                                : x.f.TagThresholds(0.15f, (float)alpha);
                            Console.Error.WriteLine($"  {x.f.Name} thresholds: " + string.Join(" ", thresholds.Skip(1).Select(v => v.ToString("F3", System.Globalization.CultureInfo.InvariantCulture))));
                            float[] flat = x.Item2.Protos.Flat(x.f.Test[0].Features.Channels);
                            float[] flatParts = x.Item2.WithParts.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2.Protos,
                                img => ByClassArea(Evidence.FirstPass(Engine.Score(img, x.Item2.WithParts, flatParts, Engine.AllClasses)), thresholds),
                                MinArea,
                                (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2.Protos, flat, cand), cand, SelfWeight)));
                        }).ToList());
                    }
                }

                break;
            }

            case "final":
            {
                // The final pipeline on the six folds (EXP_TAGPRIOR, EXP_MINPRIOR).
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    Program.Report($"{picking} final tag prior {TagPrior} min-area prior {Environment.GetEnvironmentVariable("EXP_MINPRIOR") ?? "0"}", Folds.SixFolds(all, picking).Select(f => (f.Name, FinalPipeline(f))).ToList());
                }

                Engine.MinimumAreaScale = null;
                break;
            }

            case "softpf":
            {
                // A soft pre-filter: the classes the area rule leaves out stay in the arg-max with their scores lowered by
                // a margin (EXP_SOFT), instead of being removed; the kept classes as the product scores them.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var fitted = cv.Select(f => (f, FitWithParts(f))).ToList();
                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_SOFT") ?? "1000,0.2,0.1,0.05").Split(','))
                    {
                        float margin = float.Parse(spec, System.Globalization.CultureInfo.InvariantCulture);
                        Program.Report($"{picking} softpf margin {margin}", fitted.Select(x =>
                        {
                            float[] flat = x.Item2.Protos.Flat(x.f.Test[0].Features.Channels);
                            float[] flatParts = x.Item2.WithParts.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2.Protos, _ => Engine.AllClasses, MinArea, (img, _) =>
                            {
                                bool[] kept = Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2.WithParts, flatParts, Engine.AllClasses)), 0.15);
                                GridScores selfed = Refine.SelfPrototypes(img, Engine.Score(img, x.Item2.Protos, flat, kept), kept, SelfWeight);
                                GridScores every = Engine.Score(img, x.Item2.Protos, flat, Engine.AllClasses);
                                int cells = selfed.Height * selfed.Width;
                                float[] planes = (float[])selfed.Planes.Clone();
                                for (int c = 1; c < Engine.Labels; c++)
                                {
                                    if (!kept[c])
                                    {
                                        for (int cell = 0; cell < cells; cell++)
                                        {
                                            planes[(c * cells) + cell] = every.Planes[(c * cells) + cell] - margin;
                                        }
                                    }
                                }

                                return new GridScores(selfed.Height, selfed.Width, planes);
                            }));
                        }).ToList());
                    }
                }

                break;
            }

            case "usersupport":
            {
                // What a user's support set does to the final pipeline: fewer or more images per class (EXP_PERCLASS), a
                // share of images tagged with a wrong class (EXP_NOISE), and each image listing only the class it was
                // picked for (picking AloneFirst: the other classes it shows unlisted).
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_PERCLASS") ?? "4,8,16,32").Split(','))
                    {
                        int perClass = int.Parse(spec, System.Globalization.CultureInfo.InvariantCulture);
                        var cv = new[] { 1, 2 }.SelectMany(seed => Folds.CrossValidation(all, 3, seed, picking, perClass)).ToList();
                        Program.Report($"{picking} {perClass} per class ({cv.Average(f => f.Support.Count):F0} images)", cv.Select(f => (f.Name, FinalPipeline(f))).ToList());
                    }

                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_NOISE") ?? "0.1,0.2").Split(','))
                    {
                        double share = double.Parse(spec, System.Globalization.CultureInfo.InvariantCulture);
                        var noisy = Folds.SixFolds(all, picking).Select(f =>
                        {
                            var random = new Random(f.Name.GetHashCode(StringComparison.Ordinal) & 0x7fffffff);
                            var support = f.Support.Select(s =>
                            {
                                if (random.NextDouble() >= share)
                                {
                                    return s;
                                }

                                int[] wrong = [.. Enumerable.Range(1, Engine.Labels - 1).Where(c => !s.Image.Tags.Contains(c))];
                                return (s.Image, new[] { wrong[random.Next(wrong.Length)] });
                            }).ToList();
                            return f with { Support = support };
                        }).ToList();
                        Program.Report($"{picking} {share:P0} of the images tagged with a wrong class", noisy.Select(f => (f.Name, FinalPipeline(f))).ToList());
                    }
                }

                Program.Report("AloneFirst: each image lists only the class it was picked for", Folds.SixFolds(all, Picking.AloneFirst).Select(f => (f.Name, FinalPipeline(f))).ToList());
                break;
            }

            case "pf2":
            {
                // The pre-filter on this round's fits: area thresholds, and the background parts as extra background
                // prototypes in the first pass only.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var fitted = cv.Select(f =>
                    {
                        (Protos protos, Protos withParts) = FitWithParts(f);
                        return (f, protos, withParts);
                    }).ToList();
                    foreach (string spec in (Environment.GetEnvironmentVariable("EXP_PF2") ?? "0.1,0.15,0.2,p0.1,p0.15").Split(','))
                    {
                        bool second = spec.StartsWith('s');
                        bool useParts = second || spec.StartsWith('p');
                        double t = double.Parse(useParts ? spec[1..] : spec, System.Globalization.CultureInfo.InvariantCulture);
                        Program.Report($"{picking} pf2 {(second ? "both passes with bg parts, " : useParts ? "first pass with bg parts, " : "")}t{t}", fitted.Select(x =>
                        {
                            float[] flat = x.protos.Flat(x.f.Test[0].Features.Channels);
                            float[] flatParts = x.withParts.Flat(x.f.Test[0].Features.Channels);
                            Protos segment = second ? x.withParts : x.protos;
                            float[] segmentFlat = second ? flatParts : flat;
                            return (x.f.Name, Program.Evaluate(x.f, segment, img => Evidence.ByArea(Evidence.FirstPass(useParts ? Engine.Score(img, x.withParts, flatParts, Engine.AllClasses) : Engine.Score(img, x.protos, flat, Engine.AllClasses), FirstPassBias), t), MinArea, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, segment, segmentFlat, cand), cand, SelfWeight)));
                        }).ToList());
                    }
                }

                break;
            }

            case "pf":
            {
                // Pre-filter variants from several views of the first pass: a class stays when its area is at least t in
                // every view (consensus), or relative to the largest class. Second pass: base scores + self 0.5.
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var core = cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList();
                    var variants = new List<(string Name, Func<ImageRecord, Protos, float[], bool[]> Select)>
                    {
                        ("base t0.15", (img, p, flat) => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, p, flat, Engine.AllClasses)), 0.15)),
                        ("base t0.15 rel0.25", (img, p, flat) => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, p, flat, Engine.AllClasses)), 0.15, 0.25)),
                        ("base t0.15 rel0.5", (img, p, flat) => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, p, flat, Engine.AllClasses)), 0.15, 0.5)),
                    };
                    foreach (double t in new[] { 0.1, 0.15 })
                    {
                        variants.Add(($"consensus base+flip t{t}", (img, p, flat) => Consensus(t, Engine.Score(img, p, flat, Engine.AllClasses), Tta.FlippedView(img, p, flat, Engine.AllClasses))));
                        if (all[0].OtherScale is not null)
                        {
                            variants.Add(($"consensus base+scale2 t{t}", (img, p, flat) => Consensus(t, Engine.Score(img, p, flat, Engine.AllClasses), Tta.OtherScaleView(img, p, flat, Engine.AllClasses))));
                            variants.Add(($"consensus base+flip+scale2 t{t}", (img, p, flat) => Consensus(t, Engine.Score(img, p, flat, Engine.AllClasses), Tta.FlippedView(img, p, flat, Engine.AllClasses), Tta.OtherScaleView(img, p, flat, Engine.AllClasses))));
                        }
                    }

                    foreach ((string label, var select) in variants)
                    {
                        Program.Report($"{picking} pf {label}", core.Select(x =>
                        {
                            float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => select(img, x.Item2, flat), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                        }).ToList());
                    }
                }

                break;
            }

            case "perclass":
            {
                // Per-class pre-filter thresholds calibrated on the support set alone: 4 inner folds of the support list (fit
                // on three quarters, first pass on the rest), each class's threshold the one with the best F1 of presence.
                double[] grid = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4];
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var core = cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList();
                    var thresholds = cv.Select(f =>
                    {
                        var samples = new List<(int Class, bool Present, double Area)>();
                        for (int k = 0; k < 4; k++)
                        {
                            var train = f.Support.Where((s, i) => i % 4 != k).ToList();
                            var held = f.Support.Where((s, i) => i % 4 == k).ToList();
                            Protos p = CoreMultiTag.Fit(train);
                            float[] flat = p.Flat(f.Test[0].Features.Channels);
                            foreach ((ImageRecord img, int[] classes) in held)
                            {
                                ClassEvidence e = Evidence.FirstPass(Engine.Score(img, p, flat, Engine.AllClasses));
                                for (int c = 1; c < Engine.Labels; c++)
                                {
                                    samples.Add((c, img.Tags.Contains(c), e.Area[c]));
                                }
                            }
                        }

                        var t = new double[Engine.Labels];
                        for (int c = 1; c < Engine.Labels; c++)
                        {
                            var mine = samples.Where(x => x.Class == c).ToList();
                            t[c] = grid.MaxBy(th =>
                            {
                                int tp = mine.Count(x => x.Present && x.Area >= th && x.Area > 0), fp = mine.Count(x => !x.Present && x.Area >= th && x.Area > 0), fn = mine.Count(x => x.Present && !(x.Area >= th && x.Area > 0));
                                return ((2.0 * tp) / Math.Max((2 * tp) + fp + fn, 1)) - (Math.Abs(th - 0.15) * 1e-3);
                            });
                        }

                        Console.WriteLine($"  {f.Name} thresholds " + string.Join(' ', t.Skip(1).Select(v => v.ToString("F2"))));
                        return t;
                    }).ToList();
                    foreach (bool perClass in new[] { false, true })
                    {
                        Program.Report($"{picking} perclass{perClass}", core.Select((x, i) =>
                        {
                            float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => ByClassArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses)), perClass ? thresholds[i] : Enumerable.Repeat(0.15, Engine.Labels).ToArray()), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                        }).ToList());
                    }
                }

                break;
            }

            case "misc":
            {
                // Minimum class area after the second pass, and support prototypes fitted from the flipped support images too.
                bool flip = all[0].Flipped is not null;
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var fits = new List<(string Name, List<(Fold f, Protos p)> Fitted)> { ("plain", cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList()) };
                    if (flip)
                    {
                        fits.Add(("flipsupport", cv.Select(f => (f, CoreMultiTag.Fit([.. f.Support, .. f.Support.Select(s => (FlippedRecord(s.Image), s.Classes))]))).ToList()));
                    }

                    foreach ((string fitName, var fitted) in fits)
                    {
                        foreach (float min in fitName == "plain" ? new[] { 0.05f, 0.1f, 0.15f, 0.2f } : new[] { 0.1f })
                        {
                            Program.Report($"{picking} {fitName} t0.15 self0.5 min{min}", fitted.Select(x =>
                            {
                                float[] flat = x.p.Flat(x.f.Test[0].Features.Channels);
                                return (x.f.Name, Program.Evaluate(x.f, x.p, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.p, flat, Engine.AllClasses)), 0.15), min, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.p, flat, cand), cand, 0.5f)));
                            }).ToList());
                        }
                    }
                }

                break;
            }

            case "bgbias":
            {
                // The first pass (pre-filter) with the background score raised by a bias: context classes winning background
                // cells lose area. Second pass unchanged (base scores + self 0.5, min area 0.1).
                foreach (Picking picking in new[] { Picking.AloneFirstAllTags, Picking.ById })
                {
                    var cv = Folds.SixFolds(all, picking);
                    var core = cv.Select(f => (f, CoreMultiTag.Fit(f.Support))).ToList();
                    foreach ((float bias, double t) in new[] { (0f, 0.15), (0.02f, 0.1), (0.02f, 0.15), (0.05f, 0.05), (0.05f, 0.1), (0.05f, 0.15), (-0.02f, 0.15), (0.1f, 0.05) })
                    {
                        Program.Report($"{picking} bgbias{bias} t{t}", core.Select(x =>
                        {
                            float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                            return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses), bias), t), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                        }).ToList());
                    }
                }

                break;
            }

            default:
                throw new ArgumentException($"unknown experiment {name}");
        }
    }

    /// <summary>Classes whose first-pass area is at least <paramref name="threshold"/> in every view; the largest (summed) always.</summary>
    private static bool[] Consensus(double threshold, params GridScores[] views)
    {
        var evidence = views.Select(v => Evidence.FirstPass(v)).ToList();
        var keep = new bool[Engine.Labels];
        int top = Enumerable.Range(1, Engine.Labels - 1).MaxBy(l => evidence.Sum(e => e.Area[l]));
        for (int l = 1; l < Engine.Labels; l++)
        {
            keep[l] = evidence.All(e => e.Area[l] >= threshold && e.Area[l] > 0);
        }

        keep[top] = true;
        return keep;
    }

    private static bool[] ByClassArea(ClassEvidence e, double[] thresholds)
    {
        var keep = new bool[Engine.Labels];
        int top = Enumerable.Range(1, Engine.Labels - 1).MaxBy(l => (e.Area[l], e.MaxScore[l]));
        for (int l = 1; l < Engine.Labels; l++)
        {
            keep[l] = e.Area[l] > 0 && e.Area[l] >= thresholds[l];
        }

        keep[top] = true;
        return keep;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ImageRecord> Flips = new();

    private static ImageRecord FlippedRecord(ImageRecord image) => Flips.GetOrAdd(image.Id, _ =>
    {
        var f = image.Flipped!;
        float[] unit = (float[])f.Data.Clone();
        OvDiff.Core.Numerics.Matrix.NormalizeRows(unit, (int)f.CellCount, f.Channels, 1e-6f);
        return new ImageRecord
        {
            Id = image.Id + "/flip", Width = image.Width, Height = image.Height, ScaledWidth = image.ScaledWidth, ScaledHeight = image.ScaledHeight,
            Features = f, Unit = unit, Truth = image.Truth, Tags = image.Tags,
        };
    });

    /// <summary>
    /// Fits each variant on every fold and reports it under the final inference defaults (support pre-filter 0.15 with the
    /// first-pass background bias EXP_BGBIAS, min area 0.1, self-prototypes 0.5), and with oracle tags when asked.
    /// </summary>
    private static void ReportFinalInference(Picking picking, List<Fold> cv, List<(string Name, Func<Fold, Protos> Fit)> variants, bool oracle)
    {
        foreach ((string vname, Func<Fold, Protos> fit) in variants)
        {
            var fitted = cv.Select(f => (f, fit(f))).ToList();
            Program.Report($"{picking} {vname}", fitted.Select(x =>
            {
                float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                return (x.f.Name, Program.Evaluate(x.f, x.Item2, img => Evidence.ByArea(Evidence.FirstPass(Engine.Score(img, x.Item2, flat, Engine.AllClasses), FirstPassBias), 0.15), 0.1f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
            }).ToList());
            if (oracle)
            {
                Program.Report($"{picking} {vname} oracle", fitted.Select(x =>
                {
                    float[] flat = x.Item2.Flat(x.f.Test[0].Features.Channels);
                    return (x.f.Name, Program.Evaluate(x.f, x.Item2, Oracle, 0f, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, x.Item2, flat, cand), cand, 0.5f)));
                }).ToList());
            }
        }
    }

    /// <summary>The final defaults on a fold: the product's fit with shared parts, the support pre-filter (0.15 scaled by the tag prior EXP_TAGPRIOR, default 1; parts in its first pass), self-prototypes, min area.</summary>
    private static RunResult FinalPipeline(Fold f)
    {
        (Protos protos, Protos withParts) = FitWithParts(f);
        float[] flat = protos.Flat(f.Test[0].Features.Channels);
        float[] flatParts = withParts.Flat(f.Test[0].Features.Channels);
        double[] thresholds = f.TagThresholds(0.15f, TagPrior);

        // EXP_MINPRIOR: the minimum class area scaled by the tag prior's factors too (an experiment; 0 = off).
        float minPrior = float.Parse(Environment.GetEnvironmentVariable("EXP_MINPRIOR") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        Engine.MinimumAreaScale = minPrior == 0 ? null : f.TagThresholds(1f, minPrior);
        return Program.Evaluate(f, protos, img => ByClassArea(Evidence.FirstPass(Engine.Score(img, withParts, flatParts, Engine.AllClasses)), thresholds), MinArea, (img, cand) => Refine.SelfPrototypes(img, Engine.Score(img, protos, flat, cand), cand, SelfWeight));
    }

    /// <summary>The product's fit of a fold (cleaning, shared parts) and the same prototypes with the parts as background ones.</summary>
    private static (Protos Protos, Protos WithParts) FitWithParts(Fold f)
    {
        Protos protos = CoreMultiTag.FitCleaned(f.Support, 2, 0.02f, SharedParts);
        var withParts = new Protos();
        for (int j = 0; j < protos.Vectors.Count; j++)
        {
            withParts.Add(protos.Vectors[j], protos.Class[j], protos.Background[j]);
        }

        float[] parts = CoreMultiTag.LastParts!;
        int ch = f.Test[0].Features.Channels;
        for (int q = 0; q < parts.Length; q += ch)
        {
            withParts.Add(parts[q..(q + ch)], 0, true);
        }

        return (protos, withParts);
    }

    /// <summary>First-pass winner (over classes only) of the grid cells whose centres lie in the pixel box: votes per label.</summary>
    private static double[] BoxVotes(ImageRecord image, GridScores first, (int X0, int Y0, int X1, int Y1) b)
    {
        int cells = first.Height * first.Width, gw = first.Width;
        var votes = new double[Engine.Labels];
        for (int cell = 0; cell < cells; cell++)
        {
            double cx = ((cell % gw) + 0.5) * image.Width / gw, cy = ((cell / gw) + 0.5) * image.Height / first.Height;
            if (cx < b.X0 || cx >= b.X1 || cy < b.Y0 || cy >= b.Y1)
            {
                continue;
            }

            int best = 1;
            for (int l = 2; l < Engine.Labels; l++)
            {
                if (first.Planes[(l * cells) + cell] > first.Planes[(best * cells) + cell])
                {
                    best = l;
                }
            }

            votes[best]++;
        }

        return votes;
    }

    /// <summary>Area rule 0.15, then each kept class re-decided on its first-pass box (vote share + weight x crop softmax).</summary>
    private static bool[] CropCheck(ImageRecord image, GridScores first, float[][] means, double weight)
    {
        bool[] kept = Evidence.ByArea(Evidence.FirstPass(first), 0.15);
        if (weight <= 0)
        {
            return kept;
        }

        int[] winner = Evidence.Winners(first);

        var result = new bool[Engine.Labels];
        for (int k = 1; k < Engine.Labels; k++)
        {
            if (!kept[k])
            {
                continue;
            }

            bool[] mask = [.. winner.Select(w => w == k)];
            if (Crops.BoxOfCells(image, mask) is not { } b)
            {
                result[k] = true;
                continue;
            }

            float[] d = Crops.Describe(image.Id, b.X0, b.Y0, b.X1, b.Y1);
            double[] votes = BoxVotes(image, first, b);
            double total = votes.Sum();

            var sims = Enumerable.Range(0, Engine.Labels).Select(c => c == 0 ? double.NegativeInfinity : 20.0 * System.Numerics.Tensors.TensorPrimitives.Dot(means[c], d)).ToArray();
            double maxSim = sims.Max(), z = sims.Sum(v => Math.Exp(v - maxSim));
            int decided = Enumerable.Range(1, Engine.Labels - 1).MaxBy(c => (votes[c] / Math.Max(total, 1)) + (weight * Math.Exp(sims[c] - maxSim) / z));
            result[decided] = true;
        }

        return result;
    }

    /// <summary>Minimum class area and self-prototype weight of "pf2" (EXP_MINAREA, EXP_SELF; defaults 0.1 and 0.5 as ovdiff fit).</summary>
    private static readonly float MinArea = float.Parse(Environment.GetEnvironmentVariable("EXP_MINAREA") ?? "0.1", System.Globalization.CultureInfo.InvariantCulture);

    private static readonly float SelfWeight = float.Parse(Environment.GetEnvironmentVariable("EXP_SELF") ?? "0.5", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Shared background parts of the "pf2" fits (EXP_SHARED, default 32 as ovdiff fit).</summary>
    private static readonly int SharedParts = int.Parse(Environment.GetEnvironmentVariable("EXP_SHARED") ?? "32", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Background bias of the first pass in "os" (EXP_BGBIAS, default 0).</summary>
    private static readonly float TagPrior = float.Parse(Environment.GetEnvironmentVariable("EXP_TAGPRIOR") ?? "1", System.Globalization.CultureInfo.InvariantCulture);

    private static readonly float FirstPassBias = float.Parse(Environment.GetEnvironmentVariable("EXP_BGBIAS") ?? "0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Ground-truth support masks on the feature grid: foreground where over half a cell's pixels are the class, background where over half are background.</summary>
    public static (bool[] Foreground, bool[] Background) TruthMasks(ImageRecord image, int cls)
    {
        int[] counts = CellLabelCounts(image);
        int cells = counts.Length / 256;
        int[] total = [.. Enumerable.Range(0, cells).Select(c => counts.AsSpan(c * 256, 256).ToArray().Sum())];
        return (Enumerable.Range(0, cells).Select(c => 2 * counts[(c * 256) + cls] > total[c]).ToArray(), Enumerable.Range(0, cells).Select(c => 2 * counts[c * 256] > total[c]).ToArray());
    }

    /// <summary>Majority ground-truth label per feature-grid cell (255 where void wins).</summary>
    public static int[] TruthCells(ImageRecord image)
    {
        int[] counts = CellLabelCounts(image);
        return Enumerable.Range(0, counts.Length / 256).Select(c => Enumerable.Range(0, 256).MaxBy(l => counts[(c * 256) + l])).ToArray();
    }

    /// <summary>Per feature-grid cell, the ground truth's pixel count of every label value 0-255 (cell x 256, row-major).</summary>
    public static int[] CellLabelCounts(ImageRecord image)
    {
        int gh = image.Features.Height, gw = image.Features.Width;
        double stride = Math.Pow(2, Math.Round(Math.Log2((double)image.ScaledWidth / gw)));
        var counts = new int[gh * gw * 256];
        for (int y = 0; y < image.Height; y++)
        {
            int cy = Math.Min((int)(y * (double)image.ScaledHeight / image.Height / stride), gh - 1);
            for (int x = 0; x < image.Width; x++)
            {
                int cx = Math.Min((int)(x * (double)image.ScaledWidth / image.Width / stride), gw - 1);
                counts[(((cy * gw) + cx) * 256) + image.Truth[(y * image.Width) + x]]++;
            }
        }

        return counts;
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
