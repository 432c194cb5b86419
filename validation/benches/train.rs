//! Criterion benchmarks of the training step and the SGLD sampler (CPU, f32).
//!
//! Lives in the validation crate (the root package `ffpe` does not depend on candle). The
//! side-by-side comparison with PyTorch and devinterp is `validation/scripts/bench_compare.py`.
//! Run: `RAYON_NUM_THREADS=1 cargo bench -p ffpe-validation --bench train -- --warm-up-time 1
//! --measurement-time 3`.

use candle_core::{Device, Tensor};
use criterion::{Criterion, criterion_group, criterion_main};
use ffpe_validation::batches::Batcher;
use ffpe_validation::data::{self, DataConfig};
use ffpe_validation::grad::loss_and_grads;
use ffpe_validation::llc::{self, LlcConfig};
use ffpe_validation::mlp_cpu::{InputLayer, SgdMlp};
use ffpe_validation::model::{Arch, BnMode, Network};
use std::path::Path;

fn sgd_steps(c: &mut Criterion) {
    let d = data::load(&DataConfig::default()).expect("bundled data");
    let mut g = c.benchmark_group("sgd_step_batch256");
    g.sample_size(20);
    for arch in ["784-128-10", "784-256-256-10"] {
        let arch: Arch = arch.parse().expect("arch");
        let net = Network::init(&arch, 0, &Device::Cpu).expect("init");
        let mut batcher = Batcher::new(d.train.len(), 256, true, 0, &[1]);
        let mut t = 0u64;
        g.bench_function(arch.to_string(), |b| {
            b.iter(|| {
                let (mut xs, mut ys) = (vec![], vec![]);
                let idx = batcher.indices(t);
                let n = idx.len();
                d.train.gather_into(idx, &mut xs, &mut ys);
                t += 1;
                let x = Tensor::from_vec(xs, (n, 784), &Device::Cpu).expect("x");
                let lg = loss_and_grads(
                    &arch,
                    &net.param_tensors(),
                    net.buffers(),
                    &x,
                    &ys,
                    BnMode::Train,
                )
                .expect("grads");
                for (p, g) in net.params().iter().zip(&lg.grads) {
                    p.set(&(p.as_tensor() - g.affine(1e-3, 0.0).expect("affine")).expect("sub"))
                        .expect("set");
                }
            })
        });
    }
    g.finish();
    // The training loop's path for plain SGD without BatchNorm (`train::run`).
    let mut g = c.benchmark_group("sgd_step_batch256_mlp_cpu");
    g.sample_size(20);
    for arch in ["784-128-10", "784-256-256-10"] {
        let arch: Arch = arch.parse().expect("arch");
        let flat = Network::init(&arch, 0, &Device::Cpu)
            .expect("init")
            .flat_params()
            .expect("weights");
        for (input, threads) in [
            (InputLayer::Auto, 1),
            (InputLayer::Dense, 1),
            (InputLayer::Auto, 2),
        ] {
            let mut net = SgdMlp::new(&arch, &flat, &d.train, input, threads).expect("net");
            let mut batcher = Batcher::new(d.train.len(), 256, true, 0, &[1]);
            let mut t = 0u64;
            let name = format!("{arch}/{input:?}/threads{threads}");
            g.bench_function(name, |b| {
                b.iter(|| {
                    let idx = batcher.indices(t);
                    t += 1;
                    net.step(&d.train, idx, 1e-3).expect("step")
                })
            });
        }
    }
    g.finish();
}

fn sgld(c: &mut Criterion) {
    let d = data::load(&DataConfig::default()).expect("bundled data");
    let ck = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mlp-784-128-10.safetensors");
    let net = Network::load(&ck, &Device::Cpu).expect("checkpoint");
    let mut g = c.benchmark_group("sgld_4chains_x20draws");
    g.sample_size(10);
    for threads in [1, 2] {
        let cfg = LlcConfig {
            chains: 4,
            draws: 20,
            threads,
            init_loss: llc::InitLoss::Batches(1),
            ..LlcConfig::default()
        };
        g.bench_function(format!("threads{threads}"), |b| {
            b.iter(|| llc::estimate(&net, &d.train, &cfg).expect("llc"))
        });
    }
    g.finish();
}

/// The SGLD noise: one standard normal per parameter of 784-128-10 (101,770) per step, by the
/// one-at-a-time ziggurat and by the block sampler the chains use.
fn normals(c: &mut Criterion) {
    use ffpe_validation::rng::{NormalBlocks, Rng};
    let mut v = vec![0f32; 101_770];
    let mut g = c.benchmark_group("normals_101770");
    g.throughput(criterion::Throughput::Elements(v.len() as u64));
    let mut r = Rng::new(1, &[]);
    g.bench_function("Rng::fill_normal_f32", |b| {
        b.iter(|| r.fill_normal_f32(&mut v))
    });
    let mut nb = NormalBlocks::new(&mut Rng::new(1, &[]));
    g.bench_function("NormalBlocks::fill", |b| b.iter(|| nb.fill(&mut v)));
    g.finish();
}

criterion_group!(benches, sgd_steps, sgld, normals);
criterion_main!(benches);
