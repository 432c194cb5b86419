//! What a run records: metrics at the checkpoints, LLC estimates, the summary, and the files
//! they are written to.

#[allow(unused_imports)]
use super::*;

/// Metrics at one checkpoint.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckpointRecord {
    /// Step.
    pub step: u64,
    /// Mean cross-entropy on the training set (evaluation mode).
    pub train_loss: f64,
    /// Training accuracy.
    pub train_accuracy: f64,
    /// Mean cross-entropy on the test set.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// `R = ||w_s - w_0||_2`.
    pub r: f64,
    /// Checkpoint file, relative to the run directory.
    pub file: String,
}

/// One LLC estimate during training.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LlcRecord {
    /// Step.
    pub step: u64,
    /// Mean over chains.
    pub llc_mean: f64,
    /// Chain-to-chain standard deviation.
    pub llc_std: f64,
    /// `L(w_s)`.
    pub init_loss: f64,
    /// Per-chain values.
    pub llc_per_chain: Vec<f64>,
    /// The step is in the late window (`step >= late_window_start()`).
    #[serde(default)]
    pub late: bool,
    /// R-hat of the per-draw loss over the chains ([`crate::llc::LlcDiagnostics`]; `None`
    /// when it could not be computed or in older summaries).
    #[serde(default)]
    pub rhat: Option<f64>,
    /// Bulk ESS of the per-draw loss.
    #[serde(default)]
    pub ess_bulk: Option<f64>,
    /// Tail ESS of the per-draw loss.
    #[serde(default)]
    pub ess_tail: Option<f64>,
    /// Mean Metropolis-adjusted acceptance of the measured SGLD proposals.
    #[serde(default)]
    pub acceptance: Option<f64>,
    /// Burn-in detected from the loss traces, in draws.
    #[serde(default)]
    pub burn_in: usize,
}

/// What a run produced (also `summary.json` in the run directory).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunSummary {
    /// The configuration.
    pub config: TrainConfig,
    /// Where the data came from.
    pub data_source: String,
    /// Updates done.
    pub steps_done: u64,
    /// True when `steps_done == config.steps`.
    pub finished: bool,
    /// The step at which the training loss became NaN or infinite (the run stopped there with
    /// an error; `null`: it did not diverge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged_at: Option<u64>,
    /// Metrics at each checkpoint, by step.
    pub checkpoints: Vec<CheckpointRecord>,
    /// `(step, minibatch loss)` in the late window.
    pub minibatch_losses: Vec<(u64, f64)>,
    /// `(step s, ||w_{s+1} - w_s||_2)` in the late window (the same steps as
    /// `minibatch_losses`): the length of the update that minibatch `s` made, over the
    /// trainable parameters, from the f32 weights (summed in f64).
    #[serde(default)]
    pub jumps: Vec<(u64, f64)>,
    /// LLC estimates.
    pub llc: Vec<LlcRecord>,
    /// Mean of the last 10 LLC estimates.
    pub final_llc: Option<f64>,
    /// Mean of the LLC estimates in the late window (those with `late`): the run's LLC for the
    /// analysis ([`LlcSchedule::Geometric`] makes them `late window / llc_every`).
    #[serde(default)]
    pub late_llc_mean: Option<f64>,
    /// Number of late-window LLC estimates in `late_llc_mean`.
    #[serde(default)]
    pub late_llc_count: usize,
    /// Training-step throughput of the last session (updates per second, excluding evaluation,
    /// LLC and saving).
    pub steps_per_second: f64,
    /// Step this session resumed from, if it resumed.
    pub resumed_from: Option<u64>,
}

impl RunSummary {
    /// Recompute `final_llc`, `late_llc_mean` and `late_llc_count` from `llc`.
    pub(super) fn update_llc_means(&mut self) {
        let tail: Vec<f64> = self.llc.iter().rev().take(10).map(|l| l.llc_mean).collect();
        self.final_llc = (!tail.is_empty()).then(|| tail.iter().sum::<f64>() / tail.len() as f64);
        let late: Vec<f64> = self
            .llc
            .iter()
            .filter(|l| l.late)
            .map(|l| l.llc_mean)
            .collect();
        self.late_llc_count = late.len();
        self.late_llc_mean =
            (!late.is_empty()).then(|| late.iter().sum::<f64>() / late.len() as f64);
    }

    /// `R(t)` at the checkpoints: `(step, R)`.
    pub fn r_of_t(&self) -> Vec<(u64, f64)> {
        self.checkpoints.iter().map(|c| (c.step, c.r)).collect()
    }
}

