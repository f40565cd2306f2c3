//! A subset of the benchmark's page set as the [`Content`] that Rusty's
//! HTTP apps serve and expect; the whole set is
//! [`rusty_fixtures::PageContent`].
//!
//! [`FixtureSubset`] holds the pages below a size, renumbered
//! `0..count()` (to bound the bytes a test moves while keeping the real
//! page bytes), with their prefix-sum tables, so Rusty's server checksums
//! body segments from the tables.

use rusty_apps::{Content, Page};
use rusty_fixtures::PageContent;

/// The pages of the shared page set below a size, in page order,
/// renumbered: page `i` of the subset (served at `/i.htm`) is the `i`-th
/// page of the set smaller than the bound.
#[derive(Clone, Debug)]
pub struct FixtureSubset {
    all: PageContent,
    indices: Vec<usize>,
}

impl FixtureSubset {
    /// The pages of the shared set smaller than `max_bytes`.
    pub fn smaller_than(max_bytes: usize) -> Self {
        let all = PageContent::all();
        let indices = all
            .0
            .pages()
            .iter()
            .filter(|p| p.body.len() < max_bytes)
            .map(|p| p.index)
            .collect();
        FixtureSubset { all, indices }
    }

    /// The index in the whole set of page `index` of the subset.
    pub fn set_index(&self, index: usize) -> Option<usize> {
        self.indices.get(index).copied()
    }
}

impl Content for FixtureSubset {
    fn count(&self) -> usize {
        self.indices.len()
    }

    fn page(&self, index: usize) -> Option<Page<'static>> {
        self.all.page(self.set_index(index)?)
    }
}
