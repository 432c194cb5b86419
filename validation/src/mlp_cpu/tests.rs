//! Tests of the CPU fast path against the candle path and PyTorch's formulas.

use super::*;
use crate::grad;
use crate::model::{BnMode, Network};
use crate::rng::Rng;
use candle_core::{Device, Tensor};

/// `n` random images of `d` pixels, 80 % zeros, labels `(7 r) mod k`.
fn dataset(rng: &mut Rng, n: usize, d: usize, k: usize) -> Dataset {
    let mut images = vec![0f32; n * d];
    rng.fill_normal_f32(&mut images);
    for (j, v) in images.iter_mut().enumerate() {
        if j % 5 != 0 {
            *v = 0.0;
        }
    }
    let labels = (0..n).map(|r| ((r * 7) % k) as u8).collect();
    Dataset {
        images,
        labels,
        dim: d,
    }
}

/// Weights of `arch` drawn from `rng`: standard normal times 0.2.
fn small_params(arch: &Arch, rng: &mut Rng) -> Vec<f32> {
    let mut flat = vec![0f32; arch.num_params()];
    rng.fill_normal_f32(&mut flat);
    flat.iter_mut().for_each(|v| *v *= 0.2);
    flat
}

/// The candle path's minibatch loss and gradient (flat, PyTorch order) at the weights `flat`.
fn candle_loss_grad(arch: &Arch, flat: &[f32], data: &Dataset, idx: &[usize]) -> (f64, Vec<f32>) {
    let (mut xs, mut ys) = (vec![], vec![]);
    data.gather_into(idx, &mut xs, &mut ys);
    let net = Network::from_flat(arch, flat, None, &Device::Cpu).unwrap();
    let x = Tensor::from_slice(&xs, (idx.len(), arch.widths[0]), &Device::Cpu).unwrap();
    let lg = grad::loss_and_grads(arch, &net.param_tensors(), &[], &x, &ys, BnMode::Train).unwrap();
    let g = lg
        .grads
        .iter()
        .flat_map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect();
    (lg.loss.to_scalar::<f32>().unwrap() as f64, g)
}

/// One step of the fast path against one step of the candle path (`grad::loss_and_grads`
/// and `w - lr g`), dense and sparse inputs, widths that exercise full and partial
/// register blocks, one and two threads.
#[test]
fn step_matches_candle_path() {
    for (arch, input) in [
        ("50-70-130-10", InputLayer::Sparse),
        ("50-70-130-10", InputLayer::Dense),
        ("30-8-3", InputLayer::Sparse),
        ("30-10", InputLayer::Sparse),
        ("30-10", InputLayer::Dense),
    ] {
        let arch: Arch = arch.parse().unwrap();
        let mut rng = Rng::new(5, &[]);
        let flat = small_params(&arch, &mut rng);
        let k = *arch.widths.last().unwrap();
        let data = dataset(&mut rng, 50, arch.widths[0], k);
        let idx: Vec<usize> = (0..37).map(|r| (r * 11) % 50).collect();
        let lr = 0.05f32;
        for threads in [1, 2] {
            let mut fast = SgdMlp::new(&arch, &flat, &data, input, threads).unwrap();
            assert_eq!(fast.sparse_input(), input == InputLayer::Sparse);
            let loss = fast.step(&data, &idx, lr).unwrap();
            let (want_loss, g) = candle_loss_grad(&arch, &flat, &data, &idx);
            assert!((loss - want_loss).abs() < 1e-5, "{loss} vs {want_loss}");
            let got = fast.flat_params();
            let scale = g.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (j, ((w, g), n)) in flat.iter().zip(&g).zip(&got).enumerate() {
                let want = w - lr * g;
                // f32 sums in different orders: 1e-4 of the largest gradient entry times
                // lr, plus the rounding of the update itself
                assert!(
                    (want - n).abs() < 1e-4 * lr * scale + 1e-6 * w.abs(),
                    "{arch} {input:?} param {j}: {n} vs {want}"
                );
            }
        }
    }
}

