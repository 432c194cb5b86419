//! The studies beyond the main sweep: exponent histogram, architectures, batch-size
//! scan, LLC scale scan, the Moons test.

#[allow(unused_imports)]
use super::*;

/// The studies of the preset from every run's analysis and summary.
pub(super) fn study_results(
    opts: &ReproduceOptions,
    specs: &[RunSpec],
    summaries: &[(PathBuf, RunSummary)],
    analyses: &[RunAnalysis],
    data: &Data,
    boot: &BootstrapConfig,
) -> Result<StudyResults, ReproduceError> {
    let p = &opts.preset;
    let st = &p.studies;
    let mut out = StudyResults::default();
    let Some(a0) = p.architectures.first().map(Preset::arch_name) else {
        // no main sweep (a preset of ensembles only): the studies of its runs are void
        return beyond_sweep(out, st, data, opts);
    };
    // The studies' runs: the first architecture with SGD.
    let a0_sgd =
        |s: &RunSpec| Preset::arch_name(&s.arch) == a0 && s.optimizer == OptimizerKind::Sgd;
    let late_s = |a: &RunAnalysis| {
        a.late_fit
            .as_ref()
            .map_or(f64::NAN, |f| f.displacement_exponent)
    };
    // Figure 4: every seed of the first architecture with SGD at the preset's batch size.
    if st.histogram_seeds > 0 {
        let pick: Vec<&RunAnalysis> = specs
            .iter()
            .zip(analyses)
            .filter(|(s, _)| {
                a0_sgd(s)
                    && s.batch_size == p.batch_size
                    && (s.seed as usize) < st.histogram_seeds.max(p.seeds)
                    && s.role != Role::BatchScan
            })
            .map(|(_, a)| a)
            .filter(|a| a.late_fit.is_some())
            .collect();
        let sv: Vec<f64> = pick.iter().map(|a| late_s(a)).collect();
        let dl: Vec<(f64, f64)> = pick
            .iter()
            .filter_map(|a| {
                a.theory
                    .as_ref()
                    .map(|t| (t.spectral_dimension, a.final_llc))
            })
            .collect();
        out.exponents = Some(studies::exponent_study(
            &a0,
            OptimizerKind::Sgd,
            &sv,
            &dl,
            boot,
        ));
    }
    // Figure 5a: the main sweep by architecture and optimizer.
    for o in &p.optimizers {
        let mut groups = Vec::new();
        for a in &p.architectures {
            let name = Preset::arch_name(a);
            let runs: Vec<&RunAnalysis> = specs
                .iter()
                .zip(analyses)
                .filter(|(s, r)| s.role == Role::Main && r.arch == name && r.optimizer == *o)
                .map(|(_, r)| r)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let llc: Vec<f64> = runs.iter().map(|r| r.final_llc).collect();
            let err: Vec<f64> = runs.iter().map(|r| 100.0 - r.test_accuracy).collect();
            let s: Vec<f64> = runs.iter().map(|r| late_s(r)).collect();
            groups.push(
                llc.iter()
                    .copied()
                    .zip(err.iter().copied())
                    .collect::<Vec<_>>(),
            );
            out.architectures.push(studies::ArchitectureRow {
                arch: name,
                optimizer: *o,
                n_params: runs[0].n_params,
                llc: studies::mean_ci(&llc, boot),
                test_error: studies::mean_ci(&err, boot),
                late_s: studies::mean_ci(&s, boot),
            });
        }
        out.architecture_correlation
            .push((*o, studies::grouped_correlation(&groups, boot)));
    }
    // The batch-size scan: SGD on the first architecture, seeds 0..batch_seeds per size.
    for &b in &st.batch_sizes {
        let idx: Vec<usize> = specs
            .iter()
            .enumerate()
            .filter(|(_, s)| a0_sgd(s) && s.batch_size == b && (s.seed as usize) < st.batch_seeds)
            .map(|(i, _)| i)
            .collect();
        if idx.is_empty() {
            continue;
        }
        // With n % b != 0 the last minibatch of every epoch is smaller (PyTorch's
        // drop_last = false) and its jump is larger: at b = 256 and n = 8000 that is every 32nd
        // step, inside the top 5 % the Hill estimator uses. Those steps are not batch-b SGD and
        // are left out.
        let n = data.train.len();
        let per_epoch = n.div_ceil(b.max(1)) as u64;
        let partial = !n.is_multiple_of(b.max(1));
        let mut excluded = 0;
        let hills: Vec<Option<studies::HillEstimate>> = idx
            .iter()
            .map(|&i| {
                let j: Vec<f64> = summaries[i]
                    .1
                    .jumps
                    .iter()
                    .filter(|x| {
                        let last = partial && x.0 % per_epoch == per_epoch - 1;
                        excluded += usize::from(last);
                        !last
                    })
                    .map(|x| x.1)
                    .collect();
                studies::hill(&j)
            })
            .collect();
        let alphas: Vec<f64> = hills.iter().flatten().map(|h| h.alpha).collect();
        // The noise part of the step (issue 21): at each run's final weights, the minibatch
        // gradient minus the full-batch gradient over NOISE_MINIBATCHES minibatches.
        let mut hills_noise = Vec::with_capacity(idx.len());
        for &i in &idx {
            let j = noise_jumps(&summaries[i], b, data)?;
            hills_noise.push(j.as_deref().and_then(studies::hill));
        }
        let alphas_noise: Vec<f64> = hills_noise.iter().flatten().map(|h| h.alpha).collect();
        let s: Vec<f64> = idx.iter().map(|&i| late_s(&analyses[i])).collect();
        let sf: Vec<f64> = s.iter().copied().filter(|x| x.is_finite()).collect();
        out.batch_scan.push(studies::BatchRow {
            batch_size: b,
            runs: idx.len(),
            partial_batch_jumps_excluded: excluded,
            hill_per_run: hills,
            hill_alpha: studies::mean_ci(&alphas, boot),
            hill_noise_per_run: hills_noise,
            hill_noise_alpha: Some(studies::mean_ci(&alphas_noise, boot)),
            late_s: studies::mean_ci(&s, boot),
            fraction_subdiffusive: (!sf.is_empty()).then(|| {
                crate::analysis::across::fraction_below(&sf, crate::analysis::theory::BOUND_S)
            }),
            llc: studies::mean_ci(
                &idx.iter()
                    .map(|&i| analyses[i].final_llc)
                    .collect::<Vec<_>>(),
                boot,
            ),
            test_error: studies::mean_ci(
                &idx.iter()
                    .map(|&i| 100.0 - analyses[i].test_accuracy)
                    .collect::<Vec<_>>(),
                boot,
            ),
        });
    }
    // The LLC scale scan on the final weights of the first main runs of a0 with SGD.
    if st.llc_scale_runs > 0 && !st.llc_scale_factors.is_empty() && p.llc_chains > 0 {
        let idx: Vec<usize> = specs
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.role == Role::Main && a0_sgd(s) && (s.seed as usize) < st.llc_scale_runs
            })
            .map(|(i, _)| i)
            .collect();
        let mut points = Vec::new();
        for i in idx {
            points.extend(scale_scan_run(&specs[i], &summaries[i], st, data, opts)?);
        }
        out.scale_scan = Some(studies::scale_scan(points));
    }
    if let Some(cfg) = &st.paper_nbeta_llc {
        let main: Vec<usize> = (0..specs.len())
            .filter(|&i| specs[i].role == Role::Main)
            .collect();
        out.paper_nbeta = Some(paper_nbeta_study(
            &main.iter().map(|&i| &specs[i]).collect::<Vec<_>>(),
            &main.iter().map(|&i| &summaries[i]).collect::<Vec<_>>(),
            cfg,
            data,
            opts,
        )?);
    }
    beyond_sweep(out, st, data, opts)
}

