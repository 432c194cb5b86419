//! The problem file as typed sections: serde derive (`deny_unknown_fields`) on one
//! struct per section and per `kind`, whose fields are the one list of keys (the
//! unknown-key check, the error messages and the module-docs test read them back,
//! [`keys_of`]). Values are checked later, in `validate.rs`, with messages that name
//! the key and the allowed range.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, forward_to_deserialize_any};
use toml::{Table, Value};

use crate::error::{FfpeError, Result};

/// The field names of a struct that derives `Deserialize`, as serde's derive lists
/// them (the one list of keys of a section).
pub fn keys_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

/// A deserializer that records the field list serde's derive passes to
/// `deserialize_struct`, then stops.
struct FieldProbe<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct ProbeStop;

impl std::fmt::Display for ProbeStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field probe")
    }
}

impl std::error::Error for ProbeStop {}

impl de::Error for ProbeStop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        ProbeStop
    }
}

impl<'de> Deserializer<'de> for FieldProbe<'_> {
    type Error = ProbeStop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> std::result::Result<V::Value, ProbeStop> {
        Err(ProbeStop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> std::result::Result<V::Value, ProbeStop> {
        *self.0 = fields;
        Err(ProbeStop)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

// ---------------------------------------------------------------- leaf values

/// A number (TOML float or integer).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Real(pub f64);

/// A number or a list of numbers (one per axis).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Reals(pub Vec<f64>);

/// An integer (range checked by the validation, which names the key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Int(pub i64);

/// An integer or a list of integers (one per axis).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Ints(pub Vec<i64>);

/// `true` or `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

struct RealVisitor;
impl Visitor<'_> for RealVisitor {
    type Value = f64;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<f64, E> {
        Ok(v as f64)
    }
}

impl<'de> Deserialize<'de> for Real {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(RealVisitor).map(Real)
    }
}

struct RealsVisitor;
impl<'de> Visitor<'de> for RealsVisitor {
    type Value = Vec<f64>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number or a list of numbers")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Vec<f64>, E> {
        Ok(vec![v])
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Vec<f64>, E> {
        Ok(vec![v as f64])
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Vec<f64>, E> {
        Ok(vec![v as f64])
    }
    fn visit_seq<A: de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Vec<f64>, A::Error> {
        let mut out = Vec::new();
        while let Some(Real(x)) = seq.next_element()? {
            out.push(x);
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Reals {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(RealsVisitor).map(Reals)
    }
}

struct IntVisitor;
impl Visitor<'_> for IntVisitor {
    type Value = i64;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(IntVisitor).map(Int)
    }
}

struct IntsVisitor;
impl<'de> Visitor<'de> for IntsVisitor {
    type Value = Vec<i64>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an integer or a list of integers")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Vec<i64>, E> {
        Ok(vec![v])
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Vec<i64>, E> {
        IntVisitor.visit_u64(v).map(|v| vec![v])
    }
    fn visit_seq<A: de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Vec<i64>, A::Error> {
        let mut out = Vec::new();
        while let Some(Int(x)) = seq.next_element()? {
            out.push(x);
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for Ints {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(IntsVisitor).map(Ints)
    }
}

struct FlagVisitor;
impl Visitor<'_> for FlagVisitor {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("true or false")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<bool, E> {
        Ok(v)
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(FlagVisitor).map(Flag)
    }
}

// ---------------------------------------------------------------- sections

/// `[equation]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EquationSpec {
    /// Caputo order, `0 < alpha <= 1` (required).
    pub alpha: Option<Real>,
    /// Friction `> 0` (default 1).
    pub gamma: Option<Real>,
    /// Diffusion: a number or one per axis (or `[equation.fractal]`).
    pub diffusion: Option<Reals>,
    /// `[equation.fractal]`: `D = xi^(2 - 2 lambda / d_s)`.
    pub fractal: Option<FractalSpec>,
}

/// `[equation.fractal]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FractalSpec {
    /// The LLC `lambda > 0`.
    pub lambda: Option<Real>,
    /// The spectral dimension `d_s > 0`.
    pub spectral_dimension: Option<Real>,
    /// The scale `xi > 0`.
    pub xi: Option<Real>,
}

/// `[domain]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DomainSpec {
    /// Lower corner: a number or one per axis.
    pub lower: Option<Reals>,
    /// Upper corner: a number or one per axis.
    pub upper: Option<Reals>,
    /// Cells per axis (`>= 3`): a number or one per axis.
    pub cells: Option<Ints>,
    /// `no-flux` (default), `absorbing` or `periodic`.
    pub boundary: Option<String>,
    /// The dimension, `1..=8` (default: the longest of lower, upper, cells).
    pub dimension: Option<Int>,
}

