//! What strip-mined loops (`strip`) and chunked iterator chains
//! (`chunked`) share: the number of items between two checkpoints, and the
//! value each probes to choose, from a type, how to cut it into chunks.

/// Items (iterations of a strip-mined loop; items of a chunked chain, or
/// bytes for `Chars`) between two checkpoints. A straight-line body costs
/// nanoseconds per item, so a chunk delays a kill by microseconds while the
/// check's cost per item vanishes (`cargo bench --bench perf -- kernels`
/// measures both).
pub const CHUNK: usize = 1024;

/// The value `chunked!` and `strip!` probe: a reference to the source, behind
/// as many `&` as their dispatch traits have impls. Method resolution tries
/// the receiver with every reference, then each dereference, and so picks the
/// impl with the most references that the source's type satisfies
/// (autoref-based specialization: no unstable feature, and in generic code,
/// where the type is a parameter, the least specific impl).
#[derive(Debug)]
pub struct Probe<'a, T>(pub &'a T);