/// Path of the checkpoint of `step` in `run_dir`.
pub fn checkpoint_path(run_dir: &Path, step: u64) -> PathBuf {
    run_dir
        .join("checkpoints")
        .join(format!("step-{step:010}.safetensors"))
}

/// Read `summary.json` of a run directory.
pub fn load_summary(run_dir: &Path) -> Result<RunSummary> {
    let p = run_dir.join("summary.json");
    let s = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    Ok(serde_json::from_str(&s)?)
}

/// A run has diverged when its training loss at a checkpoint is not finite or exceeds this
/// many times its value at step 0 (10-class cross-entropy starts near ln 10 = 2.3; a ReLU
/// network whose weights blow up keeps a finite but huge loss, e.g. 6e5 after 50 steps at lr
/// 1e6, rather than NaN).
pub const DIVERGED_FACTOR: f64 = 1e3;

pub(super) fn checkpoint_at(
    net: &Network,
    step: u64,
    data: &Data,
    w0: &[f32],
    out_dir: &Path,
    summary: &mut RunSummary,
) -> Result<()> {
    let tr = net.evaluate(&data.train)?;
    let start = summary
        .checkpoints
        .iter()
        .find(|c| c.step == 0)
        .map(|c| c.train_loss);
    if !tr.loss.is_finite() || start.is_some_and(|b| tr.loss > DIVERGED_FACTOR * b.max(1e-3)) {
        // a diverged run stops here: its summary says so, and the error names the step
        summary.diverged_at = Some(step);
        summary.finished = false;
        write_outputs(summary, out_dir)?;
        return Err(Error::Diverged {
            path: out_dir.to_path_buf(),
            step,
            loss: tr.loss,
        });
    }
    let te = net.evaluate(&data.test)?;
    let w = net.flat_params()?;
    let path = checkpoint_path(out_dir, step);
    let mut meta = BTreeMap::new();
    meta.insert("step".to_string(), step.to_string());
    net.save(&path, meta)?;
    summary.checkpoints.retain(|c| c.step != step);
    summary.checkpoints.push(CheckpointRecord {
        step,
        train_loss: tr.loss,
        train_accuracy: tr.accuracy,
        test_loss: te.loss,
        test_accuracy: te.accuracy,
        r: l2_dist(&w, w0),
        file: format!("checkpoints/step-{step:010}.safetensors"),
    });
    Ok(())
}

pub(super) fn write_outputs(summary: &RunSummary, out_dir: &Path) -> Result<()> {
    let mut m = String::from("step,train_loss,train_accuracy,test_loss,test_accuracy,r\n");
    for c in &summary.checkpoints {
        m += &format!(
            "{},{:e},{},{:e},{},{:e}\n",
            c.step, c.train_loss, c.train_accuracy, c.test_loss, c.test_accuracy, c.r
        );
    }
    write_atomic(&out_dir.join("metrics.csv"), m.as_bytes())?;
    let mut l = String::from("step,loss,jump\n");
    for (k, (s, v)) in summary.minibatch_losses.iter().enumerate() {
        let j = summary
            .jumps
            .get(k)
            .filter(|j| j.0 == *s)
            .map_or(f64::NAN, |j| j.1);
        l += &format!("{s},{v:e},{j:e}\n");
    }
    write_atomic(&out_dir.join("minibatch_losses.csv"), l.as_bytes())?;
    // The diagnostics columns come after the original five (readers by position still work).
    let mut c = String::from(
        "step,llc_mean,llc_std,init_loss,late,rhat,ess_bulk,ess_tail,acceptance,burn_in\n",
    );
    for r in &summary.llc {
        c += &format!(
            "{},{:e},{:e},{:e},{},{:e},{:e},{:e},{:e},{}\n",
            r.step,
            r.llc_mean,
            r.llc_std,
            r.init_loss,
            r.late as u8,
            r.rhat.unwrap_or(f64::NAN),
            r.ess_bulk.unwrap_or(f64::NAN),
            r.ess_tail.unwrap_or(f64::NAN),
            r.acceptance.unwrap_or(f64::NAN),
            r.burn_in
        );
    }
    write_atomic(&out_dir.join("llc.csv"), c.as_bytes())?;
    write_atomic(
        &out_dir.join("summary.json"),
        serde_json::to_string_pretty(summary)?.as_bytes(),
    )
}
