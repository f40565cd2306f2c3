//! Splitting a long command across machines: shard `I/N` runs the items
//! whose index is `I` modulo `N` (`rusty-sim swarm`'s seeds, `rusty-sim
//! scale`'s points), under any batch scheduler.
//!
//! The shard comes from `--shard I/N` ([`parse_shard`]), or else from the
//! environment ([`shard_from_env`]): a Slurm array task
//! (`SLURM_ARRAY_TASK_ID`, less `SLURM_ARRAY_TASK_MIN`, of
//! `SLURM_ARRAY_TASK_COUNT`) or a Kubernetes indexed job
//! (`JOB_COMPLETION_INDEX`, of the shard count in a variable the command
//! names: [`SHARDS_VAR`] for every command, and [`SWARM_SHARDS_VAR`] too
//! for swarm, its older name).
//!
//! ```
//! use rusty_sim::run::shard;
//!
//! assert_eq!(shard::parse_shard("1/3"), Ok((1, 3)));
//! let mine: Vec<u64> = shard::shard_indices(7, 1, 3).collect();
//! assert_eq!(mine, [1, 4]);
//! let env = |k: &str| match k {
//!     "JOB_COMPLETION_INDEX" => Some("2".to_string()),
//!     "RUSTY_SHARDS" => Some("4".to_string()),
//!     _ => None,
//! };
//! assert_eq!(shard::shard_from_env(env, &[shard::SHARDS_VAR]), Some((2, 4)));
//! ```

/// The environment variable giving the shard count of a Kubernetes
/// indexed job (with `JOB_COMPLETION_INDEX`), for every command.
pub const SHARDS_VAR: &str = "RUSTY_SHARDS";

/// `rusty-sim swarm`'s own name for [`SHARDS_VAR`] (still read).
pub const SWARM_SHARDS_VAR: &str = "RUSTY_SWARM_SHARDS";

/// Parses `I/N` with `0 <= I < N`.
pub fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}`: expected I/N"))?;
    let i: u64 = i
        .trim()
        .parse()
        .map_err(|_| format!("`{i}` is not a shard index"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a shard count"))?;
    if n == 0 || i >= n {
        return Err(format!("shard {i}/{n}: need 0 <= I < N"));
    }
    Ok((i, n))
}

/// The indices of `0..count` that shard `index` of `of` runs: those equal
/// to `index` modulo `of` (all of them when `of <= 1`). The shards of one
/// `of` together run every index exactly once.
pub fn shard_indices(count: u64, index: u64, of: u64) -> impl Iterator<Item = u64> {
    (0..count).filter(move |i| of <= 1 || i % of == index)
}

/// The shard `(index, of)` from the environment (`get` reads a variable):
/// a Slurm array task (`SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN`,
/// of `SLURM_ARRAY_TASK_COUNT`), else a Kubernetes indexed job
/// (`JOB_COMPLETION_INDEX` of the first of `count_vars` that is set), if
/// any. An index outside `0..of` is no shard.
pub fn shard_from_env(
    get: impl Fn(&str) -> Option<String>,
    count_vars: &[&str],
) -> Option<(u64, u64)> {
    let num = |k: &str| get(k).and_then(|v| v.trim().parse::<u64>().ok());
    if let (Some(i), Some(n)) = (num("SLURM_ARRAY_TASK_ID"), num("SLURM_ARRAY_TASK_COUNT")) {
        let min = num("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
        let i = i.saturating_sub(min);
        return (n > 0 && i < n).then_some((i, n));
    }
    let i = num("JOB_COMPLETION_INDEX")?;
    let n = count_vars.iter().find_map(|k| num(k))?;
    (n > 0 && i < n).then_some((i, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_index_once() {
        let mut all: Vec<u64> = (0..3).flat_map(|i| shard_indices(10, i, 3)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(shard_indices(4, 0, 1).count(), 4);
        assert_eq!(shard_indices(2, 3, 5).count(), 0);
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("0/1"), Ok((0, 1)));
        for bad in ["1/1", "0/0", "a/2", "1", "1/b", "-1/2"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn environments() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let vars = [SHARDS_VAR, SWARM_SHARDS_VAR];
        assert_eq!(
            shard_from_env(
                env(&[("JOB_COMPLETION_INDEX", "1"), ("RUSTY_SWARM_SHARDS", "3")]),
                &vars
            ),
            Some((1, 3))
        );
        assert_eq!(
            shard_from_env(
                env(&[("JOB_COMPLETION_INDEX", "1"), ("RUSTY_SWARM_SHARDS", "3")]),
                &[SHARDS_VAR]
            ),
            None
        );
        assert_eq!(
            shard_from_env(
                env(&[("JOB_COMPLETION_INDEX", "4"), ("RUSTY_SHARDS", "3")]),
                &vars
            ),
            None
        );
        assert_eq!(
            shard_from_env(
                env(&[
                    ("SLURM_ARRAY_TASK_ID", "9"),
                    ("SLURM_ARRAY_TASK_COUNT", "8")
                ]),
                &vars
            ),
            None
        );
    }
}
