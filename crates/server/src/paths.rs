//! The request paths the server answers (docs/server.md, "API"), parsed
//! strictly: one spelling per resource, so a cache or mirror never holds
//! two copies of a tile under two names, and anything else is a 404.

use tinledger_core::tiles::{TileId, TileKind};
use tinledger_core::{ActorId, LotId};

/// Longest path looked at; anything longer is a 404 without parsing.
pub const MAX_PATH: usize = 512;

/// Highest hash-tile level served: 256^6 leaves is beyond any ledger.
pub const MAX_SERVED_LEVEL: u8 = 5;

/// What a request path names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/checkpoint`.
    Checkpoint,
    /// `/tile/<L>/<N>[.p/<W>]` or `/tile/entries/<N>[.p/<W>]`.
    Tile(TileId),
    /// `/lot/<ID>`.
    Lot(LotId),
    /// `/actor/<ID>`.
    Actor(ActorId),
    /// `/submit`.
    Submit,
}

/// The route of `path` (the request target's path, without the query), or
/// `None` for anything the API does not name: `..`, empty or doubled
/// segments, percent-escapes, leading zeros, a level above 5, an index or
/// width out of range, ids that are not valid lot or actor ids.
pub fn route(path: &str) -> Option<Route> {
    if path.len() > MAX_PATH || !path.is_ascii() || path.contains("//") || path.contains('%') {
        return None;
    }
    let rest = path.strip_prefix('/')?;
    match rest {
        "checkpoint" => return Some(Route::Checkpoint),
        "submit" => return Some(Route::Submit),
        _ => {}
    }
    if rest.starts_with("tile/") {
        if rest.split('/').any(|seg| seg.is_empty() || seg == "." || seg == "..") {
            return None;
        }
        let id = TileId::parse(rest).ok()?;
        if level(&id).is_some_and(|l| l > MAX_SERVED_LEVEL) {
            return None;
        }
        // Parsing is canonical: the path must be the tile's one spelling.
        return (id.to_string() == rest).then_some(Route::Tile(id));
    }
    if let Some(id) = rest.strip_prefix("lot/") {
        return plain_id(id).and_then(|id| LotId::new(id).ok()).map(Route::Lot);
    }
    if let Some(id) = rest.strip_prefix("actor/") {
        return plain_id(id).and_then(|id| ActorId::new(id).ok()).map(Route::Actor);
    }
    None
}

fn plain_id(id: &str) -> Option<&str> {
    (!id.is_empty() && !id.contains('/') && id != "." && id != "..").then_some(id)
}

/// Whether the tile is a hash tile (level) or the entry bundle.
pub fn level(id: &TileId) -> Option<u8> {
    match id.kind {
        TileKind::Hash(l) => Some(l),
        TileKind::Entries => None,
    }
}