/// `[potential] kind = "flat"` (the default), also `kind = "product_square"`: no other key.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NoKeys {}

/// `[potential] kind = "quadratic"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuadraticSpec {
    /// Stiffness `k_i >= 0` (required).
    pub stiffness: Option<Reals>,
    /// Centre (default 0).
    pub center: Option<Reals>,
}

/// `[potential] kind = "double_well"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleWellSpec {
    /// Barrier height `h > 0` (required).
    pub height: Option<Real>,
    /// Half well distance `a > 0` (required).
    pub width: Option<Real>,
    /// Centre (default 0).
    pub center: Option<Reals>,
}

/// `[potential] kind = "power"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PowerSpec {
    /// Coefficient `c` (default 1).
    pub coefficient: Option<Real>,
    /// Exponent parameter `k > 0` (required).
    pub k: Option<Real>,
}

/// `[potential] kind = "normal_crossing"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NormalCrossingSpec {
    /// Exponents `k_i >= 0` per axis (required).
    pub k: Option<Reals>,
}

/// `kind = "tabulated"` (potential or initial density).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TabulatedSpec {
    /// One value per cell, axis 0 fastest (required).
    pub values: Option<Reals>,
}

/// `[potential]`, by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PotentialSpec {
    /// `L = 0`.
    Flat(NoKeys),
    /// `L = sum k_i (w_i - c_i)^2 / 2`.
    Quadratic(QuadraticSpec),
    /// `L = sum h ((w_i - c_i)^2 / a^2 - 1)^2`.
    DoubleWell(DoubleWellSpec),
    /// `L = c sum |w_i|^(2k)`.
    Power(PowerSpec),
    /// `L = prod |w_i|^(2 k_i)`.
    NormalCrossing(NormalCrossingSpec),
    /// `L = (w_1 w_2)^2`.
    ProductSquare(NoKeys),
    /// Cell values.
    Tabulated(TabulatedSpec),
}

/// `[initial] kind = "gaussian"` (the default).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GaussianSpec {
    /// Mean per axis, inside the domain (required).
    pub mean: Option<Reals>,
    /// Standard deviation per axis `> 0` (required).
    pub std: Option<Reals>,
}

/// `[initial] kind = "point"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PointSpec {
    /// The start point, inside the domain (required).
    pub mean: Option<Reals>,
}

/// `[initial]`, by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InitialSpec {
    /// Gaussian bump.
    Gaussian(GaussianSpec),
    /// All mass in the cell of a point.
    Point(PointSpec),
    /// The Boltzmann density of the potential.
    Boltzmann(NoKeys),
    /// Cell values.
    Tabulated(TabulatedSpec),
}

/// `[time]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    /// Final time `> 0` (required).
    pub t_end: Option<Real>,
    /// Base steps `>= 1` (required).
    pub steps: Option<Int>,
    /// `graded-blocks` (default), `graded` or `uniform`.
    pub mesh: Option<String>,
    /// `l1` (default) or `l2-1sigma`.
    pub scheme: Option<String>,
    /// Grading exponent `1 <= r <= 8` of graded meshes.
    pub grading: Option<Real>,
    /// `soe` (default), `direct` or `fft`.
    pub history: Option<String>,
    /// SOE tolerance, `1e-15 <= tolerance <= 1e-2` (default 1e-12).
    pub tolerance: Option<Real>,
    /// Stop after this many steps, `>= 1` (default: no limit).
    pub max_steps: Option<Int>,
    /// `auto` (default), `lu` or `cholesky`.
    pub linear_solver: Option<String>,
}

/// `[output]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Output times in `[0, t_end]` (default `[t_end]`).
    pub times: Option<Reals>,
    /// Keep density snapshots (default false).
    pub snapshots: Option<Flag>,
}

/// `[grid] kind = "full"` (the default).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FullGridSpec {
    /// Richardson extrapolation in space (default false).
    pub extrapolate: Option<Flag>,
}

/// `[grid] kind = "sparse"`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SparseGridSpec {
    /// Finest level per axis, `1..=24` (required).
    pub level: Option<Int>,
    /// Coarsest level per axis, `1..=level` (default 2).
    pub min_level: Option<Int>,
    /// Richardson extrapolation of levels `n` and `n - 1` (default false).
    pub extrapolate: Option<Flag>,
    /// Worker threads, `1..=1024` (default: all cores).
    pub threads: Option<Int>,
    /// `auto` (default), `direct` or `iterative`.
    pub linear_solver: Option<String>,
}

/// `[grid]`, by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GridSection {
    /// Full tensor grid.
    Full(FullGridSpec),
    /// Sparse grid (combination technique).
    Sparse(SparseGridSpec),
}