/// The LLC at the paper's `n_beta` (`cfg`) on the final checkpoint of each run (each cached
/// in `paper_nbeta.json` of its directory, keyed by the estimator and the step).
fn paper_nbeta_study(
    specs: &[&RunSpec],
    summaries: &[&(PathBuf, RunSummary)],
    cfg: &LlcConfig,
    data: &Data,
    opts: &ReproduceOptions,
) -> Result<crate::report::results::PaperNbetaStudy, ReproduceError> {
    use crate::report::results::{LlcDiagnosticsSummary, PaperNbetaEstimate};
    if cfg.nbeta != crate::llc::NBeta::Dataset {
        return Err(crate::error::Error::config(
            "studies.paper_nbeta_llc.nbeta",
            cfg.nbeta.name(),
            "dataset (the paper's n / ln n, which this study compares with the published values)",
        )
        .into());
    }
    let mut out: Vec<Option<PaperNbetaEstimate>> = vec![None; specs.len()];
    let paths: Vec<PathBuf> = summaries
        .iter()
        .map(|(dir, _)| dir.join("paper_nbeta.json"))
        .collect();
    let key = |i: usize| (cfg.clone(), summaries[i].1.steps_done);
    for (i, o) in out.iter_mut().enumerate() {
        *o = JsonCache::new(&paths[i]).get(&key(i));
    }
    let todo: Vec<usize> = (0..specs.len()).filter(|&i| out[i].is_none()).collect();
    let nets = todo
        .iter()
        .map(|&i| {
            let (dir, sum) = summaries[i];
            crate::model::Network::load(
                &checkpoint_path(dir, sum.steps_done),
                &candle_core::Device::Cpu,
            )
        })
        .collect::<crate::error::Result<Vec<_>>>()?;
    let cfgs: Vec<LlcConfig> = todo
        .iter()
        .map(|&i| LlcConfig {
            seed: cfg.seed ^ specs[i].seed.wrapping_mul(0x9E37_79B9),
            threads: 1,
            ..cfg.clone()
        })
        .collect();
    let jobs: Vec<(&crate::model::Network, &LlcConfig)> = nets.iter().zip(&cfgs).collect();
    let res = crate::llc::estimate_many(&jobs, &data.train, opts.jobs.max(1))?;
    for (&i, r) in todo.iter().zip(&res) {
        let d = &r.diagnostics;
        let checks =
            LlcDiagnosticsSummary::of_values(std::iter::once((d.rhat, d.ess_bulk, d.acceptance)));
        let e = PaperNbetaEstimate {
            id: specs[i].id.clone(),
            arch: Preset::arch_name(&specs[i].arch),
            optimizer: specs[i].optimizer,
            step: summaries[i].1.steps_done,
            n_beta: r.nbeta,
            llc_mean: r.llc_mean,
            llc_std: r.llc_std,
            rhat: d.rhat,
            ess_bulk: d.ess_bulk,
            acceptance: d.acceptance,
            usable: r.llc_mean > 0.0 && checks.is_some_and(|c| c.any_fail == 0),
        };
        JsonCache::new(&paths[i]).put(&key(i), &e)?;
        out[i] = Some(e);
    }
    let estimates: Vec<PaperNbetaEstimate> = out.into_iter().flatten().collect();
    Ok(crate::report::results::PaperNbetaStudy {
        setting: format!("{}, n_beta = n / ln n", cfg.sampler_setting()),
        rows: OptimizerKind::ALL
            .iter()
            .filter_map(|&o| crate::report::results::PaperNbetaRow::of(o, &estimates))
            .collect(),
        estimates,
        thresholds: Default::default(),
    })
}