/// Two Adam steps of the fast path: the gradient it uses against the candle path's, the
/// update against Adam's formula in f64 applied to that gradient; one and two threads give
/// the same bits; the moments round-trip through `adam_moments` / `set_adam_moments`; the
/// jump norm equals the weights' distance.
#[test]
fn adam_step_matches_candle_gradients_and_formula() {
    for (arch, input) in [
        ("50-70-130-10", InputLayer::Sparse),
        ("50-70-130-10", InputLayer::Dense),
        ("30-10", InputLayer::Sparse),
    ] {
        let arch: Arch = arch.parse().unwrap();
        let mut rng = Rng::new(6, &[]);
        let flat = small_params(&arch, &mut rng);
        let k = *arch.widths.last().unwrap();
        let data = dataset(&mut rng, 50, arch.widths[0], k);
        let batches: [Vec<usize>; 2] = [
            (0..37).map(|r| (r * 11) % 50).collect(),
            (0..20).map(|r| (r * 3 + 1) % 50).collect(),
        ];
        let (lr, b1, b2, eps) = (0.01f64, 0.9f64, 0.999f64, 1e-8f64);
        let mut w: Vec<f64> = flat.iter().map(|&v| v as f64).collect();
        let mut m = vec![0f64; w.len()];
        let mut v = vec![0f64; w.len()];
        let mut fast: Vec<SgdMlp> = [1, 2]
            .iter()
            .map(|&t| SgdMlp::new(&arch, &flat, &data, input, t).unwrap())
            .collect();
        for (t, idx) in batches.iter().enumerate() {
            let t = t as u64 + 1;
            let before = fast[0].flat_params();
            let (want_loss, want_g) = candle_loss_grad(&arch, &before, &data, idx);
            let step = AdamStep {
                lr,
                beta1: b1,
                beta2: b2,
                eps,
                weight_decay: 0.0,
                t,
            };
            let losses: Vec<f64> = fast
                .iter_mut()
                .map(|f| {
                    f.snapshot();
                    f.adam_step(&data, idx, &step).unwrap()
                })
                .collect();
            assert_eq!(losses[0].to_bits(), losses[1].to_bits());
            assert!((losses[0] - want_loss).abs() < 1e-5);
            // the gradient: candle's up to f32 summation order (1e-4 of the largest entry)
            let a = fast[0].opt.as_ref().unwrap();
            let g = fast[0].flatten(&a.gw, &a.gb);
            let scale = want_g.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (j, (x, y)) in g.iter().zip(&want_g).enumerate() {
                assert!((x - y).abs() < 1e-4 * scale, "{arch} grad {j}: {x} vs {y}");
            }
            // the update: Adam in f64 on the same gradient; f32 evaluation of the step
            // (a few ulps of a step of size <= lr / (1 - beta1)) and of `w + step` (half
            // an ulp of |w|), over two steps
            let (bc1, bc2) = (1.0 - b1.powi(t as i32), 1.0 - b2.powi(t as i32));
            for j in 0..w.len() {
                let gj = g[j] as f64;
                m[j] = b1 * m[j] + (1.0 - b1) * gj;
                v[j] = b2 * v[j] + (1.0 - b2) * gj * gj;
                w[j] -= lr / bc1 * m[j] / (v[j].sqrt() / bc2.sqrt() + eps);
            }
            let (p1, p2) = (fast[0].flat_params(), fast[1].flat_params());
            assert!(p1.iter().zip(&p2).all(|(a, b)| a.to_bits() == b.to_bits()));
            for (j, (got, want)) in p1.iter().zip(&w).enumerate() {
                assert!(
                    (*got as f64 - want).abs() < 1e-5 * lr + 2e-7 * want.abs(),
                    "{arch} {input:?} step {t} param {j}: {got} vs {want}"
                );
            }
            let jump = fast[0].distance_from_snapshot().unwrap();
            let want_jump = p1
                .iter()
                .zip(&before)
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!((jump - want_jump).abs() <= 1e-12 * want_jump);
        }
        // moments survive a round trip into a fresh network: the next step is identical
        let (mm, vv) = fast[0].adam_moments().unwrap();
        let mut again = SgdMlp::new(&arch, &fast[0].flat_params(), &data, input, 1).unwrap();
        again.set_adam_moments(&mm, &vv).unwrap();
        let step = AdamStep {
            lr,
            beta1: b1,
            beta2: b2,
            eps,
            weight_decay: 0.0,
            t: 3,
        };
        let la = fast[0].adam_step(&data, &batches[0], &step).unwrap();
        let lb = again.adam_step(&data, &batches[0], &step).unwrap();
        assert_eq!(la.to_bits(), lb.to_bits());
        assert!(
            fast[0]
                .flat_params()
                .iter()
                .zip(&again.flat_params())
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
        assert!(again.set_adam_moments(&mm[1..], &vv).is_err());
        for bad in [
            AdamStep { t: 0, ..step },
            AdamStep { lr: -1.0, ..step },
            AdamStep { beta2: 1.0, ..step },
            AdamStep { eps: 0.0, ..step },
        ] {
            assert!(again.adam_step(&data, &batches[0], &bad).is_err());
        }
    }
}

#[test]
fn thread_count_round_trip_and_errors() {
    let arch: Arch = "40-66-12".parse().unwrap();
    let mut rng = Rng::new(9, &[]);
    let mut flat = vec![0f32; arch.num_params()];
    rng.fill_normal_f32(&mut flat);
    let data = dataset(&mut rng, 30, 40, 12);
    let same = SgdMlp::new(&arch, &flat, &data, InputLayer::Dense, 1)
        .unwrap()
        .flat_params();
    assert!(
        flat.iter()
            .zip(&same)
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
    let idx: Vec<usize> = (0..21).map(|r| (r * 7) % 30).collect();
    for input in [InputLayer::Dense, InputLayer::Sparse] {
        let mut a = SgdMlp::new(&arch, &flat, &data, input, 1).unwrap();
        let mut b = SgdMlp::new(&arch, &flat, &data, input, 2).unwrap();
        for _ in 0..3 {
            let la = a.step(&data, &idx, 0.1).unwrap();
            let lb = b.step(&data, &idx, 0.1).unwrap();
            assert_eq!(la.to_bits(), lb.to_bits());
        }
        let (pa, pb) = (a.flat_params(), b.flat_params());
        assert!(pa.iter().zip(&pb).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
    let mut a = SgdMlp::new(&arch, &flat, &data, InputLayer::Auto, 1).unwrap();
    assert!(a.sparse_input());
    assert!(a.step(&data, &[30], 0.1).is_err());
    // A minibatch of one (empty first half) and an empty one (no update).
    for input in [InputLayer::Dense, InputLayer::Sparse] {
        for threads in [1, 2] {
            let mut m = SgdMlp::new(&arch, &flat, &data, input, threads).unwrap();
            assert!(m.step(&data, &[3], 0.1).unwrap().is_finite());
            let before = m.flat_params();
            assert!(m.step(&data, &[], 0.1).unwrap().is_nan());
            assert!(
                before
                    .iter()
                    .zip(&m.flat_params())
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            );
        }
    }
    let mut bad = data.clone();
    bad.labels[0] = 12;
    assert!(a.step(&bad, &[0], 0.1).is_err());
    assert!(a.step(&data.subset(&[1, 2]), &[0], 0.1).is_err());
    let small: Arch = "40-66-11".parse().unwrap();
    let mut s = SgdMlp::new(
        &small,
        &vec![0.0; small.num_params()],
        &data,
        InputLayer::Auto,
        1,
    )
    .unwrap();
    assert!(s.step(&data, &[5], 0.1).is_err()); // label 11 >= 11 outputs
    assert!(SgdMlp::new(&arch, &flat[1..], &data, InputLayer::Auto, 1).is_err());
    assert!((density(&[0.0, 1.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
    assert!(InputLayer::Auto.sparse_for(&[0.0, 1.0, 0.0, 0.0]));
    assert!(!InputLayer::Auto.sparse_for(&[0.5, 1.0, 0.0, 0.0]));
    assert_eq!("dense".parse::<InputLayer>().unwrap(), InputLayer::Dense);
    assert!("x".parse::<InputLayer>().is_err());
}

/// The sparse first layer's SGLD step in one pass (localisation, noise and gradient fused)
/// gives the same bits as the two passes it replaces, with and without noise, over several
/// steps, for widths with full and partial register blocks and inputs no image of the
/// minibatch uses (their weights get the localisation and noise only).
#[test]
fn fused_sgld_step_matches_two_passes_to_the_bit() {
    for arch in ["50-70-130-10", "30-8-3", "40-150-10"] {
        let arch: Arch = arch.parse().unwrap();
        let mut rng = Rng::new(11, &[]);
        let flat = small_params(&arch, &mut rng);
        let k = *arch.widths.last().unwrap();
        let mut data = dataset(&mut rng, 60, arch.widths[0], k);
        // pixels 1 and 6 zero in every image: columns without entries
        for row in data.images.chunks_exact_mut(arch.widths[0]) {
            row[1] = 0.0;
            row[6] = 0.0;
        }
        for noise_level in [1.0, 0.0] {
            let s = SgldStep {
                half_eps: 0.01,
                nbeta: 30.0,
                gamma: 50.0,
                noise_scale: (0.02f64.sqrt() * noise_level) as f32,
            };
            let mut nets = [true, false]
                .map(|_| SgdMlp::new(&arch, &flat, &data, InputLayer::Sparse, 1).unwrap());
            assert!(nets[0].sparse_input());
            let anchor = nets[0].anchor();
            // the anchor moved off the start so that the localisation term is not zero
            for net in &mut nets {
                net.step(&data, &[0, 1, 2], 0.3).unwrap();
            }
            let mut streams = [0, 1].map(|_| NormalBlocks::new(&mut Rng::new(3, &[7])));
            for t in 0..4 {
                let idx: Vec<usize> = (0..23).map(|r| (r * 7 + t * 5) % 60).collect();
                let [a, b] = &mut nets;
                let [na, nb] = &mut streams;
                let la = a
                    .sgld_step_fused(&data, &idx, &anchor, &s, na, true)
                    .unwrap();
                let lb = b
                    .sgld_step_fused(&data, &idx, &anchor, &s, nb, false)
                    .unwrap();
                assert_eq!(la.to_bits(), lb.to_bits());
                let (pa, pb) = (a.flat_params(), b.flat_params());
                for (j, (x, y)) in pa.iter().zip(&pb).enumerate() {
                    assert_eq!(
                        x.to_bits(),
                        y.to_bits(),
                        "{arch} step {t} param {j}: {x} vs {y}"
                    );
                }
            }
        }
    }
}

/// `loss_and_gradient` against the candle path's loss and gradient (flat, PyTorch order),
/// sparse and dense first layers; the weights are left as they were.
#[test]
fn loss_and_gradient_match_candle_path() {
    for (arch, input) in [
        ("50-70-130-10", InputLayer::Sparse),
        ("50-70-130-10", InputLayer::Dense),
        ("30-10", InputLayer::Sparse),
    ] {
        let arch: Arch = arch.parse().unwrap();
        let mut rng = Rng::new(8, &[]);
        let flat = small_params(&arch, &mut rng);
        let k = *arch.widths.last().unwrap();
        let data = dataset(&mut rng, 50, arch.widths[0], k);
        let idx: Vec<usize> = (0..29).map(|r| (r * 13) % 50).collect();
        let mut fast = SgdMlp::new(&arch, &flat, &data, input, 1).unwrap();
        let (loss, g) = fast.loss_and_gradient(&data, &idx).unwrap();
        assert_eq!(fast.flat_params(), flat);
        let (want_loss, want) = candle_loss_grad(&arch, &flat, &data, &idx);
        assert!((loss - want_loss).abs() < 1e-5, "{loss} vs {want_loss}");
        assert_eq!(g.len(), want.len());
        let scale = want.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
        for (j, (a, b)) in g.iter().zip(&want).enumerate() {
            // f32 sums of up to 29 rows in different orders: 1e-5 of the largest entry
            assert!(
                (a - b).abs() < 1e-5 * scale,
                "{arch} {input:?} grad {j}: {a} vs {b}"
            );
        }
    }
}
