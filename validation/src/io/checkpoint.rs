//! Safetensors files (f32 tensors with PyTorch-compatible names), written with
//! [`crate::io::write_atomic`].

use crate::error::{Error, Result};
use crate::io::write_atomic;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A named f32 tensor in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// Name, e.g. `fc1.weight`.
    pub name: String,
    /// Shape, e.g. `[128, 784]`.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// Serialize tensors (and string metadata) to safetensors bytes.
///
/// The metadata are stored under the single header key `ffpe` as a JSON object with sorted keys
/// (safetensors keeps its metadata in a hash map, whose order would otherwise vary from run to
/// run), so the same tensors and metadata always give the same bytes.
pub fn to_bytes(tensors: &[NamedTensor], metadata: BTreeMap<String, String>) -> Result<Vec<u8>> {
    // BatchNorm's `num_batches_tracked` is an i64 scalar in PyTorch's state_dict.
    let is_count = |t: &NamedTensor| t.name.ends_with("num_batches_tracked");
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| {
            if is_count(t) {
                t.data
                    .iter()
                    .flat_map(|v| (*v as i64).to_le_bytes())
                    .collect()
            } else {
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect()
            }
        })
        .collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| {
            let dtype = if is_count(t) { Dtype::I64 } else { Dtype::F32 };
            Ok((t.name.clone(), TensorView::new(dtype, t.shape.clone(), b)?))
        })
        .collect::<std::result::Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let header = (!metadata.is_empty()).then(|| {
        HashMap::from([(
            "ffpe".to_string(),
            serde_json::to_string(&metadata).unwrap_or_default(),
        )])
    });
    Ok(safetensors::serialize(views, header)?)
}

/// Save tensors atomically to `path`.
pub fn save(
    path: &Path,
    tensors: &[NamedTensor],
    metadata: BTreeMap<String, String>,
) -> Result<()> {
    write_atomic(path, &to_bytes(tensors, metadata)?)
}

/// Largest checkpoint [`load`] reads: 4 GiB.
pub const MAX_CHECKPOINT_BYTES: u64 = 4 << 30;

/// Load every tensor (converted to f32; F32, F64, F16 and BF16 are accepted) and the metadata
/// (ours from the `ffpe` key; other files' header metadata as they are).
///
/// Every value must be finite: a NaN or an infinity (also one an F64 value becomes when it
/// overflows f32) is an error naming the file, the tensor and the element's index, so that no
/// command computes on a poisoned checkpoint.
///
/// Only regular files up to [`MAX_CHECKPOINT_BYTES`] are read (a device such as `/dev/zero`
/// or a larger file is refused before reading).
pub fn load(path: &Path) -> Result<(Vec<NamedTensor>, BTreeMap<String, String>)> {
    let err = |what: String| Error::Checkpoint {
        path: path.to_path_buf(),
        what,
    };
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(err(
            "not a regular file: a checkpoint must be a safetensors file".into(),
        ));
    }
    if meta.len() > MAX_CHECKPOINT_BYTES {
        return Err(err(format!(
            "{} bytes: allowed at most {MAX_CHECKPOINT_BYTES} (4 GiB, 1e9 f32 parameters)",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| err(format!("not a safetensors file: {e}")))?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| err(e.to_string()))?;
    let mut out = vec![];
    for (name, view) in st.tensors() {
        let d = view.data();
        let data: Vec<f32> = match view.dtype() {
            Dtype::F32 => d
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F64 => d
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
            Dtype::F16 => d
                .chunks_exact(2)
                .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::BF16 => d
                .chunks_exact(2)
                .map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16))
                .collect(),
            Dtype::I64 if name.ends_with("num_batches_tracked") => continue,
            other => {
                return Err(err(format!(
                    "tensor {name} has dtype {other:?}; expected a float type"
                )));
            }
        };
        if let Some((i, v)) = data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(err(format!(
                "tensor {name} holds a non-finite value ({v}) at flat index {i}; every value \
                 must be finite"
            )));
        }
        out.push(NamedTensor {
            name,
            shape: view.shape().to_vec(),
            data,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((out, flat_metadata(meta.metadata())))
}

/// The header metadata as [`load`] gives it: ours unpacked from the `ffpe` key, other keys as
/// they are.
fn flat_metadata(meta: &Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in meta.clone().unwrap_or_default() {
        match serde_json::from_str::<BTreeMap<String, String>>(&v) {
            Ok(inner) if k == "ffpe" => m.extend(inner),
            _ => {
                m.insert(k, v);
            }
        }
    }
    m
}

/// Largest safetensors header [`load_metadata`] reads (the safetensors crate's own limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The metadata of a checkpoint (as [`load`] gives them) from its header alone, without
/// reading the tensor data: a safetensors file opens with the header's length (8 bytes,
/// little-endian) and the header (JSON: every tensor's dtype, shape and offsets, and the
/// `__metadata__` strings), so only `8 + length` bytes are read, however large the file.
pub fn load_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    use std::io::Read as _;
    let err = |what: String| Error::Checkpoint {
        path: path.to_path_buf(),
        what,
    };
    let file_len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !file_len.is_file() {
        return Err(err(
            "not a regular file: a checkpoint must be a safetensors file".into(),
        ));
    }
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len)
        .map_err(|e| err(format!("not a safetensors file: no header length ({e})")))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER_BYTES || n > file_len.len().saturating_sub(8) {
        return Err(err(format!(
            "not a safetensors file: header length {n} bytes in a file of {} bytes (at most \
             {MAX_HEADER_BYTES})",
            file_len.len()
        )));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header)
        .map_err(|e| err(format!("not a safetensors file: short header ({e})")))?;
    let meta: safetensors::tensor::Metadata = serde_json::from_slice(&header)
        .map_err(|e| err(format!("not a safetensors file: header: {e}")))?;
    Ok(flat_metadata(meta.metadata()))
}

