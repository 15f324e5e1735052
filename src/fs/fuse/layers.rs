//! How the layers stack up (pure): which layer a name comes from, which
//! layers a directory merges, and the merged listing of a directory. The
//! on-disk format is the kernel overlay's: a whiteout is a 0/0 character
//! device, an opaque directory carries the `overlay.opaque` xattr.

use std::collections::HashSet;
use std::ffi::OsString;

/// What one layer holds at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe<M> {
    Missing,
    /// A whiteout: the name is deleted from every layer below.
    Whiteout,
    /// A directory; an opaque one hides the same directory in lower layers.
    Dir {
        opaque: bool,
        meta: M,
    },
    /// Anything else (file, symlink, fifo, …): hides every layer below.
    Other {
        meta: M,
    },
}

/// Where a visible entry lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<M> {
    /// The topmost layer holding the entry (0 = the upper layer).
    pub layer: usize,
    pub meta: M,
    /// For a directory: the layers whose copies are merged, top first.
    pub dir_layers: Vec<usize>,
}

/// Resolves a name through `layers` (top first; for a child, the parent's
/// merged layers), asking `probe` only as far down as needed. `probe` is
/// told whether layers below follow: only then can a directory's opacity
/// matter (the bottom layer's need not be read).
pub fn resolve<M>(
    layers: &[usize],
    mut probe: impl FnMut(usize, bool) -> Probe<M>,
) -> Option<Resolved<M>> {
    let mut found: Option<Resolved<M>> = None;
    for (i, &layer) in layers.iter().enumerate() {
        match probe(layer, i + 1 < layers.len()) {
            Probe::Missing => continue,
            Probe::Whiteout => break,
            Probe::Other { meta } => {
                if found.is_none() {
                    found = Some(Resolved {
                        layer,
                        meta,
                        dir_layers: Vec::new(),
                    });
                }
                break;
            }
            Probe::Dir { opaque, meta } => {
                let resolved = found.get_or_insert(Resolved {
                    layer,
                    meta,
                    dir_layers: Vec::new(),
                });
                resolved.dir_layers.push(layer);
                if opaque {
                    break;
                }
            }
        }
    }
    found
}

/// One entry of a layer's directory listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed<K> {
    Whiteout,
    Entry(K),
}

/// Merges the listings of a directory's layers (top first): the topmost
/// entry of a name wins, whiteouts hide lower entries and are not shown,
/// every name appears once.
pub fn merge<K: Copy>(listings: Vec<Vec<(OsString, Listed<K>)>>) -> Vec<(OsString, K)> {
    let mut seen: HashSet<OsString> = HashSet::new();
    let mut out = Vec::new();
    for listing in listings {
        for (name, entry) in listing {
            if seen.contains(&name) {
                continue;
            }
            seen.insert(name.clone());
            if let Listed::Entry(kind) = entry {
                out.push((name, kind));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probes(list: Vec<Probe<u8>>) -> impl FnMut(usize, bool) -> Probe<u8> {
        move |layer, _| list[layer].clone()
    }

    #[test]
    fn upper_file_hides_lower() {
        let r = resolve(
            &[0, 1],
            probes(vec![Probe::Other { meta: 0 }, Probe::Other { meta: 1 }]),
        )
        .unwrap();
        assert_eq!((r.layer, r.meta), (0, 0));
        assert!(r.dir_layers.is_empty());
    }

    #[test]
    fn lookup_falls_through_missing_layers() {
        let r = resolve(
            &[0, 1, 2],
            probes(vec![
                Probe::Missing,
                Probe::Missing,
                Probe::Other { meta: 2 },
            ]),
        )
        .unwrap();
        assert_eq!(r.layer, 2);
    }

    #[test]
    fn whiteout_hides_lower_layers() {
        let r = resolve(
            &[0, 1],
            probes(vec![Probe::Whiteout, Probe::Other { meta: 1 }]),
        );
        assert_eq!(r, None);
    }

    #[test]
    fn directories_merge_until_an_opaque_one() {
        let dir = |opaque, meta| Probe::Dir { opaque, meta };
        let r = resolve(
            &[0, 1, 2, 3],
            probes(vec![
                dir(false, 0),
                dir(true, 1),
                dir(false, 2),
                dir(false, 3),
            ]),
        )
        .unwrap();
        assert_eq!((r.layer, r.dir_layers), (0, vec![0, 1]));
        // A file below a directory ends the merge.
        let r = resolve(
            &[0, 1, 2],
            probes(vec![dir(false, 0), Probe::Other { meta: 1 }, dir(false, 2)]),
        )
        .unwrap();
        assert_eq!(r.dir_layers, vec![0]);
    }

    #[test]
    fn merged_listing_has_no_duplicates_and_no_whiteouts() {
        let n = |s: &str| OsString::from(s);
        let merged = merge(vec![
            vec![(n("a"), Listed::Entry('u')), (n("gone"), Listed::Whiteout)],
            vec![
                (n("a"), Listed::Entry('l')),
                (n("gone"), Listed::Entry('l')),
                (n("b"), Listed::Entry('l')),
            ],
        ]);
        assert_eq!(merged, vec![(n("a"), 'u'), (n("b"), 'l')]);
    }

    #[test]
    fn opacity_is_asked_only_with_layers_below() {
        let mut asked = Vec::new();
        let r = resolve(&[0, 2, 3], |layer, below| {
            asked.push((layer, below));
            Probe::Dir {
                opaque: false,
                meta: layer,
            }
        })
        .unwrap();
        assert_eq!(r.dir_layers, vec![0, 2, 3]);
        assert_eq!(asked, vec![(0, true), (2, true), (3, false)]);
    }
}