/// The studies with runs of their own (the Moons test, the ensembles), added to `out`.
fn beyond_sweep(
    mut out: StudyResults,
    st: &Studies,
    data: &Data,
    opts: &ReproduceOptions,
) -> Result<StudyResults, ReproduceError> {
    if let Some(mc) = &st.moons {
        out.moons = Some(moons_study(mc, &opts.out)?);
    }
    if let Some(ec) = &st.ensembles {
        out.ensembles = Some(ensemble_study(ec, data, opts)?);
    }
    Ok(out)
}

/// The shared-initialisation ensembles of `cfg` in `OUT/ensembles/`: trained (finished members
/// reused, interrupted ones resumed) unless the reproduction only analyses, then analysed with
/// the rival predictions and the headline verdicts.
pub(super) fn ensemble_study(
    cfg: &crate::drift::DriftConfig,
    data: &Data,
    opts: &ReproduceOptions,
) -> Result<crate::drift::EnsembleStudy, ReproduceError> {
    let dir = opts.out.join("ensembles");
    if opts.train_missing {
        let ms = crate::drift::members(cfg, data.train.len(), &dir)?;
        let total: u64 = ms.iter().map(|m| m.config.steps).sum();
        let pb = bar(opts, total, "ensembles (member steps)");
        if opts.progress {
            pb.set_draw_target(ProgressDrawTarget::stderr());
        }
        crate::drift::train(cfg, data, &dir, opts.jobs, &mut |done, _| {
            pb.set_position(done);
            true
        })?;
        pb.finish_and_clear();
    }
    Ok(crate::drift::analyse_study(cfg, data, &dir)?)
}

/// The Moons posterior test of `cfg` (cached in `OUT/moons.json` with its settings).
pub(super) fn moons_study(
    cfg: &crate::moons::MoonsConfig,
    out: &Path,
) -> Result<crate::moons::MoonsResult, ReproduceError> {
    let cache = out.join("moons.json");
    if let Ok(txt) = std::fs::read_to_string(&cache)
        && let Ok(r) = serde_json::from_str::<crate::moons::MoonsResult>(&txt)
        && &r.config == cfg
        && r.is_current()
    {
        return Ok(r);
    }
    let r = crate::moons::run_study(cfg)?;
    let json = serde_json::to_string_pretty(&r).map_err(crate::report::ReportError::from)?;
    write_atomic(&cache, json.as_bytes())?;
    Ok(r)
}

/// The scale-scan estimates of one run (cached in `scale_scan.json` of its directory).
/// Minibatches per run in the Hill estimate of the noise part of the step: `hill_k` keeps the
/// largest 50 of 1,000 norms (the estimator's relative standard error `1 / sqrt(k)` is 14 %).
pub const NOISE_MINIBATCHES: usize = 1000;