/// A whole problem file, section by section (absent sections are `None`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FileSpec {
    /// `[equation]`.
    pub equation: Option<EquationSpec>,
    /// `[potential]`.
    pub potential: Option<PotentialSpec>,
    /// `[domain]`.
    pub domain: Option<DomainSpec>,
    /// `[initial]`.
    pub initial: Option<InitialSpec>,
    /// `[time]`.
    pub time: Option<TimeSpec>,
    /// `[output]`.
    pub output: Option<OutputSpec>,
    /// `[grid]`.
    pub grid: Option<GridSection>,
}

/// The sections of a problem file with their keys: plain sections list their keys, the
/// sections with a `kind` list the keys of each kind (the first kind is the default).
pub enum SectionKeys {
    /// Keys of a section without kinds.
    Plain(&'static [&'static str]),
    /// `(kind, keys besides kind)` per kind; the first is the default kind.
    Kinds(Vec<(&'static str, &'static [&'static str])>),
}

/// Every section and its keys, in file order.
pub fn sections() -> Vec<(&'static str, SectionKeys)> {
    use SectionKeys::{Kinds, Plain};
    vec![
        ("equation", Plain(keys_of::<EquationSpec>())),
        (
            "potential",
            Kinds(vec![
                ("flat", keys_of::<NoKeys>()),
                ("quadratic", keys_of::<QuadraticSpec>()),
                ("double_well", keys_of::<DoubleWellSpec>()),
                ("power", keys_of::<PowerSpec>()),
                ("normal_crossing", keys_of::<NormalCrossingSpec>()),
                ("product_square", keys_of::<NoKeys>()),
                ("tabulated", keys_of::<TabulatedSpec>()),
            ]),
        ),
        ("domain", Plain(keys_of::<DomainSpec>())),
        (
            "initial",
            Kinds(vec![
                ("gaussian", keys_of::<GaussianSpec>()),
                ("point", keys_of::<PointSpec>()),
                ("boltzmann", keys_of::<NoKeys>()),
                ("tabulated", keys_of::<TabulatedSpec>()),
            ]),
        ),
        ("time", Plain(keys_of::<TimeSpec>())),
        ("output", Plain(keys_of::<OutputSpec>())),
        (
            "grid",
            Kinds(vec![
                ("full", keys_of::<FullGridSpec>()),
                ("sparse", keys_of::<SparseGridSpec>()),
            ]),
        ),
    ]
}

/// `[equation.fractal]`, the one sub-table.
pub fn fractal_keys() -> &'static [&'static str] {
    keys_of::<FractalSpec>()
}

/// The toml error of deserializing section `section` as an [`FfpeError`] that names the
/// key: toml puts the path of the value under the section on the last line, `in
/// \`key\``; serde's message says what was expected.
fn wrong_type(section: &str, e: &toml::de::Error) -> FfpeError {
    let text = e.to_string();
    let path = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("in `")?.strip_suffix('`'));
    let key = match path {
        Some(p) => format!("{section}.{p}"),
        None => section.to_string(),
    };
    let msg = e.message();
    let expected = msg.split_once(", expected ").map_or(msg, |(_, x)| x);
    FfpeError::WrongType {
        key,
        expected: expected.to_string(),
    }
}

/// Deserializes one section (`table` without its `kind`).
fn section<T: for<'de> Deserialize<'de>>(name: &str, table: Table) -> Result<T> {
    Value::Table(table)
        .try_into::<T>()
        .map_err(|e| wrong_type(name, &e))
}

/// A section that must be a table.
fn table<'a>(root: &'a Table, name: &str) -> Result<Option<&'a Table>> {
    match root.get(name) {
        None => Ok(None),
        Some(Value::Table(t)) => Ok(Some(t)),
        Some(_) => Err(FfpeError::WrongType {
            key: name.into(),
            expected: format!("a table [{name}]"),
        }),
    }
}

fn unknown_key(
    section: &str,
    key: &str,
    kind: Option<&str>,
    allowed: &[&str],
    others: &[(&str, &[&str])],
) -> FfpeError {
    let list = allowed.join(", ");
    match kind {
        None => FfpeError::UnknownKind {
            key: format!("{section}.{key}"),
            value: key.into(),
            allowed: format!("keys of [{section}]: {list}"),
        },
        Some(kind) => match others.iter().find(|(_, keys)| keys.contains(&key)) {
            Some((other, _)) => FfpeError::invalid(
                &format!("{section}.{key}"),
                format!(
                    "a key of [{section}] kind = \"{other}\" only; kind = \"{kind}\" takes {list}"
                ),
            ),
            None => FfpeError::UnknownKind {
                key: format!("{section}.{key}"),
                value: key.into(),
                allowed: format!("keys of [{section}] kind = \"{kind}\": {list}"),
            },
        },
    }
}