fn half_to_f32(h: u16) -> f32 {
    let s = ((h >> 15) & 1) as u32;
    let e = ((h >> 10) & 0x1f) as i32;
    let m = (h & 0x3ff) as u32;
    let v = if e == 0 {
        m as f32 * 2f32.powi(-24)
    } else if e == 31 {
        if m == 0 { f32::INFINITY } else { f32::NAN }
    } else {
        f32::from_bits(((e + 112) as u32) << 23 | m << 13)
    };
    if s == 1 { -v } else { v }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.safetensors");
        let t = vec![NamedTensor {
            name: "fc1.weight".into(),
            shape: vec![2, 3],
            data: vec![1.0, -2.0, 3.5, 0.0, 1e-30, f32::MAX],
        }];
        let mut m = BTreeMap::new();
        m.insert("step".to_string(), "7".to_string());
        m.insert("arch".to_string(), "2-3".to_string());
        save(&p, &t, m.clone()).unwrap();
        let b1 = std::fs::read(&p).unwrap();
        save(&p, &t, m.clone()).unwrap();
        assert_eq!(b1, std::fs::read(&p).unwrap());
        let (t2, m2) = load(&p).unwrap();
        assert_eq!(t, t2);
        assert_eq!(m, m2);
        assert!((half_to_f32(0x3c00) - 1.0).abs() < 1e-7);
        assert!((half_to_f32(0xc000) + 2.0).abs() < 1e-7);
        for (k, bad) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY]
            .into_iter()
            .enumerate()
        {
            let mut poisoned = t.clone();
            poisoned[0].data[k + 1] = bad;
            save(&p, &poisoned, m.clone()).unwrap();
            let e = load(&p).unwrap_err().to_string();
            assert!(
                e.contains("a.safetensors")
                    && e.contains("tensor fc1.weight")
                    && e.contains(&format!("index {}", k + 1)),
                "{e}"
            );
        }
        // an f64 beyond f32's range becomes infinite when converted
        let big = 1e300f64.to_le_bytes();
        let view = TensorView::new(Dtype::F64, vec![1], &big).unwrap();
        std::fs::write(&p, safetensors::serialize([("w", view)], None).unwrap()).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("tensor w holds a non-finite"), "{e}");
        std::fs::write(&p, b"garbage").unwrap();
        assert!(
            load(&p)
                .unwrap_err()
                .to_string()
                .contains("not a safetensors")
        );
    }
}
