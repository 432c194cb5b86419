//! The resume file: weights, optimizer state and records in one atomically written file.

#[allow(unused_imports)]
use super::*;

pub(super) fn save_state(
    net: &Network,
    st: &OptState,
    summary: &RunSummary,
    out_dir: &Path,
) -> Result<()> {
    write_outputs(summary, out_dir)?;
    let mut tensors = net.to_named()?;
    let specs = net.arch().param_specs();
    let tags = state_tags(&summary.config.optimizer);
    for (mv, tag) in [&st.m, &st.v].into_iter().zip(tags) {
        for ((name, shape), t) in specs.iter().zip(mv.iter()) {
            tensors.push(NamedTensor {
                name: format!("{tag}{name}"),
                shape: shape.clone(),
                data: t.flatten_all()?.to_vec1::<f32>()?,
            });
        }
    }
    let mut meta = BTreeMap::new();
    meta.insert("config".to_string(), summary.config.resume_key()?);
    meta.insert("optimizer_t".to_string(), st.t.to_string());
    meta.insert("summary".to_string(), serde_json::to_string(summary)?);
    // The records travel inside the same file as the weights, so the two can never disagree.
    checkpoint::save(&out_dir.join("resume.safetensors"), &tensors, meta)
}

pub(super) fn load_resume(
    path: &Path,
    config: &TrainConfig,
    dev: &Device,
) -> Result<(Network, OptState, RunSummary)> {
    let (tensors, meta) = checkpoint::load(path)?;
    let bad = |what: String| Error::Resume {
        path: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
        what,
    };
    let key = meta
        .get("config")
        .ok_or_else(|| bad("resume.safetensors has no config".into()))?;
    if *key != config.resume_key()? {
        return Err(bad(format!(
            "it holds a run with a different configuration ({key}); use a new directory"
        )));
    }
    let net = Network::from_named(&tensors, path, dev)?;
    let t: u64 = meta
        .get("optimizer_t")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| bad("resume.safetensors has no optimizer_t".into()))?;
    let mut summary: RunSummary = serde_json::from_str(
        meta.get("summary")
            .ok_or_else(|| bad("resume.safetensors has no summary".into()))?,
    )?;
    let mut m = vec![];
    let mut v = vec![];
    let tags = state_tags(&config.optimizer);
    if !tags.is_empty() {
        for (name, shape) in config.arch.param_specs() {
            for (tag, out) in tags.iter().zip([&mut m, &mut v]) {
                let t = tensors
                    .iter()
                    .find(|t| t.name == format!("{tag}{name}"))
                    .ok_or_else(|| bad(format!("missing {tag}{name}")))?;
                out.push(Tensor::from_slice(&t.data, shape.as_slice(), dev)?);
            }
        }
    }
    summary.resumed_from = Some(summary.steps_done);
    Ok((net, OptState { t, m, v }, summary))
}
