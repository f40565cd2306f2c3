//! The benchmark's page set ([`rusty_fixtures::page_set`]) as the
//! [`Content`] that Rusty's HTTP apps serve and expect.
//!
//! * [`Fixtures`] — all 500 pages, page `i` at `/i.htm`;
//! * [`FixtureSubset`] — the pages below a size, renumbered `0..count()`
//!   (to bound the bytes a test moves while keeping the real page bytes).
//!
//! Both hand out pages with their prefix-sum tables, so Rusty's server
//! checksums body segments from the tables.

use rusty_apps::{Content, Page};
use rusty_fixtures::PageSet;

/// All the benchmark's pages; page `i` is served at `/i.htm`.
#[derive(Clone, Copy, Debug)]
pub struct Fixtures(pub &'static PageSet);

impl Fixtures {
    /// The shared page set (generated on first use).
    pub fn all() -> Self {
        Fixtures(rusty_fixtures::page_set())
    }
}

impl Content for Fixtures {
    fn count(&self) -> usize {
        self.0.pages().len()
    }

    fn page(&self, index: usize) -> Option<Page<'static>> {
        let page = self.0.get(index)?;
        Some(Page::with_sums(&page.body, &page.sums))
    }
}

/// The pages of a [`PageSet`] below a size, in page order, renumbered:
/// page `i` of the subset (served at `/i.htm`) is the `i`-th page of the
/// set smaller than the bound.
#[derive(Clone, Debug)]
pub struct FixtureSubset {
    set: &'static PageSet,
    indices: Vec<usize>,
}

impl FixtureSubset {
    /// The pages of the shared set smaller than `max_bytes`.
    pub fn smaller_than(max_bytes: usize) -> Self {
        let set = rusty_fixtures::page_set();
        let indices = set
            .pages()
            .iter()
            .filter(|p| p.body.len() < max_bytes)
            .map(|p| p.index)
            .collect();
        FixtureSubset { set, indices }
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
        Fixtures(self.set).page(self.set_index(index)?)
    }
}