/// The norms `||g_B(w) - g(w)||` of the minibatch gradient noise at the run's final weights
/// `w`, over [`NOISE_MINIBATCHES`] minibatches of size `b` drawn as in training (consecutive
/// chunks of seeded permutations of the training set, full chunks only), with `g` the
/// full-batch gradient: the noise part of the SGD step `lr (g_B - g)` up to the factor `lr`,
/// which the tail index does not see; the minibatches are drawn from the run's noise seed.
/// Cached in the run directory. `None` for networks the
/// exact-gradient code does not describe (BatchNorm, convolutions).
pub(super) fn noise_jumps(
    (dir, sum): &(PathBuf, RunSummary),
    b: usize,
    data: &Data,
) -> Result<Option<Vec<f64>>, ReproduceError> {
    let path = dir.join("noise_jumps.json");
    let cache = JsonCache::new(&path);
    // the minibatches depend on the run's noise seed: runs are the unit of replication, and
    // common minibatches would correlate their estimates
    let seed = sum.config.effective_stream_seed();
    let key = (sum.steps_done, b, NOISE_MINIBATCHES, data.train.len(), seed);
    cache.get_or(&key, || {
        let (arch, w) = crate::model::read_flat_params(&checkpoint_path(dir, sum.steps_done))?;
        let n = data.train.len();
        if !arch.is_plain_mlp() || b == 0 || b > n {
            return Ok(None);
        }
        let curv = |e: crate::curvature::CurvatureError| {
            ReproduceError::from(crate::error::Error::config(
                "batch scan (gradient noise)",
                e,
                "a fully connected network and its training set",
            ))
        };
        let params: Vec<f64> = w.into_iter().map(f64::from).collect();
        let mlp = crate::curvature::Mlp::new(&arch.widths).map_err(curv)?;
        let dim = data.train.dim;
        let full = crate::curvature::Batch::new(&data.train.images, &data.train.labels, dim)
            .map_err(curv)?;
        let out = crate::curvature::minibatch_noise_norms(
            &mlp,
            &params,
            full,
            b,
            NOISE_MINIBATCHES,
            seed,
        )
        .map_err(curv)?;
        Ok(Some(out))
    })
}

pub(super) fn scale_scan_run(
    s: &RunSpec,
    (dir, sum): &(PathBuf, RunSummary),
    st: &Studies,
    data: &Data,
    opts: &ReproduceOptions,
) -> Result<Vec<studies::ScaleScanPoint>, ReproduceError> {
    let base = sum.config.llc.clone();
    let mut combos: Vec<(f64, f64)> = Vec::new();
    for &f in &st.llc_scale_factors {
        combos.push((f, 1.0));
    }
    for &f in &st.llc_scale_factors {
        if (f - 1.0).abs() > 1e-12 {
            combos.push((1.0, f));
        }
    }
    let is_base = |c: &(f64, f64)| (c.0 - 1.0).abs() < 1e-12 && (c.1 - 1.0).abs() < 1e-12;
    if !combos.iter().any(is_base) {
        combos.push((1.0, 1.0));
    }
    let path = dir.join("scale_scan.json");
    let cache = JsonCache::new(&path);
    let key = (base.clone(), combos.clone(), sum.steps_done);
    if let Some(v) = cache.get::<_, Vec<studies::ScaleScanPoint>>(&key) {
        return Ok(v);
    }
    let net = crate::model::Network::load(
        &checkpoint_path(dir, sum.steps_done),
        &candle_core::Device::Cpu,
    )?;
    let cfgs: Vec<LlcConfig> = combos
        .iter()
        .map(|&(ef, gf)| LlcConfig {
            epsilon: base.epsilon * ef,
            gamma: base.gamma * gf,
            threads: 1,
            ..base.clone()
        })
        .collect();
    let jobs: Vec<(&crate::model::Network, &LlcConfig)> = cfgs.iter().map(|c| (&net, c)).collect();
    let res = crate::llc::estimate_many(&jobs, &data.train, opts.jobs.max(1))?;
    let base_llc = combos
        .iter()
        .zip(&res)
        .find(|(c, _)| is_base(c))
        .map_or(f64::NAN, |(_, r)| r.llc_mean);
    let pts: Vec<studies::ScaleScanPoint> = combos
        .iter()
        .zip(&cfgs)
        .zip(&res)
        .map(|((&(ef, gf), c), r)| studies::ScaleScanPoint {
            run: s.id.clone(),
            epsilon_factor: ef,
            gamma_factor: gf,
            epsilon: c.epsilon,
            gamma: c.gamma,
            llc: r.llc_mean,
            llc_std: r.llc_std,
            ratio_to_base: r.llc_mean / base_llc,
        })
        .collect();
    cache.put(&key, &pts)?;
    Ok(pts)
}
