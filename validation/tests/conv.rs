//! The convolutional network (`lenet`): its forward pass against a direct f64 convolution and
//! pooling written here, its gradients against central finite differences of that reference,
//! its names, initialisation and checkpoints, its runs in ensembles (members equal the runs
//! alone bit for bit, shared-initialisation members start identical), `analyze` of its runs,
//! and the MLP-only paths refusing it.

#[path = "support/run_files.rs"]
mod run_files;
use candle_core::{Device, Tensor};
use ffpe_validation::data::{self, DataConfig, Dataset};
use ffpe_validation::ensemble;
use ffpe_validation::grad::loss_and_grads;
use ffpe_validation::model::{Arch, BnMode, Network, read_flat_params};
use ffpe_validation::rng::Rng;
use ffpe_validation::train::{self, Optimizer, TrainConfig};
use std::collections::BTreeMap;
use std::path::Path;

/// Direct f64 LeNet: conv 5x5 (no padding) + bias, ReLU, 2x2 max-pool, twice; flatten
/// channel-major; fc layers with ReLU between. `w` holds the flat parameters in PyTorch order.
fn reference_logits(w: &[f64], img: &[f64]) -> Vec<f64> {
    let mut at = 0;
    let mut take = |n: usize| {
        let s = &w[at..at + n];
        at += n;
        s.to_vec()
    };
    let mut x = img.to_vec(); // [c, side, side]
    let (mut c_in, mut side) = (1usize, 28usize);
    for c_out in [6usize, 16] {
        let k = take(c_out * c_in * 25);
        let b = take(c_out);
        let o = side - 4;
        let mut y = vec![0f64; c_out * o * o];
        for co in 0..c_out {
            for r in 0..o {
                for c in 0..o {
                    let mut s = b[co];
                    for ci in 0..c_in {
                        for i in 0..5 {
                            for j in 0..5 {
                                s += k[((co * c_in + ci) * 5 + i) * 5 + j]
                                    * x[(ci * side + r + i) * side + c + j];
                            }
                        }
                    }
                    y[(co * o + r) * o + c] = s.max(0.0);
                }
            }
        }
        let p = o / 2;
        let mut z = vec![0f64; c_out * p * p];
        for co in 0..c_out {
            for r in 0..p {
                for c in 0..p {
                    let v = |i: usize, j: usize| y[(co * o + 2 * r + i) * o + 2 * c + j];
                    z[(co * p + r) * p + c] = v(0, 0).max(v(0, 1)).max(v(1, 0)).max(v(1, 1));
                }
            }
        }
        (x, c_in, side) = (z, c_out, p);
    }
    let widths = [256usize, 120, 84, 10];
    for l in 0..3 {
        let (i, o) = (widths[l], widths[l + 1]);
        let wm = take(o * i);
        let b = take(o);
        let mut y: Vec<f64> = (0..o)
            .map(|r| b[r] + (0..i).map(|c| wm[r * i + c] * x[c]).sum::<f64>())
            .collect();
        if l < 2 {
            y.iter_mut().for_each(|v| *v = v.max(0.0));
        }
        x = y;
    }
    x
}

/// Mean cross-entropy of the reference on `imgs` (`n x 784`).
fn reference_loss(w: &[f64], imgs: &[f64], labels: &[u32]) -> f64 {
    let mut s = 0.0;
    for (img, &y) in imgs.chunks(784).zip(labels) {
        let z = reference_logits(w, img);
        let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        s += lse - z[y as usize];
    }
    s / labels.len() as f64
}

/// A network with random weights: PyTorch's initialisation scaled by 3 so that the ReLUs and
/// the pools see both signs and the logits are of order one, and `n` random images.
fn random_case(n: usize, seed: u64) -> (Network, Vec<f32>, Vec<u32>) {
    let arch = Arch::lenet();
    let net = Network::init(&arch, seed, &Device::Cpu).unwrap();
    let w: Vec<f32> = net.flat_params().unwrap().iter().map(|v| 3.0 * v).collect();
    let net = Network::from_flat(&arch, &w, None, &Device::Cpu).unwrap();
    let mut rng = Rng::new(seed, &[77]);
    let imgs: Vec<f32> = (0..n * 784).map(|_| rng.uniform() as f32).collect();
    let labels: Vec<u32> = (0..n as u32).map(|i| (i * 7 + seed as u32) % 10).collect();
    (net, imgs, labels)
}

