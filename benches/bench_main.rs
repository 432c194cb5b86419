//! Criterion benchmarks; one module per topic.

use criterion::{Criterion, criterion_group, criterion_main};

mod history;
mod mittag_leffler;
mod operator;
mod schemes;
mod sparse_grid;

fn placeholder(c: &mut Criterion) {
    c.bench_function("noop", |b| b.iter(|| std::hint::black_box(1.0_f64).sqrt()));
}

criterion_group!(benches, placeholder);
criterion_group!(core, operator::operator_benches);
criterion_group!(
    solvers,
    mittag_leffler::ml_benches,
    history::history_benches
);
criterion_group!(sparse, sparse_grid::sparse_grid_benches);
criterion_group!(time_schemes, schemes::scheme_benches);
criterion_main!(benches, core, solvers, sparse, time_schemes);
