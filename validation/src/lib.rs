//! # ffpe-validation: does SGD subdiffuse on a fractal?
//!
//! MNIST networks trained with candle, weight trajectories, local learning coefficient (LLC)
//! estimation by SGLD, analysis, and comparison with `ffpe` predictions.