#[test]
fn forward_matches_a_direct_convolution() {
    for seed in 0..3 {
        let (net, imgs, _) = random_case(4, seed);
        let x = Tensor::from_slice(&imgs, (4, 784), &Device::Cpu).unwrap();
        let got = net.forward_eval(&x).unwrap().to_vec2::<f32>().unwrap();
        let w: Vec<f64> = net
            .flat_params()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        let mut worst = 0f64;
        for (k, img) in imgs.chunks(784).enumerate() {
            let img: Vec<f64> = img.iter().map(|&v| v as f64).collect();
            let want = reference_logits(&w, &img);
            let scale = want.iter().fold(1f64, |m, v| m.max(v.abs()));
            for (a, b) in got[k].iter().zip(&want) {
                worst = worst.max((*a as f64 - b).abs() / scale);
            }
        }
        // f32 sums of at most 256 products per output in five stages: rounding of about
        // 256 x 2^-24 ~ 1.5e-5 relative in the worst case, ~1e-6 typically
        assert!(worst < 2e-5, "seed {seed}: relative error {worst}");
    }
}

#[test]
fn gradients_match_central_differences() {
    let (net, imgs, labels) = random_case(3, 5);
    let x = Tensor::from_slice(&imgs, (3, 784), &Device::Cpu).unwrap();
    let lg = loss_and_grads(
        net.arch(),
        &net.param_tensors(),
        &[],
        &x,
        &labels,
        BnMode::Train,
    )
    .unwrap();
    let g: Vec<f32> = lg
        .grads
        .iter()
        .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect();
    let w: Vec<f64> = net
        .flat_params()
        .unwrap()
        .iter()
        .map(|&v| v as f64)
        .collect();
    let x64: Vec<f64> = imgs.iter().map(|&v| v as f64).collect();
    let l0 = reference_loss(&w, &x64, &labels);
    let l32 = lg.loss.to_scalar::<f32>().unwrap() as f64;
    assert!((l32 - l0).abs() < 1e-5 * l0.max(1.0), "loss {l32} vs {l0}");
    let gmax = g.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    // every parameter tensor, a few coordinates each (the whole vector would take minutes)
    let n = w.len();
    let mut rng = Rng::new(9, &[]);
    let mut coords: Vec<usize> = vec![0, 155, 156, 2571, 2572, n - 1];
    coords.extend((0..60).map(|_| (rng.uniform() * n as f64) as usize % n));
    // h = 1e-5 in f64: truncation ~h^2 |L'''| and rounding ~1e-16 / h, both far below 1e-9;
    // a ReLU or pool kink within h of the point is improbable at random weights (it would
    // show as one wild coordinate)
    let h = 1e-5;
    let mut bad = vec![];
    for &i in &coords {
        let mut wp = w.clone();
        wp[i] += h;
        let mut wm = w.clone();
        wm[i] -= h;
        let fd =
            (reference_loss(&wp, &x64, &labels) - reference_loss(&wm, &x64, &labels)) / (2.0 * h);
        // the f32 autograd gradient: relative 1e-4 of the largest entry (f32 sums of a few
        // thousand terms)
        if (g[i] as f64 - fd).abs() >= 1e-4 * gmax {
            bad.push(format!(
                "coordinate {i}: autograd {} vs central difference {fd}",
                g[i]
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {}: {bad:#?}",
        bad.len(),
        coords.len()
    );
}

#[test]
fn chain_batched_gradients_equal_chains_alone() {
    let (net, imgs, labels) = random_case(4, 2);
    let arch = net.arch().clone();
    let p = net.param_tensors();
    // chain c: the weights + 0.01 c, on its own half of the images
    let stacked: Vec<Tensor> = p
        .iter()
        .map(|t| {
            let v: Vec<Tensor> = (0..2)
                .map(|c| t.affine(1.0, 0.01 * c as f64).unwrap())
                .collect();
            Tensor::stack(&v, 0).unwrap()
        })
        .collect();
    let x = Tensor::from_slice(&imgs, (2, 2, 784), &Device::Cpu).unwrap();
    let both = loss_and_grads(&arch, &stacked, &[], &x, &labels, BnMode::Eval).unwrap();
    for c in 0..2 {
        let pc: Vec<Tensor> = stacked.iter().map(|t| t.get(c).unwrap()).collect();
        let one = loss_and_grads(
            &arch,
            &pc,
            &[],
            &x.get(c).unwrap(),
            &labels[2 * c..2 * c + 2],
            BnMode::Eval,
        )
        .unwrap();
        let a = both.loss.get(c).unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(a.to_bits(), one.loss.to_scalar::<f32>().unwrap().to_bits());
        for (gb, go) in both.grads.iter().zip(&one.grads) {
            let gb = gb
                .get(c)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let go = go.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(gb.iter().zip(&go).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }
}

#[test]
fn names_init_checkpoints_and_parsing() {
    let a: Arch = "lenet".parse().unwrap();
    assert_eq!(a, Arch::lenet());
    assert_eq!(a.to_string(), "lenet");
    assert!(!a.is_plain_mlp());
    assert_eq!((a.input_dim(), a.outputs()), (784, 10));
    assert_eq!(a.num_params(), 44_426);
    let names: Vec<String> = a.param_specs().into_iter().map(|s| s.0).collect();
    assert_eq!(
        names[..6],
        [
            "conv1.weight",
            "conv1.bias",
            "conv2.weight",
            "conv2.bias",
            "fc1.weight",
            "fc1.bias"
        ]
    );
    // serde: the convolution is written, and a file of the earlier form (no `conv`) reads
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"conv\":\"lenet\""), "{json}");
    assert_eq!(serde_json::from_str::<Arch>(&json).unwrap(), a);
    let old: Arch = serde_json::from_str(r#"{"widths":[784,8,10],"batchnorm":false}"#).unwrap();
    assert!(old.is_plain_mlp());
    // a LeNet with other widths or BatchNorm is refused with the field named
    let mut bad = Arch::lenet();
    bad.batchnorm = true;
    assert!(bad.validate().unwrap_err().to_string().contains("arch"));
    // PyTorch bounds: 1/sqrt(25) = 0.2 for conv1, 1/sqrt(150) for conv2
    let n = Network::init(&a, 4, &Device::Cpu).unwrap();
    let w = n.flat_params().unwrap();
    let m1 = w[..156].iter().fold(0f32, |m, v| m.max(v.abs()));
    let m2 = w[156..2572].iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(m1 <= 0.2 && m1 > 0.18, "{m1}");
    let b2 = 1.0 / 150f32.sqrt();
    assert!(m2 <= b2 && m2 > 0.99 * b2, "{m2}");
    // checkpoint round trip; the architecture is inferred from the tensors
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.safetensors");
    n.save(&p, BTreeMap::new()).unwrap();
    let (arch, flat) = read_flat_params(&p).unwrap();
    assert_eq!(arch, a);
    assert_eq!(flat, w);
    // a conv checkpoint with a wrong shape names the tensor and the file
    let mut t = n.to_named().unwrap();
    t[2].shape = vec![16, 6, 25];
    let q = dir.path().join("bad.safetensors");
    ffpe_validation::io::checkpoint::save(&q, &t, BTreeMap::new()).unwrap();
    let e = Network::load(&q, &Device::Cpu).unwrap_err().to_string();
    assert!(
        e.contains("bad.safetensors") && e.contains("conv2.weight"),
        "{e}"
    );
}

#[test]
fn mlp_only_paths_refuse_the_convnet() {
    let d = small_data();
    let w = Network::init(&Arch::lenet(), 0, &Device::Cpu)
        .unwrap()
        .flat_params()
        .unwrap();
    let made =
        ffpe_validation::mlp_cpu::SgdMlp::new(&Arch::lenet(), &w, &d.train, Default::default(), 1);
    let Err(e) = made else {
        panic!("the CPU MLP kernels accepted the convnet")
    };
    let e = e.to_string();
    assert!(e.contains("lenet"), "{e}");
    // 28 x 28 images only
    let narrow = Dataset {
        images: vec![0.5; 10 * 64],
        labels: (0..10).collect(),
        dim: 64,
    };
    let data = data::Data {
        train: narrow.clone(),
        test: narrow,
        source: "8x8".into(),
    };
    let cfg = conv_member(0, 0);
    let tmp = tempfile::tempdir().unwrap();
    let e = train::run(&cfg, &data, tmp.path(), &mut |_, _| true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("input width"), "{e}");
}

fn small_data() -> data::Data {
    data::load(&DataConfig {
        n_train: 300,
        n_test: 100,
        ..DataConfig::default()
    })
    .unwrap()
}

fn conv_member(init: u64, stream: u64) -> TrainConfig {
    TrainConfig {
        arch: Arch::lenet(),
        optimizer: Optimizer::sgd(0.05),
        batch_size: 16,
        steps: 30,
        checkpoints_per_decade: 5,
        checkpoint_every: Some(10),
        llc_every: 15,
        llc_schedule: ffpe_validation::train::LlcSchedule::Uniform,
        llc: ffpe_validation::llc::LlcConfig {
            chains: 2,
            draws: 4,
            batch_size: 16,
            seed: init,
            ..Default::default()
        },
        resume_every: 10,
        ..TrainConfig::default()
    }
    .with_seeds(init, stream)
}

/// The files a run writes that must be identical between equal runs.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    run_files::run_files(dir, &["metrics.csv", "llc.csv"])
}

#[test]
fn ensemble_members_equal_runs_alone_and_share_their_start() {
    let d = small_data();
    // two streams of one initialisation and one of another
    let cfgs = vec![conv_member(0, 1), conv_member(0, 2), conv_member(1, 3)];
    let root = tempfile::tempdir().unwrap();
    let alone: Vec<_> = cfgs
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let dir = root.path().join(format!("alone-{k}"));
            assert!(train::run(c, &d, &dir, &mut |_, _| true).unwrap().finished);
            dir
        })
        .collect();
    for threads in [1, 2] {
        let ds: Vec<_> = (0..3)
            .map(|k| root.path().join(format!("t{threads}/m{k}")))
            .collect();
        let runs = ensemble::run_ensemble(&cfgs, &d, &ds, threads, &mut |_, _| true).unwrap();
        for (k, r) in runs.iter().enumerate() {
            assert!(r.finished, "member {k}");
            assert!(!r.llc.is_empty(), "member {k}: LLC estimates");
            let (a, b) = (files(&alone[k]), files(&ds[k]));
            assert_eq!(a.len(), b.len());
            for ((na, ba), (_, bb)) in a.iter().zip(&b) {
                assert!(ba == bb, "member {k}, {threads} threads: {na} differs");
            }
        }
        let step0 = |k: usize| {
            std::fs::read(ds[k].join("checkpoints/step-0000000000.safetensors")).unwrap()
        };
        assert_eq!(step0(0), step0(1), "shared initialisation");
        assert_ne!(step0(0), step0(2));
        let w = |k: usize| {
            read_flat_params(&ds[k].join("checkpoints/step-0000000030.safetensors"))
                .unwrap()
                .1
        };
        assert_ne!(w(0), w(1), "different streams end apart");
    }
    // analyze reads the convnet's checkpoints like any run's
    let r = ffpe_validation::drift::external::analyse_runs(
        &alone[..2],
        &ffpe_validation::drift::external::ExternalConfig::default(),
    )
    .unwrap();
    assert!(r.shared_init);
    assert_eq!(r.steps.last(), Some(&30));
}