/// Whether partial tile `id` belongs to the tree of some size in `sizes`
/// (ascending checkpointed sizes): the right edge of level L of a tree of
/// S entries holds `S >> 8L` hashes, so the tile with index N and width W
/// exists for exactly the sizes S with `S >> 8L == 256 N + W`.
pub fn partial_is_checkpointed(id: &TileId, sizes: &std::collections::BTreeSet<u64>) -> bool {
    let shift = 8 * u32::from(level(id).unwrap_or(0));
    let h = u128::from(id.index) * 256 + u128::from(id.width);
    let lo = h << shift;
    let hi = (h + 1) << shift;
    let Ok(lo) = u64::try_from(lo) else { return false };
    let hi = u64::try_from(hi).unwrap_or(u64::MAX);
    sizes.range(lo..hi).next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_paths_parse_and_nothing_else_does() {
        assert_eq!(route("/checkpoint"), Some(Route::Checkpoint));
        assert_eq!(route("/submit"), Some(Route::Submit));
        let t = |p: &str| match route(p) {
            Some(Route::Tile(id)) => Some((level(&id), id.index, id.width)),
            _ => None,
        };
        assert_eq!(t("/tile/0/000"), Some((Some(0), 0, 256)));
        assert_eq!(t("/tile/1/x001/234.p/7"), Some((Some(1), 1234, 7)));
        assert_eq!(t("/tile/entries/067.p/255"), Some((None, 67, 255)));
        assert!(matches!(route("/lot/KOB-2026-0001"), Some(Route::Lot(_))));
        assert!(matches!(route("/actor/MINE-KOBA"), Some(Route::Actor(_))));
        for bad in [
            "",
            "/",
            "checkpoint",
            "/checkpoint/",
            "//checkpoint",
            "/tile/0/0",
            "/tile/0/0000",
            "/tile/00/000",
            "/tile/6/000",
            "/tile/0/x000/001",
            "/tile/0/000.p/0",
            "/tile/0/000.p/256",
            "/tile/0/000.p/07",
            "/tile/0/../000",
            "/tile/entries/./000",
            "/tile/entries/x999/x999/x999/x999/x999/x999/x999/999",
            "/tile/0/%30%30%30",
            "/tile//0/000",
            "/lot/",
            "/lot/..",
            "/lot/a/b",
            "/lot/%2e%2e",
            "/actor/",
            "/tile/0/x001/234.p/7/",
        ] {
            assert_eq!(route(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn partials_are_served_only_for_checkpointed_sizes() {
        let sizes: std::collections::BTreeSet<u64> = [70_000u64, 300].into_iter().collect();
        let p = |path: &str| match route(path) {
            Some(Route::Tile(id)) => partial_is_checkpointed(&id, &sizes),
            _ => panic!("{path}"),
        };
        // 70,000 = 273 * 256 + 112; level 1: 273 = 256 + 17; level 2: 1.
        assert!(p("/tile/0/273.p/112"));
        assert!(p("/tile/entries/273.p/112"));
        assert!(p("/tile/1/001.p/17"));
        assert!(p("/tile/2/000.p/1"));
        assert!(p("/tile/0/001.p/44"));
        assert!(!p("/tile/0/273.p/111"));
        assert!(!p("/tile/1/001.p/16"));
        assert!(!p("/tile/5/x999/x999/x999/999.p/255"));
    }

    #[test]
    fn the_fuzz_seeds_pass_the_fuzz_check() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/server_path");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap() {
            fuzzing::server_path(&std::fs::read(e.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n >= 4, "seeds in {}", dir.display());
        fuzzing::server_path(b"/tile/0/x001/234.p/7");
        fuzzing::server_path(&[&70_000u64.to_be_bytes()[..], b"/tile/1/001.p/17"].concat());
    }
}

/// The check behind the cargo-fuzz target `server_path` (docs/fuzzing.md):
/// never panics, and every accepted path is the one spelling of what it
/// names.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Input: a request path as UTF-8 if it starts with `/`; otherwise its
    /// first 8 bytes are a checkpointed size (u64 BE) and the rest the path. Asserts: a route is
    /// accepted only for a path that formats back to exactly itself (tiles,
    /// lots, actors: no resource has two names), never with `..`, `//` or
    /// `%`; a hash tile's level is at most 5; the partial check never
    /// panics and accepts a partial only where the size implies it.
    pub fn server_path(data: &[u8]) {
        let (size, rest) = match data.split_first_chunk::<8>() {
            Some((s, r)) if data.first() != Some(&b'/') => (Some(u64::from_be_bytes(*s)), r),
            _ => (None, data),
        };
        let Ok(path) = std::str::from_utf8(rest) else { return };
        let Some(r) = route(path) else { return };
        assert!(!path.contains("..") && !path.contains("//") && !path.contains('%'), "{path:?} accepted");
        let again = match &r {
            Route::Checkpoint => "/checkpoint".to_string(),
            Route::Submit => "/submit".to_string(),
            Route::Tile(id) => {
                assert!(level(id).is_none_or(|l| l <= MAX_SERVED_LEVEL));
                assert!((1..=256).contains(&id.width));
                if let Some(s) = size {
                    let sizes: std::collections::BTreeSet<u64> = [s].into_iter().collect();
                    let ok = partial_is_checkpointed(id, &sizes);
                    let h = s.checked_shr(8 * u32::from(level(id).unwrap_or(0))).unwrap_or(0);
                    let want = !id.is_full() && h == id.index.saturating_mul(256).saturating_add(u64::from(id.width));
                    if !id.is_full() && id.index < (1 << 48) {
                        assert_eq!(ok, want, "{path:?} for size {s}");
                    }
                }
                format!("/{id}")
            }
            Route::Lot(id) => format!("/lot/{id}"),
            Route::Actor(id) => format!("/actor/{id}"),
        };
        assert_eq!(again, path, "a path that is not canonical was accepted");
    }
}