/// Checks the keys of a section against `allowed`.
fn check_keys(
    name: &str,
    t: &Table,
    kind: Option<&str>,
    allowed: &[&str],
    others: &[(&str, &[&str])],
) -> Result<()> {
    match t.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(unknown_key(name, k, kind, allowed, others)),
        None => Ok(()),
    }
}

/// The kind of a section with kinds (default: the first) and its keys, `kind` included.
fn kind_of<'k>(
    name: &str,
    t: &Table,
    kinds: &'k [(&'static str, &'static [&'static str])],
) -> Result<(&'static str, &'k [&'static str])> {
    let kind = match t.get("kind") {
        None => kinds[0].0,
        Some(Value::String(s)) => kinds
            .iter()
            .find(|(k, _)| k == s)
            .map(|(k, _)| *k)
            .ok_or_else(|| FfpeError::UnknownKind {
                key: format!("{name}.kind"),
                value: s.clone(),
                allowed: kinds
                    .iter()
                    .map(|(k, _)| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
        Some(_) => {
            return Err(FfpeError::WrongType {
                key: format!("{name}.kind"),
                expected: "a string".into(),
            });
        }
    };
    let keys = kinds.iter().find(|(k, _)| *k == kind).map(|(_, f)| *f);
    Ok((kind, keys.unwrap_or(&[])))
}

impl FileSpec {
    /// Reads the sections of a parsed TOML table. Unknown sections and keys are errors
    /// naming the key and listing the allowed ones; so are values of the wrong type.
    pub fn from_table(root: &Table) -> Result<Self> {
        let all = sections();
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        if let Some(k) = root.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(FfpeError::UnknownKind {
                key: k.clone(),
                value: k.clone(),
                allowed: format!("sections {}", names.join(", ")),
            });
        }
        let mut spec = FileSpec::default();
        for (name, keys) in &all {
            let Some(t) = table(root, name)? else {
                continue;
            };
            let mut t = t.clone();
            match keys {
                SectionKeys::Plain(keys) => {
                    check_keys(name, &t, None, keys, &[])?;
                    if *name == "equation"
                        && let Some(f) = t.get("fractal")
                    {
                        let Value::Table(f) = f else {
                            return Err(FfpeError::WrongType {
                                key: "equation.fractal".into(),
                                expected: "a table [equation.fractal]".into(),
                            });
                        };
                        check_keys("equation.fractal", f, None, fractal_keys(), &[])?;
                    }
                }
                SectionKeys::Kinds(kinds) => {
                    let (kind, keys) = kind_of(name, &t, kinds)?;
                    t.remove("kind");
                    let mut allowed = vec!["kind"];
                    allowed.extend_from_slice(keys);
                    let others: Vec<(&str, &[&str])> = kinds
                        .iter()
                        .filter(|(k, _)| *k != kind)
                        .map(|(k, f)| (*k, *f))
                        .collect();
                    check_keys(name, &t, Some(kind), &allowed, &others)?;
                    spec.set_kind(name, kind, t)?;
                    continue;
                }
            }
            match *name {
                "equation" => spec.equation = Some(section(name, t)?),
                "domain" => spec.domain = Some(section(name, t)?),
                "time" => spec.time = Some(section(name, t)?),
                "output" => spec.output = Some(section(name, t)?),
                _ => {}
            }
        }
        Ok(spec)
    }

    /// Deserializes a section with kinds (`t` without `kind`).
    fn set_kind(&mut self, name: &str, kind: &str, t: Table) -> Result<()> {
        match (name, kind) {
            ("potential", k) => {
                self.potential = Some(match k {
                    "quadratic" => PotentialSpec::Quadratic(section(name, t)?),
                    "double_well" => PotentialSpec::DoubleWell(section(name, t)?),
                    "power" => PotentialSpec::Power(section(name, t)?),
                    "normal_crossing" => PotentialSpec::NormalCrossing(section(name, t)?),
                    "product_square" => PotentialSpec::ProductSquare(section(name, t)?),
                    "tabulated" => PotentialSpec::Tabulated(section(name, t)?),
                    _ => PotentialSpec::Flat(section(name, t)?),
                })
            }
            ("initial", k) => {
                self.initial = Some(match k {
                    "point" => InitialSpec::Point(section(name, t)?),
                    "boltzmann" => InitialSpec::Boltzmann(section(name, t)?),
                    "tabulated" => InitialSpec::Tabulated(section(name, t)?),
                    _ => InitialSpec::Gaussian(section(name, t)?),
                })
            }
            (_, k) => {
                self.grid = Some(match k {
                    "sparse" => GridSection::Sparse(section(name, t)?),
                    _ => GridSection::Full(section(name, t)?),
                })
            }
        }
        Ok(())
    }
}
