//! Criterion benchmarks; one module per topic.

use criterion::{Criterion, criterion_group, criterion_main};

mod operator;

fn placeholder(c: &mut Criterion) {
    c.bench_function("noop", |b| b.iter(|| std::hint::black_box(1.0_f64).sqrt()));
}

criterion_group!(benches, placeholder);
criterion_group!(core, operator::operator_benches);
criterion_main!(benches, core);
