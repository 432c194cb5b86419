//! Tests of the candle optimizer step and the schedule.

use super::*;
use candle_core::DType;

#[test]
fn schedule_is_geometric() {
    let s = checkpoint_schedule(1000, 10);
    assert_eq!(s[..6], [0, 1, 2, 3, 4, 5]);
    assert_eq!(*s.last().unwrap(), 1000);
    assert!(s.contains(&100) && s.contains(&126) && s.contains(&158));
    // about per_decade points per decade once the values are distinct
    assert_eq!(s.iter().filter(|&&v| (100..1000).contains(&v)).count(), 10);
}

#[test]
fn adam_and_sgd_match_hand_computation() {
    // Two Adam steps on one parameter with gradients 0.5 then -0.25 (PyTorch's formula).
    let dev = Device::Cpu;
    let p = Var::from_tensor(&Tensor::new(&[1.0f32], &dev).unwrap()).unwrap();
    let mut st = OptState {
        t: 0,
        m: vec![Tensor::zeros(1, DType::F32, &dev).unwrap()],
        v: vec![Tensor::zeros(1, DType::F32, &dev).unwrap()],
    };
    let opt = Optimizer::adam(0.1);
    let (b1, b2, eps, lr) = (0.9f64, 0.999f64, 1e-8, 0.1);
    let (mut m, mut v, mut w) = (0.0f64, 0.0f64, 1.0f64);
    for (t, g) in [(1, 0.5f64), (2, -0.25)] {
        let gt = Tensor::new(&[g as f32], &dev).unwrap();
        opt_step(&opt, std::slice::from_ref(&p), &[gt], &mut st).unwrap();
        m = b1 * m + (1.0 - b1) * g;
        v = b2 * v + (1.0 - b2) * g * g;
        let denom = v.sqrt() / (1.0 - b2.powi(t)).sqrt() + eps;
        w -= lr / (1.0 - b1.powi(t)) * m / denom;
        let got = p.as_tensor().to_vec1::<f32>().unwrap()[0] as f64;
        assert!((got - w).abs() < 1e-6, "step {t}: {got} vs {w}");
    }
    // SGD: w - lr g
    let q = Var::from_tensor(&Tensor::new(&[2.0f32, -1.0], &dev).unwrap()).unwrap();
    let g = Tensor::new(&[0.5f32, 4.0], &dev).unwrap();
    let mut st = OptState {
        t: 0,
        m: vec![],
        v: vec![],
    };
    opt_step(
        &Optimizer::sgd(0.1),
        std::slice::from_ref(&q),
        &[g],
        &mut st,
    )
    .unwrap();
    let got = q.as_tensor().to_vec1::<f32>().unwrap();
    assert!(
        (got[0] - 1.95).abs() < 1e-6 && (got[1] + 1.4).abs() < 1e-6,
        "{got:?}"
    );
}
